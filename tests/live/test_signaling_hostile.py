"""The /live namespace against careless and hostile clients: every bad event, candidate, offer,
packet and message gets an error ack (or, past the limits, a logged disconnect), and the server
never logs a traceback or leaves a task exception unretrieved.

Payload-level cases use python-socketio's AsyncClient; packets no well-behaved client library
can produce (3000-deep JSON, binary frames, reserved names) go over a raw engine.io websocket.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import socketio

from core.clock import FakeClock
from media.offer import MAX_CANDIDATES
from signaling.grants import JoinGrant, issue_join_token
from signaling.server import MAX_MESSAGE_BYTES, STRIKE_WINDOW_S, STRIKES
from tests.utils import new_client_pc, wait_for
from web.keys import TOKENS
from web.live import HUB

NS = "/live"
GRANT = JoinGrant(
    "applicant", "ann", "Ann Applicant", "applicant", "prog", "sess", "sess:room1", "Room 1"
)


def token(live_server: Any, grant: JoinGrant = GRANT) -> str:
    return issue_join_token(live_server.app[TOKENS], grant)


def base_url(live_server: Any) -> str:
    return str(live_server.make_url("/")).rstrip("/")


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the event loop's exception handler ("Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)


@pytest.fixture
def quiet(
    caplog: pytest.LogCaptureFixture, loop_errors: list[dict[str, Any]]
) -> Iterator[Callable[[], None]]:
    caplog.set_level(logging.INFO, logger="interviewday.signaling")

    def assert_quiet() -> None:
        gc.collect()  # unretrieved task exceptions are reported when the task is collected
        loud = [
            f"{r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.exc_info or r.levelno >= logging.ERROR or "never retrieved" in r.getMessage()
        ]
        assert loud == []
        assert [c.get("message") for c in loop_errors] == []

    yield assert_quiet


@pytest.fixture
async def client(live_server: Any) -> AsyncIterator[Callable[..., Awaitable[socketio.AsyncClient]]]:
    made: list[socketio.AsyncClient] = []

    async def connect(grant: JoinGrant = GRANT) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)
        made.append(sio)
        await sio.connect(
            base_url(live_server),
            auth={"token": token(live_server, grant)},
            namespaces=[NS],
            transports=["websocket"],
            wait_timeout=5,
        )
        return sio

    yield connect
    for sio in made:
        if sio.connected:
            await sio.disconnect()


async def call(sio: socketio.AsyncClient, event: str, *data: Any) -> dict[str, Any]:
    payload: Any = data if len(data) > 1 else (data[0] if data else None)
    ack: dict[str, Any] = await sio.call(event, payload, namespace=NS, timeout=10)
    return ack


def code_of(ack: dict[str, Any]) -> str:
    assert ack["ok"] is False, ack
    assert ack["error"]["message"]
    code: str = ack["error"]["code"]
    return code


class RawSocket:
    """engine.io v4 over a bare websocket: sends any text, answers pings, reads acks."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> str | None:
        """The next text frame that is not a ping; None once the connection is closed."""
        while True:
            message = await self.ws.receive(10)
            if message.type != aiohttp.WSMsgType.TEXT:
                return None
            if message.data == "2":
                await self.ws.send_str("3")
                continue
            text: str = message.data
            return text

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def ack(self, ack_id: int) -> dict[str, Any]:
        prefix = f"43{NS},{ack_id}"
        while True:
            frame = await self.receive()
            assert frame is not None, "closed before the ack"
            if frame.startswith(prefix):
                answer: dict[str, Any] = json.loads(frame[len(prefix) :])[0]
                return answer

    async def closed(self) -> bool:
        """Read until the server ends the connection (engine.io CLOSE, or the socket closing)."""
        while True:
            frame = await self.receive()
            if frame is None or frame == "1":
                return True


