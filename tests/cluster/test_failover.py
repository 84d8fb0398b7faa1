"""A day survives the loss of its node: three real nodes behind Debian's haproxy, PostgreSQL and
Redis; eight bot participants join through the proxy; the owner is killed with kill -9,
restarted, and the next owner drained with SIGTERM (tests/cluster/failover.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.day import running_day
from tests.cluster.failover import measure_failover
from tests.cluster.harness import topology

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


async def test_a_day_survives_kill_restart_and_drain(video_clips: Any, audio_clip: Any) -> None:
    async with (
        topology(nodes=3, proxy="haproxy") as top,
        running_day(top, list(video_clips.values()), audio_clip) as day,
    ):
        figures = await measure_failover(day)
        detail = (figures.as_json(), figures.error_detail)
        assert figures.takeover_s is not None and figures.takeover_s < 10, detail
        assert figures.same_round and figures.same_deadline, detail
        assert figures.media_misses == 0 and figures.drain_misses == 0, detail
        assert figures.media_back_p95_s is not None and figures.media_back_p95_s < 15, detail
        assert figures.wrong_room == 0, detail
        assert figures.two_tickers == 0, detail
        assert figures.user_errors == 0, detail
        assert figures.drain_gap_s is not None and figures.drain_gap_s < 3, detail
        assert figures.drain_reconnects_max <= 1, detail
        assert not figures.took_back, detail
