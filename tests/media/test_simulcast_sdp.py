"""Simulcast in SDP text (media/simulcast.py): what an offer sends, what the answer accepts."""

from __future__ import annotations

from media.simulcast import (
    REPAIRED_RID_URI,
    RID_URI,
    accept_simulcast,
    layer_order,
    offer_simulcast,
    parse_simulcast,
)

VIDEO = [
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "a=mid:1",
    "a=sendonly",
    f"a=extmap:4 {RID_URI}",
    f"a=extmap:5 {REPAIRED_RID_URI}",
    "a=rtpmap:96 VP8/90000",
]
OFFER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        *VIDEO,
        "a=rid:q send",
        "a=rid:h send",
        "a=rid:f send",
        "a=simulcast:send q;h;f",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:2",
        "a=recvonly",
    ]
)


def test_a_chromium_style_offer_is_read_lowest_layer_first() -> None:
    found = parse_simulcast(OFFER)
    assert list(found) == ["1"]
    layers = found["1"]
    assert layers.rids == ("q", "h", "f") and layers.rid_id == 4 and layers.repaired_rid_id == 5


def test_layer_names_are_ordered_by_meaning() -> None:
    assert layer_order(["f", "h", "q"]) == ("q", "h", "f")
    assert layer_order(["h", "m", "l"]) == ("l", "m", "h")
    assert layer_order(["high", "low"]) == ("low", "high")
    assert layer_order(["b", "a"]) == ("b", "a")  # unknown names: the offer's order


def test_what_is_not_a_usable_simulcast_offer_is_one_stream() -> None:
    one = OFFER.replace("a=simulcast:send q;h;f", "a=simulcast:send q")
    no_extension = OFFER.replace(f"a=extmap:4 {RID_URI}", "")
    undeclared = OFFER.replace("a=rid:h send\r\na=rid:f send\r\n", "")
    bad_id = OFFER.replace(f"a=extmap:4 {RID_URI}", f"a=extmap:15 {RID_URI}")
    for sdp in (one, no_extension, undeclared, bad_id, "", "m=video\r\na=simulcast:"):
        assert parse_simulcast(sdp) == {}


def test_paused_alternative_and_hostile_names_are_left_out() -> None:
    sdp = OFFER.replace("a=simulcast:send q;h;f", "a=simulcast:send q,x;~h;f;<b>")
    sdp = sdp.replace("a=rid:f send", "a=rid:f send\r\na=rid:<b> send\r\na=rid:x send")
    assert parse_simulcast(sdp)["1"].rids == ("q", "f")


def test_at_most_three_layers() -> None:
    sdp = OFFER.replace("a=simulcast:send q;h;f", "a=simulcast:send a;b;c;d")
    sdp = sdp.replace(
        "a=rid:q send", "a=rid:a send\r\na=rid:b send\r\na=rid:c send\r\na=rid:d send"
    )
    assert parse_simulcast(sdp)["1"].rids == ("a", "b", "c")


def test_the_answer_accepts_on_the_matching_m_line_only() -> None:
    answer = "\r\n".join(
        [
            "v=0",
            "m=audio 9 X 111",
            "a=mid:0",
            "m=video 9 X 96",
            "a=mid:1",
            "m=video 9 X 96",
            "a=mid:2",
        ]
    )
    accepted = accept_simulcast(answer, parse_simulcast(OFFER))
    sections = accepted.split("m=")
    assert "a=simulcast:recv q;h;f" in sections[2] and "a=rid:q recv" in sections[2]
    assert (
        f"a=extmap:4 {RID_URI}" in sections[2] and f"a=extmap:5 {REPAIRED_RID_URI}" in sections[2]
    )
    assert "simulcast" not in sections[1] + sections[3]
    assert accept_simulcast(answer, {}) == answer


def test_a_bot_offer_round_trips() -> None:
    plain = "\r\n".join(["v=0", "m=video 9 X 96", "a=mid:1", "a=sendonly"])
    offered = offer_simulcast(plain, "1", ("q", "h", "f"), 10)
    layers = parse_simulcast(offered)["1"]
    assert layers.rids == ("q", "h", "f") and layers.rid_id == 10
