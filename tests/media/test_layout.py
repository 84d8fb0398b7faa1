from __future__ import annotations

from media.layout import assign_slots


def test_fills_in_order() -> None:
    assert assign_slots([None, None, None], ["b", "c"]) == ["b", "c", None]


def test_existing_sources_keep_their_slot() -> None:
    assert assign_slots(["c", None, "b"], ["b", "c", "d"]) == ["c", "d", "b"]


def test_leaver_frees_its_slot_only() -> None:
    assert assign_slots(["b", "c", "d"], ["b", "d"]) == ["b", None, "d"]


def test_more_sources_than_slots() -> None:
    assert assign_slots([None, None], ["b", "c", "d"]) == ["b", "c"]
    assert assign_slots(["d", None], ["b", "c", "d"]) == ["d", "b"]


def test_duplicates_and_empty() -> None:
    assert assign_slots([None, None], ["b", "b"]) == ["b", None]
    assert assign_slots(["b"], []) == [None]
    assert assign_slots([], ["b"]) == []