@pytest.fixture
async def raw(live_server: Any) -> AsyncIterator[Callable[[], Awaitable[RawSocket]]]:
    session = aiohttp.ClientSession()

    async def connect() -> RawSocket:
        ws = await session.ws_connect(
            f"{base_url(live_server)}/socket.io/?EIO=4&transport=websocket"
        )
        socket = RawSocket(ws)
        opening = await socket.receive()
        assert opening is not None and opening.startswith("0")
        await socket.send(f"40{NS}," + json.dumps({"token": token(live_server)}))
        connected = await socket.receive()
        assert connected is not None and connected.startswith(f"40{NS},"), connected
        return socket

    yield connect
    await session.close()


async def make_offer(slots: int = 1) -> str:
    pc = new_client_pc()
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    for _ in range(slots):
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def without(sdp: str, prefix: str) -> str:
    return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith(prefix))


# --- events and payloads (python-socketio's client) --------------------------------------


async def test_events_without_or_with_malformed_payloads_answer_invalid(
    client: Any, quiet: Callable[[], None]
) -> None:
    sio = await client()
    for event in ("join", "ice", "media", "hand", "heartbeat"):
        for payload in ((), (None,), ("a string",), ([1, 2],), (42,), (True,), ({}, {})):
            assert code_of(await call(sio, event, *payload)) == "invalid", (event, payload)
    for payload in (
        {"t": "soon"},
        {"t": None},
        {"t": [1]},
        {"t": 1, "x": 2},
    ):
        assert code_of(await call(sio, "heartbeat", payload)) == "invalid", payload
    assert code_of(await call(sio, "join", {"offer": "v=0" * 70_000})) == "invalid"
    assert code_of(await call(sio, "join", {"offer": "x" * 20, "slots": 10**30})) == "invalid"
    assert code_of(await call(sio, "leave", "nonsense")) == "invalid"
    assert code_of(await call(sio, "leave")) == "not_joined"
    assert code_of(await call(sio, "leave", {})) == "not_joined"
    assert code_of(await call(sio, "no_such_event", {})) == "unknown_event"
    assert code_of(await call(sio, "on_join", {})) == "unknown_event"
    # Still usable: none of that counted against the connection.
    ack = await call(sio, "heartbeat", {"t": 5})
    assert ack == {"ok": True, "t": 5, "server_time": ack["server_time"]}
    quiet()


async def test_bad_offers_are_refused_before_anything_is_created(
    client: Any, live_server: Any, quiet: Callable[[], None]
) -> None:
    sio = await client()
    sfu = live_server.app[HUB].sfu
    offer = await make_offer()
    first_video = offer.index("m=video")
    bad = {
        "no fingerprint": without(offer, "a=fingerprint"),
        "unknown hash": re.sub(r"a=fingerprint:\S+", "a=fingerprint:md5", offer),
        "no ufrag": without(offer, "a=ice-ufrag"),
        "no pwd": without(offer, "a=ice-pwd"),
        "bad ufrag": offer.replace("a=ice-ufrag:", "a=ice-ufrag:\x01\x02"),
        "no setup": without(offer, "a=setup"),
        "no rtcp-mux": without(offer, "a=rtcp-mux"),
        "text m-line": offer[:first_video] + "m=text" + offer[first_video + 7 :],
        "data channel": offer + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
        "garbage": "v=0 but not really an offer",
        "bad rtpmap": offer.replace("a=rtpmap:", "a=rtpmap:x", 1),
        "no media": offer[:first_video].split("m=audio")[0],
        "too many m-lines": offer + offer[offer.index("m=audio") :] * 17,
    }
    for name, sdp in bad.items():
        ack = await call(sio, "join", {"offer": sdp, "slots": 1})
        assert code_of(ack) == "bad_offer", (name, ack)
        assert sfu.participant_ids == [], name
    ack = await call(sio, "join", {"offer": offer, "slots": 1})
    assert ack["ok"] is True and "a=fingerprint" in ack["answer"]
    quiet()


