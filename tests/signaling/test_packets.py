"""Packet decoding and the per-connection strike count (pure)."""

from __future__ import annotations

import json

import pytest
from socketio import packet as sio_packet

from signaling.packets import (
    MAX_NESTING,
    LimitedJson,
    LivePacket,
    MalformedPacket,
    check_nesting,
    event_problem,
)
from signaling.server import Strikes, engine_frame_problem


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_is_counted_without_recursion() -> None:
    check_nesting(nested(MAX_NESTING))
    check_nesting('{"a": [{"b": [1, 2]}]}', limit=4)
    with pytest.raises(ValueError, match="deeper than 20"):
        check_nesting(nested(MAX_NESTING + 1))
    with pytest.raises(ValueError):
        check_nesting(nested(100_000))  # json.loads would raise RecursionError here
    with pytest.raises(ValueError):
        check_nesting('{"a": [{"b": [1, 2]}]}', limit=3)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["join", {"offer": "[" * 5000 + '\\"{' * 100}])
    check_nesting(text, limit=2)
    assert LimitedJson.loads(text)[1]["offer"].startswith("[[[")


def test_limited_json_refuses_what_is_not_plain_json() -> None:
    assert LimitedJson.loads('{"t": 12}') == {"t": 12}
    assert LimitedJson.loads(b'[1, "x"]') == [1, "x"]
    for text in ("NaN", '{"t": Infinity}', "9" * 101, nested(MAX_NESTING + 1), b"\xff"):
        with pytest.raises(ValueError):
            LimitedJson.loads(text)
    assert json.loads(LimitedJson.dumps({"a": [1]})) == {"a": [1]}


def decode(text: str | bytes) -> LivePacket:
    return LivePacket(encoded_packet=text)


def refusal(text: str | bytes) -> MalformedPacket:
    with pytest.raises(MalformedPacket) as info:
        decode(text)
    return info.value


def test_good_packets_decode_as_usual() -> None:
    event = decode('2/live,7["heartbeat",{"t":1}]')
    assert (event.packet_type, event.namespace, event.id) == (sio_packet.EVENT, "/live", 7)
    assert event.data == ["heartbeat", {"t": 1}]
    connect = decode('0/live,{"token":"x"}')
    assert connect.packet_type == sio_packet.CONNECT and connect.data == {"token": "x"}
    assert decode("1/live,").packet_type == sio_packet.DISCONNECT
    assert decode("3/live,5[]").packet_type == sio_packet.ACK


def test_a_refusal_keeps_the_header_for_the_ack() -> None:
    deep = refusal("2/live,12" + nested(3000))
    assert (deep.namespace, deep.ack_id, deep.packet_type) == ("/live", 12, sio_packet.EVENT)
    assert deep.answerable
    assert "nested deeper" in deep.reason
    plain = refusal('2["x", {]')
    assert plain.namespace == "/" and plain.ack_id is None and not plain.answerable


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "7/live,",
        '4/live,{"message": "a client never sends this"}',
        '51-/live,1["a",{"_placeholder":true,"num":0}]',
        '61-/live,1[{"_placeholder":true,"num":0}]',
        '2/live,1["disconnect"]',
        '2/live,1["connect", {}]',
        "2/live,1[]",
        '2/live,1[5, {"t": 1}]',
        '2/live,1{"heartbeat": 1}',
        '2/live,1"heartbeat"',
        "3/live,1{}",
        "2/live," + "1" * 101 + "[]",
    ],
)
def test_malformed_packets_are_refused(text: str) -> None:
    assert refusal(text).reason


def test_binary_frames_are_refused() -> None:
    assert "binary" in refusal(b"2/live,[]").reason
    assert "empty" in refusal(b"").reason


def test_event_problems() -> None:
    assert event_problem(["join", {}]) is None
    assert event_problem(["leave"]) is None
    assert event_problem([]) is not None
    assert event_problem([""]) is not None
    assert event_problem("join") is not None
    assert event_problem(["connect_error", {}]) is not None


@pytest.mark.parametrize(
    ("frame", "ok"),
    [
        ("2", True),
        ("3probe", True),
        ('42/live,["x"]', True),
        ("4", True),
        ("", False),
        ("x", False),
        ("8", False),
        ("bAAAA", False),
        ("4[[[", False),
        ("2" + "[" * 100, False),
    ],
)
def test_engine_frames(frame: str, ok: bool) -> None:
    assert (engine_frame_problem(frame) is None) is ok


def test_strikes_count_within_the_window_per_connection() -> None:
    strikes = Strikes(limit=3, window=60)
    assert strikes.add("a", 1000) == 1
    assert strikes.add("a", 1030) == 2
    assert strikes.add("b", 1030) == 1
    assert strikes.add("a", 1059) == 3
    assert strikes.add("a", 1090.5) == 2  # the first two fell out of the window
    strikes.forget("a")
    assert strikes.add("a", 1091) == 1
    assert len(strikes) == 2
