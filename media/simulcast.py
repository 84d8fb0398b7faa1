"""Simulcast in the SDP: what a publisher offers, and the lines our answer must carry.

aiortc knows nothing of RFC 8853 simulcast: it ignores `a=rid` and `a=simulcast` in an offer and
keeps only the header extensions it implements. A browser sends its layers only if the answer
accepts them, so the SFU reads the offer's layers here and writes the acceptance into the
answer text (`a=rid:… recv`, `a=simulcast:recv …` and the two stream-id extensions). The layers
then arrive as separate SSRCs, each named by the rtp-stream-id extension on its first packets.

Pure functions on SDP text, tested directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
MAX_LAYERS = 3
_RID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# Layer names in the order of quality, lowest first, as the common clients spell them.
_KNOWN_ORDERS = (("q", "h", "f"), ("l", "m", "h"), ("low", "mid", "high"), ("0", "1", "2"))


@dataclass(frozen=True)
class SimulcastOffer:
    """One m-line's simulcast: its mid, layer names lowest quality first, extension ids."""

    mid: str
    rids: tuple[str, ...]
    rid_id: int
    repaired_rid_id: int


def layer_order(rids: list[str]) -> tuple[str, ...]:
    """The layers lowest quality first.

    Names the common clients use (q/h/f, l/m/h, low/mid/high) are ordered by meaning; other
    names keep the offer's order, which by convention lists the lowest first.
    """
    for order in _KNOWN_ORDERS:
        if set(rids) <= set(order):
            return tuple(r for r in order if r in rids)
    return tuple(rids)


def sdp_sections(sdp: str) -> list[list[str]]:
    """The SDP split into the session part and one list of lines per m-section."""
    parts: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts.append([])
        parts[-1].append(line)
    return parts


def parse_simulcast(offer_sdp: str) -> dict[str, SimulcastOffer]:
    """mid -> the simulcast a video m-line offers to send (only m-lines that really do).

    An m-line counts as simulcast when it lists two or more valid send rids in
    `a=simulcast:send`, declares each with `a=rid:<name> send`, and negotiates the
    rtp-stream-id extension; anything less is a single stream. Alternatives (`a,b`) take the
    first; paused layers (`~name`) are left out; at most three layers are kept.
    """
    found: dict[str, SimulcastOffer] = {}
    for lines in sdp_sections(offer_sdp)[1:]:
        if not lines[0].startswith("m=video"):
            continue
        mid = ""
        declared: set[str] = set()
        listed: list[str] = []
        ext_ids: dict[str, int] = {}
        for line in lines:
            if line.startswith("a=mid:"):
                mid = line[6:].strip()
            elif line.startswith("a=rid:"):
                fields = line[6:].split()
                if len(fields) >= 2 and fields[1] == "send":
                    declared.add(fields[0])
            elif line.startswith("a=simulcast:"):
                fields = line[12:].split()
                if len(fields) >= 2 and fields[0] == "send":
                    for choice in fields[1].split(";"):
                        name = choice.split(",")[0]
                        if name and not name.startswith("~"):
                            listed.append(name)
            elif line.startswith("a=extmap:"):
                fields = line[9:].split()
                if len(fields) >= 2:
                    ext_id = fields[0].split("/")[0]
                    if ext_id.isdigit():
                        ext_ids[fields[1]] = int(ext_id)
        rids = [r for r in dict.fromkeys(listed) if r in declared and _RID_NAME.match(r)]
        rid_id = ext_ids.get(RID_URI, 0)
        if len(rids) < 2 or not mid or not 1 <= rid_id <= 14:
            continue
        repaired = ext_ids.get(REPAIRED_RID_URI, 0)
        found[mid] = SimulcastOffer(
            mid=mid,
            rids=layer_order(rids)[:MAX_LAYERS],
            rid_id=rid_id,
            repaired_rid_id=repaired if 1 <= repaired <= 14 else 0,
        )
    return found


def accept_simulcast(answer_sdp: str, offers: dict[str, SimulcastOffer]) -> str:
    """The answer with each offered simulcast accepted on its m-line (matched by mid)."""
    if not offers:
        return answer_sdp
    out: list[str] = []
    for lines in sdp_sections(answer_sdp):
        mid = next((line[6:].strip() for line in lines if line.startswith("a=mid:")), None)
        offer = offers.get(mid) if mid is not None else None
        out.extend(lines)
        if offer is None or not lines[0].startswith("m=video"):
            continue
        out.append(f"a=extmap:{offer.rid_id} {RID_URI}")
        if offer.repaired_rid_id:
            out.append(f"a=extmap:{offer.repaired_rid_id} {REPAIRED_RID_URI}")
        out.extend(f"a=rid:{rid} recv" for rid in offer.rids)
        out.append("a=simulcast:recv " + ";".join(offer.rids))
    return "\r\n".join(out) + "\r\n"


def offer_simulcast(offer_sdp: str, mid: str, rids: tuple[str, ...], rid_id: int) -> str:
    """A client's offer with `rids` sent on m-line `mid` (the bots: aiortc offers no simulcast)."""
    out: list[str] = []
    for lines in sdp_sections(offer_sdp):
        out.extend(lines)
        if any(line == f"a=mid:{mid}" for line in lines):
            out.append(f"a=extmap:{rid_id} {RID_URI}")
            out.extend(f"a=rid:{rid} send" for rid in rids)
            out.append("a=simulcast:send " + ";".join(rids))
    return "\r\n".join(out) + "\r\n"