async def test_bad_candidates_answer_bad_candidate(
    bots: Any, live_server: Any, quiet: Callable[[], None]
) -> None:
    bot = bots(GRANT, "a")
    await bot.connect()
    good = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
    for line in (
        "candidate:1 1 udp",  # aiortc asserts on this
        "candidate:1 1 udp 2130706431 127.0.0.1 50000",
        "candidate:1 x udp 2130706431 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 99999999999 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 2130706431 127.0.0.1 70000 typ host",
        "candidate:1 1 sctp 2130706431 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ bogus",
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 nottyp host",
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ srflx raddr 1.2.3.4 rport x",
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host generation",
        "candidate:1 1 udp 2130706431 127.0.0.1 ５０ typ host",
    ):
        ack = await call(bot.sio, "ice", {"candidate": line, "sdpMid": "0"})
        assert code_of(ack) == "bad_candidate", (line, ack)
    ack = await call(bot.sio, "ice", {"candidate": good})  # neither sdpMid nor sdpMLineIndex
    assert code_of(ack) == "bad_candidate"
    assert code_of(await call(bot.sio, "ice", {"candidate": 5, "sdpMid": "0"})) == "invalid"
    assert (await call(bot.sio, "ice", {"candidate": good, "sdpMid": "0"}))["ok"] is True
    assert (await call(bot.sio, "ice", {"candidate": ""}))["ok"] is True
    assert live_server.app[HUB].sfu.peer_connection(bot.participant_id).connectionState in (
        "connected",
        "connecting",
    )
    quiet()


async def test_hostile_connects_are_refused(live_server: Any, quiet: Callable[[], None]) -> None:
    refusals: list[Any] = []
    for auth in (
        {"token": "x" * 100_000},  # refused unread: no decompressing an unverified payload
        {"token": ["not", "a", "string"]},
        {"token": token(live_server), "scope": {"a": 1}},
        "a string",
    ):
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("connect_error", refusals.append, namespace=NS)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                base_url(live_server),
                auth=auth,
                namespaces=[NS],
                transports=["websocket"],
                wait_timeout=5,
            )
        await sio.disconnect()
    codes = [r["data"]["code"] for r in refusals]
    assert codes == ["token_invalid", "no_token", "wrong_session", "no_token"]
    quiet()


async def test_a_join_takes_a_bounded_number_of_candidates(
    client: Any, quiet: Callable[[], None]
) -> None:
    # The server STUN-checks every address it is given; a browser trickles (no end marker).
    sio = await client()
    offer = without(await make_offer(), "a=end-of-candidates")
    assert (await call(sio, "join", {"offer": offer, "slots": 1}))["ok"] is True
    codes = []
    for port in range(40000, 40000 + MAX_CANDIDATES + 1):
        line = f"candidate:{port} 1 udp 2130706431 127.0.0.1 {port} typ host"
        ack = await call(sio, "ice", {"candidate": line, "sdpMid": "0"})
        codes.append("ok" if ack["ok"] else code_of(ack))
    in_offer = len(re.findall("a=candidate", offer))  # the offer's own (some repeated)
    assert MAX_CANDIDATES - in_offer <= codes.count("ok") < MAX_CANDIDATES
    assert codes[-1] == "bad_candidate"
    quiet()


# --- packets (a raw engine.io websocket) -------------------------------------------------


async def test_deeply_nested_json_gets_bad_packet_and_the_connection_lives(
    raw: Any, quiet: Callable[[], None]
) -> None:
    socket = await raw()
    await socket.send(f"42{NS},7" + '["heartbeat",' + "[" * 3000 + "]" * 3000 + "]")
    assert code_of(await socket.ack(7)) == "bad_packet"
    await socket.send(f"42{NS},8" + json.dumps(["heartbeat", {"t": 1}]))
    assert (await socket.ack(8))["ok"] is True
    quiet()


