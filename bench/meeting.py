"""The welcome-meeting half of bench/network.py (active speaker): not built yet."""

from __future__ import annotations

from typing import Any


async def run_meeting(seconds: float) -> dict[str, Any]:
    return {"meeting_50_speaker_switch_p95_ms": None, "meeting_50_server_core": None}


if __name__ == "__main__":
    print("bench/meeting.py is part of bench/network.py: run that")
