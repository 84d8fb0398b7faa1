"""An offer checked before the SFU creates anything for it (pure).

aiortc accepts some offers it cannot serve and fails later, in a task of its own nobody awaits:
an offer without a DTLS fingerprint is answered, then `RTCDtlsTransport.start` asserts once
ICE connects ("Task exception was never retrieved"). Its SDP parser also raises whatever the
line at fault provokes (AssertionError, KeyError, StopIteration...). `check_offer` turns all of
that into one ValueError naming the problem, before a peer connection exists.
"""

from __future__ import annotations

import re

from aiortc.rtcdtlstransport import X509_DIGEST_ALGORITHMS
from aiortc.sdp import SessionDescription

MEDIA_KINDS = ("audio", "video")
MAX_SLOT_PAIRS = 16
MAX_MEDIA_SECTIONS = 2 + 2 * MAX_SLOT_PAIRS
"""Your own audio and video, then up to 16 receive pairs."""
DTLS_ROLES = ("auto", "client", "server")  # a=setup: actpass, active, passive
MAX_CANDIDATES = 64
"""Distinct remote addresses one peer connection will check: the server sends STUN to each,
so a longer list would make it probe addresses on a stranger's behalf."""
# RFC 8839: ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4-256 characters, pwd 22-256.
_ICE_UFRAG = re.compile(r"[A-Za-z0-9+/]{4,256}")
_ICE_PWD = re.compile(r"[A-Za-z0-9+/]{22,256}")


def parse_offer(sdp: str) -> SessionDescription:
    try:
        return SessionDescription.parse(sdp)
    except Exception as exc:  # the parser raises whatever a malformed line provokes
        raise ValueError(f"the offer is not valid SDP ({type(exc).__name__})") from None


UPLINK_DIRECTIONS: tuple[str, ...] = ("sendonly", "sendrecv")
SLOT_DIRECTIONS: tuple[str, ...] = ("recvonly",)


def check_layout(offer: SessionDescription, slots: int) -> None:
    """Raise ValueError unless the m-lines are the protocol's: own audio, own video (the client
    sends: `sendonly` or `sendrecv`), then `slots` pairs of `recvonly` audio + video.

    The SFU alone would serve other shapes (a viewer without uplink, in tests and benches); a
    client of the live rooms may not, so a refusal says exactly which m-line is wrong instead
    of a room where someone silently cannot be seen.
    """
    if not 0 <= slots <= MAX_SLOT_PAIRS:
        raise ValueError(f"slots must be between 0 and {MAX_SLOT_PAIRS}")
    expected = [("audio", UPLINK_DIRECTIONS), ("video", UPLINK_DIRECTIONS)]
    expected += [("audio", SLOT_DIRECTIONS), ("video", SLOT_DIRECTIONS)] * slots
    if len(offer.media) != len(expected):
        raise ValueError(
            f"the offer has {len(offer.media)} media sections; slots={slots} needs "
            f"{len(expected)} (own audio and video, then {slots} audio+video pairs)"
        )
    for index, (media, (kind, directions)) in enumerate(zip(offer.media, expected, strict=True)):
        role = "your own " + kind if index < 2 else f"slot {(index - 2) // 2} {kind}"
        if media.kind != kind:
            raise ValueError(f"media section {index} is {media.kind}: expected {role}")
        direction = media.direction or "sendrecv"  # RFC 8866: no attribute means sendrecv
        if direction not in directions:
            raise ValueError(
                f"media section {index} ({role}) is {direction}: expected {' or '.join(directions)}"
            )


def check_offer(sdp: str, slots: int | None = None) -> SessionDescription:
    """Raise ValueError unless every m-line of `sdp` can become a transceiver of ours, and,
    when `slots` is given, unless they are laid out as `check_layout` says."""
    offer = parse_offer(sdp)
    if not offer.media:
        raise ValueError("the offer has no media sections")
    if len(offer.media) > MAX_MEDIA_SECTIONS:
        raise ValueError(f"the offer has more than {MAX_MEDIA_SECTIONS} media sections")
    for index, media in enumerate(offer.media):
        where = f"media section {index}"
        if media.kind not in MEDIA_KINDS:
            raise ValueError(f"{where} is {media.kind!r}: only audio and video are served")
        ufrag = media.ice.usernameFragment if media.ice else None
        pwd = media.ice.password if media.ice else None
        if not ufrag or not pwd:
            raise ValueError(f"{where} has no ICE ufrag or password")
        if not _ICE_UFRAG.fullmatch(ufrag) or not _ICE_PWD.fullmatch(pwd):
            raise ValueError(f"{where} has a malformed ICE ufrag or password")
        dtls = media.dtls
        if dtls is None or dtls.role not in DTLS_ROLES:
            raise ValueError(f"{where} has no DTLS setup (a=setup)")
        if not any(f.algorithm.lower() in X509_DIGEST_ALGORITHMS for f in dtls.fingerprints):
            raise ValueError(
                f"{where} has no DTLS fingerprint ({', '.join(X509_DIGEST_ALGORITHMS)})"
            )
        if not media.rtcp_mux:
            raise ValueError(f"{where} does not multiplex RTCP (a=rtcp-mux)")
    addresses = {(c.ip, c.port, c.protocol) for m in offer.media for c in m.ice_candidates}
    if len(addresses) > MAX_CANDIDATES:
        raise ValueError(f"the offer has more than {MAX_CANDIDATES} ICE candidates")
    if slots is not None:
        check_layout(offer, slots)
    return offer
