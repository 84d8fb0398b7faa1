"""Benchmark of the itinerary solver. Run: `.venv/bin/python bench/solver.py`.

Solves a large session (40 rooms × 40 applicants × 10 rounds with 60 conflicts of interest drawn
from a fixed seed) and a small one (8 × 8 × 8, no exclusions) several times each, prints the
timings, and ends with one JSON line:
`{"large_ms_median": ..., "small_ms_median": ..., "constraints_violated": 0}`.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

# A plain script, not a package: make the repository root importable when run as a file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rooms.solver import Problem, RoomSpec, Solution, solve, validate

REPEATS = 7
EXCLUSION_SEED = 20240601


def session(
    room_count: int, rounds: int, applicant_count: int, exclusion_count: int, seed: int
) -> Problem:
    """Rooms with two interviewers each; exclusions are distinct random applicant/interviewer
    pairs from `random.Random(seed)`, so the same problem is built on every run."""
    rooms = tuple(
        RoomSpec(f"room-{r:02d}", (f"dr-{r:02d}a", f"dr-{r:02d}b")) for r in range(room_count)
    )
    applicants = tuple(f"applicant-{a:02d}" for a in range(applicant_count))
    interviewers = [person for room in rooms for person in room.interviewer_ids]
    rng = random.Random(seed)
    exclusions: set[tuple[str, str]] = set()
    while len(exclusions) < exclusion_count:
        exclusions.add((rng.choice(applicants), rng.choice(interviewers)))
    return Problem(rooms, rounds, applicants, frozenset(exclusions))


def timed(problem: Problem) -> tuple[list[float], Solution]:
    timings: list[float] = []
    solution = solve(problem)  # warm-up, also the solution that gets validated
    for _ in range(REPEATS):
        started = time.perf_counter()
        solution = solve(problem)
        timings.append((time.perf_counter() - started) * 1000)
    return timings, solution


def violations_of(problem: Problem, solution: Solution) -> int:
    if solution.itinerary is None:
        raise SystemExit(f"no itinerary: {solution.explanation}")
    return len(validate(problem, solution.itinerary))


def main() -> None:
    cases = {
        "large": session(40, 10, 40, 60, EXCLUSION_SEED),
        "small": session(8, 8, 8, 0, EXCLUSION_SEED),
    }
    medians: dict[str, float] = {}
    violated = 0
    for name, problem in cases.items():
        timings, solution = timed(problem)
        violated += violations_of(problem, solution)
        assert solution.itinerary is not None
        moved = _slots_off_rotation(problem, solution)
        medians[name] = statistics.median(timings)
        print(
            f"{name:>5}: {len(problem.rooms)} rooms × {len(problem.applicants)} applicants × "
            f"{problem.rounds} rounds, {len(problem.exclusions)} exclusions -> "
            f"{solution.interviews_per_applicant} interviews each, "
            f"{len(solution.itinerary.slots)} slots ({moved} off the cyclic rotation); "
            f"median {medians[name]:.2f} ms, min {min(timings):.2f} ms, "
            f"max {max(timings):.2f} ms over {REPEATS} runs"
        )
    print(f"constraints violated (validate): {violated}")
    print(
        json.dumps(
            {
                "large_ms_median": round(medians["large"], 3),
                "small_ms_median": round(medians["small"], 3),
                "constraints_violated": violated,
            }
        )
    )


def _slots_off_rotation(problem: Problem, solution: Solution) -> int:
    """Slots not where the plain cyclic shift (applicant i in room i + round - 1) puts them:
    how much the exclusions forced the repair to change."""
    assert solution.itinerary is not None
    room_ids = [room.id for room in problem.rooms]
    applicant_number = {applicant: i for i, applicant in enumerate(problem.applicants)}
    return sum(
        1
        for slot in solution.itinerary.slots
        if room_ids[(applicant_number[slot.applicant_id] + slot.round - 1) % len(room_ids)]
        != slot.room_id
    )


if __name__ == "__main__":
    main()
