"""A published stream (`Source`) and, for simulcast video, its layers.

A source is one participant's audio or video uplink. Video sent with simulcast arrives as up to
three RTP streams (layers, lowest quality first), each with its own SSRC, sequence numbers and
keyframes; every receive slot forwards one layer of it at a time (`media.forwarder.OutSlot`).
Everything per layer lives in `Layer`: which SSRC carries it, when it last sent, its bitrate,
and the keyframe-request throttle.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from .fastpath._datapath import LayerCore, SourceCore

if TYPE_CHECKING:
    from aiortc.rtp import RtpPacket

    from .forwarder import OutSlot

logger = logging.getLogger(__name__)

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
WIRE_OVERHEAD = 40
"""Bytes a forwarded packet costs on the wire beyond RTP header and payload (IPv4 20, UDP 8,
SRTP tag 10, our extensions ~2): layer bitrates are budgeted as the link sees them."""
RATE_WINDOW_S = 2.0
LAYER_IDLE_S = 1.0
"""A layer that sent nothing for this long is not offered to slots (the publisher dropped it:
browsers stop their top layers when their own uplink or CPU is short)."""


def ntp_time(unix_time: float) -> int:
    """64-bit NTP timestamp for a Unix time (what RTCP sender reports carry)."""
    return int((unix_time + NTP_EPOCH_OFFSET) * (1 << 32))


class Layer(LayerCore):
    """One simulcast layer of a video source (a non-simulcast source has exactly one).

    `bytes_in`, `last_packet`, `keyframes_in` and `_keyframe_since_request` are kept per
    packet in C (`LayerCore`, media/fastpath/dp_receive.c).
    """

    __slots__ = (
        "_deferred",
        "_last_request",
        "_rate_samples",
        "bitrate_bps",
        "index",
        "ssrc",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.ssrc: int | None = None
        self.last_packet = -1e9
        self.bytes_in = 0
        self.keyframes_in = 0
        self.bitrate_bps = 0.0
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._last_request = -1e9
        self._keyframe_since_request = True
        self._deferred: asyncio.TimerHandle | None = None

    def active(self, now: float) -> bool:
        return now - self.last_packet < LAYER_IDLE_S

    def sample_rate(self, now: float) -> float:
        """Update and return the bitrate (bits/s) over about the last `RATE_WINDOW_S`.

        A window, not the last tick: a keyframe or a burst must not look like a new rate to
        the allocation, which would then flap between layers.
        """
        samples = self._rate_samples
        samples.append((now, self.bytes_in))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_S:
            samples.popleft()
        then, before = samples[0]
        if now > then:
            self.bitrate_bps = (self.bytes_in - before) * 8 / (now - then)
        if not self.active(now):
            self.bitrate_bps = 0.0
        return self.bitrate_bps


class Source(SourceCore):
    """One published stream: a participant's audio or video uplink (simulcast: its layers).

    `on_packet` and the counters it keeps are C (`SourceCore`, media/fastpath/dp_receive.c):
    it runs for every packet a publisher sends, and the C receive path calls it without
    Python. `_learn` (a new SSRC) and `_slot_failed` are called back from there.
    """

    __slots__ = (
        "_send_pli",
        "keyframe_interval",
        "keyframes_requested",
        "kind",
        "participant_id",
        "rids",
    )
    consumers: list[OutSlot]
    layers: list[Layer]
    layer_of_ssrc: dict[int, int]

    def __init__(
        self,
        participant_id: str,
        kind: str,
        send_pli: Callable[[int], None],
        keyframe_interval: float = 0.5,
        rids: tuple[str, ...] = (),
    ) -> None:
        self.participant_id = participant_id
        self.kind = kind
        self.is_video = kind == "video"
        self.rids = rids if self.is_video else ()
        """Simulcast layer names, lowest quality first (empty: one stream)."""
        self.layers = [Layer(i) for i in range(max(1, len(self.rids)))]
        self.layer_of_ssrc = {}
        self.consumers = []
        self.muted = False
        self.closed = False
        self.keyframe_interval = keyframe_interval
        self._send_pli = send_pli
        self.packets_in = 0
        self.bytes_in = 0
        self.frames_in = 0
        self.keyframes_requested = 0
        self.level = 127
        """Audio: the last level the publisher reported (-dBov, 0 loudest, 127 silence)."""
        self.level_at = -1e9
        self.loud_at = -1e9
        """When this audio source last sent a packet loud enough to be speech."""

    @property
    def media_ssrc(self) -> int | None:
        """The SSRC of the top layer (of the only stream without simulcast)."""
        return self.layers[-1].ssrc

    @property
    def keyframes_in(self) -> int:
        return sum(layer.keyframes_in for layer in self.layers)

    @property
    def simulcast(self) -> bool:
        return len(self.layers) > 1

    def _slot_failed(self, slot: OutSlot, error: BaseException | None) -> None:
        """One subscriber's failure must not starve the others: count it, log the first."""
        slot.errors += 1
        if slot.errors == 1:
            logger.error("forwarding to %s/%s failed", slot.owner_id, slot.mid, exc_info=error)

    def _learn(self, packet: RtpPacket) -> int | None:
        """The layer of a packet from an SSRC not seen before (None: cannot tell yet)."""
        if self.rids:
            rid = packet.extensions.rid if hasattr(packet.extensions, "rid") else None
            if rid not in self.rids:
                return None
            index = self.rids.index(rid)
        else:
            index = 0
        layer = self.layers[index]
        if layer.ssrc is not None:
            # A new SSRC is a new numbering: subscribers of this layer resync.
            self.layer_of_ssrc.pop(layer.ssrc, None)
            self._restart(index)
        layer.ssrc = packet.ssrc
        self.layer_of_ssrc[packet.ssrc] = index
        return index

    def active_layers(self, now: float) -> list[int]:
        return [layer.index for layer in self.layers if layer.active(now)]

    def pick_layer(self, want: int, now: float) -> int:
        """The layer a slot wanting quality `want` (0 lowest) should get from this source.

        The best active layer at or below `want`; else the lowest active one; with nothing
        active (not started yet), `want` capped to the layers there are.
        """
        if not self.simulcast:
            return 0
        active = self.active_layers(now)
        if not active:
            return min(max(want, 0), len(self.layers) - 1)
        below = [i for i in active if i <= want]
        return below[-1] if below else active[0]

    def request_keyframe(self, now: float | None = None, layer: int = -1) -> None:
        """Ask the publisher for a keyframe on `layer` (-1: the top), at most once per
        `keyframe_interval` per layer.

        A request made while an earlier one is still unanswered is covered by it; one made
        after the keyframe arrived but inside the interval is deferred to the interval's end.
        """
        if not self.is_video or self.closed:
            return
        if now is None:
            now = time.monotonic()
        target = self.layers[layer]
        wait = target._last_request + self.keyframe_interval - now
        if wait <= 0:
            self._fire(target, now)
        elif target._keyframe_since_request and target._deferred is None:
            target._deferred = asyncio.get_running_loop().call_later(
                wait, self._fire_deferred, target
            )

    def _fire_deferred(self, layer: Layer) -> None:
        layer._deferred = None
        self._fire(layer, time.monotonic())

    def _fire(self, layer: Layer, now: float) -> None:
        if layer.ssrc is None or self.closed:
            return  # nothing received yet: the first packets will ask again
        layer._last_request = now
        layer._keyframe_since_request = False
        self.keyframes_requested += 1
        self._send_pli(layer.ssrc)

    def set_muted(self, muted: bool) -> None:
        if self.muted and not muted:
            for layer in self.layers:  # subscribers missed frames while muted
                self._restart(layer.index)
        self.muted = muted

    def _restart(self, index: int) -> None:
        """Subscribers of this layer resume at its next keyframe, rebased."""
        for slot in self.consumers:
            if slot.current is self and slot.layer == index:
                slot.synced = False

    def close(self) -> None:
        self.closed = True
        for layer in self.layers:
            if layer._deferred is not None:
                layer._deferred.cancel()
                layer._deferred = None
        for slot in list(self.consumers):
            slot.drop_source(self)