async def test_malformed_packets_are_refused_and_answered_where_they_ask(
    raw: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, quiet: Callable[[], None]
) -> None:
    socket = await raw()
    answered = {
        "not json": '["heartbeat", {t: 1}]',
        "NaN": '["heartbeat", {"t": NaN}]',
        "huge integer": '["heartbeat", {"t": ' + "9" * 5000 + "}]",
        "no event name": "[]",
        "a number for a name": '[5, {"t": 1}]',
        "a reserved name": '["disconnect"]',
        "not a list": '{"heartbeat": 1}',
    }
    for index, (name, body) in enumerate(answered.items()):
        await socket.send(f"42{NS},{100 + index}{body}")
        assert code_of(await socket.ack(100 + index)) == "bad_packet", name
        await clock.advance(STRIKE_WINDOW_S)  # one strike at a time: never the limit here
    for index, frame in enumerate(
        (
            b"\x00\x01binary",  # a binary frame
            f'451-{NS},9["heartbeat",{{"_placeholder":true,"num":0}}]',  # a binary event
            f"47{NS},",  # no such socket.io packet type
            "4",  # an empty socket.io packet
            b"",  # an empty binary frame
        )
    ):
        if isinstance(frame, bytes):
            await socket.ws.send_bytes(frame)
        else:
            await socket.send(frame)
        # Packets are read in order: once this is answered, the refusal above has happened.
        await socket.send(f"42{NS},{200 + index}" + json.dumps(["heartbeat", {"t": 1}]))
        assert (await socket.ack(200 + index))["ok"] is True
        await clock.advance(STRIKE_WINDOW_S)
    refused = [r for r in caplog.records if "live packet refused" in r.getMessage()]
    assert len(refused) == len(answered) + 5
    assert all("strike 1 of" in r.getMessage() for r in refused)
    quiet()


async def test_repeated_bad_packets_end_the_connection(
    raw: Any, live_server: Any, caplog: pytest.LogCaptureFixture, quiet: Callable[[], None]
) -> None:
    socket = await raw()
    for attempt in range(STRIKES - 1):
        await socket.send(f"42{NS},{attempt}" + "[" * 50 + "]" * 50)
        assert code_of(await socket.ack(attempt)) == "bad_packet"
    await socket.send(f"42{NS},99" + "[" * 50 + "]" * 50)
    assert await socket.closed()
    server = live_server.app[HUB].server
    await wait_for(lambda: len(server.strikes) == 0 and not server.eio.sockets, 5)
    closing = [r for r in caplog.records if "refused packets" in r.getMessage()]
    assert len(closing) == 1 and closing[0].levelno == logging.WARNING
    quiet()


async def test_engine_io_garbage_closes_the_connection(
    raw: Any, caplog: pytest.LogCaptureFixture, quiet: Callable[[], None]
) -> None:
    garbage = ("", "x", "9", "b" + "A" * 8, "2" + "[" * 3000, "4[" + "[" * 3000, "4x")
    for frame in garbage:
        socket = await raw()
        await socket.send(frame)
        assert await socket.closed(), frame
    assert len([r for r in caplog.records if "live connection closed" in r.getMessage()]) == len(
        garbage
    )
    quiet()


# --- size --------------------------------------------------------------------------------


async def test_an_oversize_message_closes_the_connection_once_logged(
    client: Any, caplog: pytest.LogCaptureFixture, quiet: Callable[[], None]
) -> None:
    sio = await client()
    gone = asyncio.Event()
    sio.on("disconnect", lambda *reason: gone.set(), namespace=NS)
    # Just under the limit, the offer's own bound answers.
    near = {"offer": "v" * (MAX_MESSAGE_BYTES - 1000)}
    assert code_of(await call(sio, "join", near)) == "invalid"
    await sio.emit("join", {"offer": "v" * (MAX_MESSAGE_BYTES + 1)}, namespace=NS)
    await asyncio.wait_for(gone.wait(), 10)
    over = [r for r in caplog.records if f"over {MAX_MESSAGE_BYTES} bytes" in r.getMessage()]
    assert len(over) == 1 and over[0].levelno == logging.WARNING
    quiet()
