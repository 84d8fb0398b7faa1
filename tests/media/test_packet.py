from __future__ import annotations

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.packet import parse_rtp

MID, ABS, LEVEL = 1, 3, 2


def extension_map() -> HeaderExtensionsMap:
    ids = {
        MID: "urn:ietf:params:rtp-hdrext:sdes:mid",
        ABS: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        LEVEL: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    }
    params = RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for i, u in ids.items()]
    )
    result = HeaderExtensionsMap()
    result.configure(params)
    return result


@pytest.mark.parametrize("with_extensions", [False, True])
@pytest.mark.parametrize("padding", [0, 7])
def test_matches_aiortc_parse(with_extensions: bool, padding: int) -> None:
    ext = extension_map()
    packet = RtpPacket(
        payload_type=111, marker=1, sequence_number=65535, timestamp=4_000_000_000, ssrc=7
    )
    packet.payload = b"opus payload"
    packet.padding_size = padding
    if with_extensions:
        packet.extensions.mid = "12"
        packet.extensions.abs_send_time = 0x123456
        packet.extensions.audio_level = (True, 42)
    data = packet.serialize(ext)
    ours = parse_rtp(data, ABS, LEVEL)
    theirs = RtpPacket.parse(data, ext)
    for field in ("payload_type", "marker", "sequence_number", "timestamp", "ssrc", "payload"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.padding_size == theirs.padding_size
    assert ours.extensions.abs_send_time == theirs.extensions.abs_send_time
    assert ours.extensions.audio_level == theirs.extensions.audio_level
    assert parse_rtp(data).extensions.abs_send_time is None  # ids not asked for: skipped


def test_csrc_and_errors() -> None:
    packet = RtpPacket(payload_type=96, sequence_number=1, ssrc=2, payload=b"x")
    packet.csrc = [10, 11]
    assert parse_rtp(packet.serialize()).payload == b"x"
    with pytest.raises(ValueError):
        parse_rtp(b"\x80" * 11)
    with pytest.raises(ValueError):
        parse_rtp(b"\x40" + b"\x00" * 11)  # version 1
    with pytest.raises(ValueError):
        parse_rtp(b"\x90" + b"\x00" * 11 + b"\xbe\xde\x00\x05")  # extension overruns
    with pytest.raises(ValueError):
        parse_rtp(b"\xa0" + b"\x00" * 11 + b"\x20")  # padding longer than the packet
