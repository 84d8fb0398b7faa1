"""The dominant speaker (media/speaker.py), driven by last-loud times and a fake `now`."""

from __future__ import annotations

from media.speaker import SpeakerTracker


def speak(
    loud: dict[str, float], who: str, start: float, end: float
) -> list[tuple[float, dict[str, float]]]:
    """Ticks every 0.1 s from start to end with `who` loud throughout."""
    ticks = []
    t = start
    while t <= end + 1e-9:
        loud[who] = t
        ticks.append((t, dict(loud)))
        t = round(t + 0.1, 3)
    return ticks


def test_a_new_voice_takes_the_stage_once_the_old_one_is_quiet() -> None:
    tracker = SpeakerTracker()
    loud = {"a": -10.0, "b": -10.0, "c": -10.0}
    changes = []
    for t, state in speak(loud, "a", 0.0, 2.0) + speak(loud, "b", 2.1, 4.0):
        if tracker.update(t, state):
            changes.append((t, tracker.dominant))
    assert changes[0] == (0.2, "a")  # after MIN_SPEECH_S of speech
    assert changes[1][1] == "b" and 2.5 <= changes[1][0] <= 2.8  # a quiet for QUIET_S
    assert len(changes) == 2


def test_a_cough_does_not_take_the_stage_and_talking_over_keeps_the_speaker() -> None:
    tracker = SpeakerTracker()
    loud = {"a": -10.0, "b": -10.0}
    for t, state in speak(loud, "a", 0.0, 1.0):
        tracker.update(t, state)
    assert tracker.dominant == "a"
    loud["b"] = 1.1  # one loud packet from b while a pauses briefly
    for t in (1.1, 1.2, 1.3):
        tracker.update(t, dict(loud))
    assert tracker.dominant == "a"
    for t, state in speak(loud, "a", 1.4, 2.0):  # a goes on, b talks over
        state["b"] = t
        tracker.update(t, state)
    assert tracker.dominant == "a"


def test_people_who_leave_are_forgotten() -> None:
    tracker = SpeakerTracker()
    loud = {"a": -10.0}
    for t, state in speak(loud, "a", 0.0, 0.5):
        tracker.update(t, state)
    assert tracker.dominant == "a" and "a" in tracker.last_spoke
    assert tracker.update(0.6, {}) is True and tracker.dominant is None
    assert tracker.last_spoke == {}
