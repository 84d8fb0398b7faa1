import pytest

from rooms import solver
from rooms.solver_edits import swap_in_round


def problem(rooms: int, rounds: int, applicants: str, **kw: object) -> solver.Problem:
    return solver.Problem(
        rooms=tuple(solver.RoomSpec(f"r{i}", (f"i{i}",)) for i in range(1, rooms + 1)),
        rounds=rounds,
        applicants=tuple(applicants),
        **kw,  # type: ignore[arg-type]
    )


def test_plain_swap_when_valid() -> None:
    p = problem(4, 3, "abc")
    before = solver.solve(p).itinerary
    assert before is not None
    after, extra = swap_in_round(p, before, 2, "a", "c")
    assert extra == ()
    assert after.slot_of(2, "a") == solver.Slot(2, before.slot_of(2, "c").room_id, "a")  # type: ignore[union-attr]


def test_full_rotation_swap_trades_other_rounds_between_the_two_only() -> None:
    p = problem(3, 3, "abc")
    before = solver.solve(p).itinerary
    assert before is not None
    with pytest.raises(solver.EditRejected):
        solver.swap(p, before, 2, "a", "b")
    after, extra = swap_in_round(p, before, 2, "a", "b")
    assert extra
    assert solver.validate(p, after) == []
    assert after.slot_of(2, "a").room_id == before.slot_of(2, "b").room_id  # type: ignore[union-attr]
    assert after.slot_of(2, "b").room_id == before.slot_of(2, "a").room_id  # type: ignore[union-attr]
    # Nobody else moves.
    assert after.by_applicant()["c"] == before.by_applicant()["c"]


def test_swap_into_a_conflict_of_interest_is_rejected() -> None:
    p = problem(4, 3, "abc", exclusions=frozenset({("a", "i2")}))
    before = solver.solve(p).itinerary
    assert before is not None
    round_number = next(
        s.round
        for s in before.slots
        if s.applicant_id == "b" and s.room_id == "r2" and before.slot_of(s.round, "a") is not None
    )
    with pytest.raises(solver.EditRejected) as info:
        swap_in_round(p, before, round_number, "a", "b")
    assert info.value.code == "exclusion"
