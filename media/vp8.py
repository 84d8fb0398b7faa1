"""VP8 RTP payload inspection (RFC 7741) without decoding.

The forwarder only needs two facts about a VP8 packet: where the VP8 payload starts behind the
payload descriptor, and whether the packet begins a keyframe. Both are read from a few bytes,
so a cut-over can wait for a keyframe at no measurable cost.
"""

from __future__ import annotations


def vp8_descriptor_size(payload: bytes) -> int:
    """Length of the VP8 payload descriptor at the start of `payload`, or -1 if truncated."""
    n = len(payload)
    if n < 1:
        return -1
    first = payload[0]
    if not first & 0x80:  # X: no extension byte
        return 1
    if n < 2:
        return -1
    ext = payload[1]
    size = 2
    if ext & 0x80:  # I: picture id, 7 or 15 bits (M flag)
        if n < size + 1:
            return -1
        size += 2 if payload[size] & 0x80 else 1
    if ext & 0x40:  # L: TL0PICIDX
        size += 1
    if ext & 0x30:  # T or K: TID/Y/KEYIDX share one byte
        size += 1
    return size if size <= n else -1


def is_vp8_keyframe(payload: bytes) -> bool:
    """True if this packet starts a VP8 keyframe.

    A keyframe starts in the packet whose descriptor has S=1 and partition index 0; the first
    bit of the VP8 frame tag that follows is 0 for a key (intra) frame.
    """
    # Cheap rejection first: most packets continue a frame (S=0) and this runs on all of them.
    if not payload or (payload[0] & 0x1F) != 0x10:
        return False
    size = vp8_descriptor_size(payload)
    if size < 0 or size >= len(payload):
        return False
    return not (payload[size] & 0x01)


def vp8_keyframe_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) from the keyframe header that starts this packet, else None.

    Lets a receiver tell which source a slot carries (each synthetic source publishes its own
    size) without decoding anything.
    """
    if not is_vp8_keyframe(payload):
        return None
    start = vp8_descriptor_size(payload)
    header = payload[start : start + 10]
    # 3-byte frame tag, 3-byte start code, then 14-bit width and height (2 scaling bits each).
    if len(header) < 10 or header[3:6] != b"\x9d\x01\x2a":
        return None
    width = (header[6] | (header[7] << 8)) & 0x3FFF
    height = (header[8] | (header[9] << 8)) & 0x3FFF
    return width, height


def strip_vp8_descriptor(payload: bytes) -> bytes:
    """The VP8 bytes carried by one packet (descriptor removed)."""
    size = vp8_descriptor_size(payload)
    if size < 0:
        raise ValueError("truncated VP8 payload descriptor")
    return payload[size:]


def vp8_packetize(frame: bytes, picture_id: int, max_size: int = 1300) -> list[bytes]:
    """Split one VP8 frame into RTP payloads (like aiortc: 15-bit picture id, even split).

    Every payload carries a descriptor with X=1, I=1 and the picture id; the first has S=1.
    """
    pid = bytes((0x80 | ((picture_id >> 8) & 0x7F), picture_id & 0xFF))
    first = b"\x90\x80" + pid
    rest = b"\x80\x80" + pid
    room = max_size - len(first)
    payloads = []
    for pos in range(0, len(frame), room):
        payloads.append((rest if pos else first) + frame[pos : pos + room])
    return payloads


def vp8_picture_fields(payload: bytes) -> tuple[int, int, int, int, int] | None:
    """Where the picture id and TL0PICIDX sit in this packet's descriptor, and their values.

    (picture id offset, picture id bits (7, 15 or 0 if absent), picture id, TL0PICIDX offset
    (0 if absent), TL0PICIDX); None when the descriptor has neither (or is truncated).
    """
    if len(payload) < 3 or not payload[0] & 0x80:
        return None
    ext = payload[1]
    pos = 2
    pid_pos = pid_bits = pid = 0
    if ext & 0x80:
        pid_pos = pos
        if payload[pos] & 0x80:
            if pos + 1 >= len(payload):
                return None  # truncated: a broken or hostile descriptor
            pid_bits = 15
            pid = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
            pos += 2
        else:
            pid_bits = 7
            pid = payload[pos]
            pos += 1
    tl0_pos = tl0 = 0
    if ext & 0x40:
        if pos >= len(payload):
            return None
        tl0_pos = pos
        tl0 = payload[pos]
    if not pid_bits and not tl0_pos:
        return None
    return pid_pos, pid_bits, pid, tl0_pos, tl0


def rewrite_vp8_picture(
    payload: bytes, fields: tuple[int, int, int, int, int], pid_delta: int, tl0_delta: int
) -> bytes:
    """The payload with picture id and TL0PICIDX moved by the deltas (same field widths)."""
    pid_pos, pid_bits, pid, tl0_pos, tl0 = fields
    data = bytearray(payload)
    if pid_bits == 15:
        value = (pid + pid_delta) & 0x7FFF
        data[pid_pos] = 0x80 | (value >> 8)
        data[pid_pos + 1] = value & 0xFF
    elif pid_bits == 7:
        data[pid_pos] = (pid + pid_delta) & 0x7F
    if tl0_pos:
        data[tl0_pos] = (tl0 + tl0_delta) & 0xFF
    return bytes(data)
