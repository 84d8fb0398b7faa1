# Types of the C extension media/fastpath/_datapath.c (the forwarding data path).

from collections.abc import Callable
from typing import Any

class RewriterCore:
    last_seq: int
    last_ts: int
    last_time: float
    def __init__(self, clock_rate: int, last_seq: int = 0, last_ts: int = 0) -> None: ...
    def cut(self, in_seq: int, in_ts: int, now: float) -> None: ...
    def map(self, in_seq: int, in_ts: int, now: float) -> tuple[int, int] | None: ...
    def is_far(self, in_seq: int) -> bool: ...
    def skip(self, in_seq: int) -> None: ...

class LinkCore:
    sent: int
    octets_sent: int
    dropped: int
    rtx_refused: int
    rtx_budget: float
    transport_seq: int
    @property
    def direct(self) -> bool: ...
    def set_transport_cc(self, ext_id: int) -> None: ...
    def transport_feedback(self, fci: bytes) -> None: ...
    def take_transport_counts(self) -> tuple[int, int, int]: ...
    @property
    def trend_state(self) -> str: ...
    @property
    def acked_bps(self) -> float | None: ...
    @property
    def queue_delay_ms(self) -> float: ...
    def set_srtp(
        self, function: int, context: int, session: object, rtcp_function: int = 0
    ) -> None: ...
    def clear_srtp(self) -> None: ...
    def set_socket(self, fd: int, host: str, port: int) -> bool: ...
    def clear_socket(self) -> None: ...
    def protect(self, plain: bytes) -> bytes: ...
    def send(self, data: bytes, urgent: bool = False) -> bool: ...

class OutputCore:
    ssrc: int
    urgent: bool
    packets: int
    octets: int
    last_timestamp: int
    last_ntp: int
    @property
    def _hist_data(self) -> list[bytes | None]: ...
    def __init__(self, link: object, ssrc: int, history: int = 0, urgent: bool = False) -> None: ...
    def send(self, plain: bytes, seq: int, timestamp: int, ntp: int, payload_size: int) -> bool: ...
    def _remember(
        self, data: bytes, seq: int, timestamp: int, ntp: int, payload_size: int
    ) -> None: ...
    def _claim(self, seq: int, now: float, gap: float) -> bytes | None: ...
    def _unclaim(self, seq: int) -> None: ...

class SlotCore:
    synced: bool
    layer: int
    target: int
    want: int
    is_video: bool
    payload_type: int
    ssrc: int
    _pid_delta: int
    _tl0_delta: int
    _pid_last: int
    _tl0_last: int
    _level_pos: int
    _ext: bytes
    _abs_before: bytes | None
    _abs_after: bytes | None
    _level_block: bytes | None
    packets_out: int
    bytes_out: int
    frames_out: int
    dropped: int
    def _tail(
        self,
        seq: int,
        ts: int,
        marker: int,
        payload: bytes,
        level: int,
        now: float,
        ntp: int,
        pic: tuple[int, int, int, int, int] | None,
    ) -> bool | None: ...
    def write(
        self,
        source: object,
        layer: int,
        seq: int,
        ts: int,
        marker: int,
        payload: bytes,
        key: bool,
        level: int,
        now: float,
        ntp: int,
        pic: tuple[int, int, int, int, int] | None = None,
    ) -> None: ...

class StatsCore:
    cycles: int
    packets_received: int
    def __init__(self, clockrate: int) -> None: ...
    def add(self, packet: object) -> None: ...
    @property
    def base_seq(self) -> int | None: ...
    @property
    def max_seq(self) -> int | None: ...
    @property
    def packets_expected(self) -> int: ...
    @property
    def packets_lost(self) -> int: ...
    @property
    def fraction_lost(self) -> int: ...
    @property
    def jitter(self) -> int: ...

class LayerCore:
    bytes_in: int
    last_packet: float
    keyframes_in: int
    _keyframe_since_request: bool

class SourceCore:
    consumers: list[Any]
    layers: list[Any]
    layer_of_ssrc: dict[int, int]
    muted: bool
    closed: bool
    is_video: bool
    packets_in: int
    bytes_in: int
    frames_in: int
    level: int
    level_at: float
    loud_at: float
    def on_packet(self, packet: object) -> None: ...

class Route:
    @property
    def index(self) -> int: ...
    @property
    def max_seq(self) -> int: ...

class ReceiverCore:
    @property
    def forwarded(self) -> int: ...
    @property
    def returned(self) -> int: ...
    @property
    def keyed(self) -> bool: ...
    def set_srtp(
        self, function: int, context: int, session: object, rtcp_function: int = 0
    ) -> None: ...
    def clear_srtp(self) -> None: ...
    def set_ids(self, audio_level: int, transport_cc: int) -> None: ...
    def add_route(
        self,
        ssrc: int,
        source: SourceCore,
        index: int,
        stats: StatsCore,
        payload_type: int,
        max_seq: int,
    ) -> None: ...
    def remove_route(self, ssrc: int) -> None: ...
    def route(self, ssrc: int) -> Route | None: ...
    def datagram(self, data: bytes) -> bytes | None: ...
    def feedback(self, max_statuses: int = 1000) -> list[bytes]: ...
    def set_feedback_link(self, link: LinkCore | None) -> None: ...
    def send_feedback(self, link: LinkCore, sender_ssrc: int, media_ssrc: int) -> bytes | None: ...
    def rtcp(self, data: bytes) -> bytes | None: ...

class SocketReader:
    @property
    def datagrams(self) -> int: ...
    @property
    def wakeups(self) -> int: ...
    @property
    def fd(self) -> int: ...
    def __init__(
        self,
        fd: int,
        receiver: ReceiverCore,
        on_rtp: Callable[[bytes], None],
        on_datagram: Callable[[bytes, Any], None],
        on_error: Callable[[Exception], None],
        on_rtcp: Callable[[bytes], None] | None = None,
    ) -> None: ...
    def readable(self) -> None: ...

class TrendCore:
    def __init__(self) -> None: ...
    def update(self, results: list[tuple[int, int, int, int | None]], now_us: int) -> None: ...
    @property
    def state(self) -> str: ...
    @property
    def threshold_ms(self) -> float: ...
    @property
    def queue_delay_ms(self) -> float: ...
    @property
    def acked_bps(self) -> float | None: ...
