"""Transport-wide congestion control in the SDP text (pure).

aiortc knows neither the transport-cc header extension nor its feedback, so, as for simulcast
(`media.simulcast`), the SFU works on the SDP text: it reads the extension id an offer gives
`TRANSPORT_CC_URI` and writes the acceptance into the answer. A publisher that negotiated it
stamps a transport-wide sequence number on every packet and runs its own (send-side)
bandwidth estimate from the feedback we return (built and sent in C: media/fastpath/
dp_feedback.c), the way browsers prefer: no receive-side estimate with its
1.5x-what-arrives cap, and no per-packet estimator in Python.
"""

from __future__ import annotations

import re

from .simulcast import sdp_sections

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
_EXTMAP = re.compile(r"^a=extmap:(\d+)(?:/\w+)? (\S+)")


def offered_transport_cc(offer_sdp: str) -> int:
    """The extension id the offer gives transport-cc, 0 if none (or if it is unusable: not a
    one-byte id, or different ids under one bundle)."""
    ids = set()
    for line in offer_sdp.splitlines():
        match = _EXTMAP.match(line)
        if match and match.group(2) == TRANSPORT_CC_URI:
            ids.add(int(match.group(1)))
    if len(ids) != 1:
        return 0
    ext_id = ids.pop()
    return ext_id if 1 <= ext_id <= 14 else 0


def _with_transport_cc(sdp: str, ext_id: int) -> str:
    """Every audio and video m-section with the extension and its feedback for each format."""
    out: list[str] = []
    for lines in sdp_sections(sdp):
        out.extend(lines)
        if not lines or not lines[0].startswith(("m=audio", "m=video")):
            continue
        if any(_EXTMAP.match(line) and TRANSPORT_CC_URI in line for line in lines):
            continue
        out.append(f"a=extmap:{ext_id} {TRANSPORT_CC_URI}")
        for payload_type in lines[0].split()[3:]:
            out.append(f"a=rtcp-fb:{payload_type} transport-cc")
    return "\r\n".join(out) + "\r\n"


def accept_transport_cc(answer_sdp: str, ext_id: int) -> str:
    """The answer, accepting transport-cc with the offer's id (unchanged if `ext_id` is 0)."""
    return _with_transport_cc(answer_sdp, ext_id) if ext_id else answer_sdp


def offer_transport_cc(offer_sdp: str, ext_id: int) -> str:
    """An offer asking for transport-cc (bots: they stamp the numbers themselves)."""
    used = {int(m.group(1)) for line in offer_sdp.splitlines() if (m := _EXTMAP.match(line))}
    if ext_id in used:
        raise ValueError(f"extension id {ext_id} is taken")
    return _with_transport_cc(offer_sdp, ext_id)


def free_extension_id(sdp: str) -> int:
    """The lowest one-byte extension id the SDP does not use yet."""
    used = {int(m.group(1)) for line in sdp.splitlines() if (m := _EXTMAP.match(line))}
    free = [ext_id for ext_id in range(1, 15) if ext_id not in used]
    if not free:
        raise ValueError("no extension id left")
    return free[0]
