"""A burst of bad logins while others work. Run: `.venv/bin/python bench/abuse.py`.

Against a real `interviewday serve` process (bench/served.py) behind a pretend proxy (the
server trusts 127.0.0.1 for `X-Forwarded-For`, as the shipped deploy trusts Caddy), on SQLite,
and on PostgreSQL too when `DATABASE_URL` is set:

- 50 logged-in people read (sessions, applicants, forms, who am I), one request a second each,
  from a second before the burst until a second after it; their latency is measured from each
  request's scheduled time;
- 200 bad logins at once from four addresses, spread over six emails (three known staff, three
  unknown). Each must answer 401 (the password was checked) or 429 (limited); anything else is
  an error, a 5xx also counts in `burst_5xx`.
- Then, with nothing else running, nine bad logins each (interleaved) for a fresh known and a
  fresh unknown email: their median times should match (no account discovery by timing).

Last line JSON: `{"burst_logins": 200, "burst_5xx", "others_p95_ms", "others_5xx",
"accepted_per_email", ...}` (the worst database). Targets: 0 5xx, others' p95 < 500 ms,
exactly 10 accepted attempts (401s) for every email.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import READ_MIX
from served import Tally, client_session, databases, log_in_many, served

BURST = 200
READERS = 50
ADDRESSES = ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4")
KNOWN = ("interviewer1@demo.test", "interviewer2@demo.test", "interviewer3@demo.test")
UNKNOWN = ("ghost1@nowhere.test", "ghost2@nowhere.test", "ghost3@nowhere.test")
LIMIT_PER_EMAIL = 10
TARGET_OTHERS_P95_MS = 500.0


async def bad_login(
    client: aiohttp.ClientSession, base: str, email: str, address: str
) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        async with client.post(
            f"{base}/api/v1/auth/login",
            json={"email": email, "password": "not-the-password"},
            headers={"X-Forwarded-For": address},
        ) as response:
            await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError):
        status = 0
    return status, (time.perf_counter() - started) * 1000


async def burst(base: str) -> dict[str, Any]:
    emails = KNOWN + UNKNOWN
    async with client_session(limit=BURST) as client:
        results = await asyncio.gather(
            *(
                bad_login(client, base, emails[i % len(emails)], ADDRESSES[i % len(ADDRESSES)])
                for i in range(BURST)
            )
        )
    accepted = {email: 0 for email in emails}
    statuses: dict[str, int] = {}
    for i, (status, _) in enumerate(results):
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 401:
            accepted[emails[i % len(emails)]] += 1
    return {
        "statuses": statuses,
        "accepted": accepted,
        "errors": sum(1 for status, _ in results if status not in (401, 429)),
        "burst_5xx": sum(1 for status, _ in results if status >= 500 or status == 0),
        "p95_ms": Tally(latencies_ms=[ms for _, ms in results]).p95_ms(),
    }


async def timing(base: str) -> dict[str, Any]:
    """Median time of a bad login for a known and an unknown account, nothing else running;
    interleaved, so that the machine's drift falls on both alike. Each must answer 401."""
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    errors = 0
    async with client_session() as client:
        for _ in range(LIMIT_PER_EMAIL - 1):
            for label, email in (("known", "interviewer8@demo.test"), ("unknown", "no@x.test")):
                status, ms = await bad_login(client, base, email, "192.0.2.9")
                times[label].append(ms)
                errors += status != 401
    medians = {f"{label}_median_ms": round(statistics.median(ms), 1) for label, ms in times.items()}
    return {**medians, "timing_errors": errors}


async def _read_until(
    client: aiohttp.ClientSession, base: str, offset: int, stop: asyncio.Event, tally: Tally
) -> None:
    """One read a second, timed from when it was due (a stalled server is not excused)."""
    scheduled = time.perf_counter() + (offset % 20) / 20
    i = offset
    while not stop.is_set():
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            async with client.get(base + READ_MIX[i % len(READ_MIX)]) as response:
                await response.read()
                tally.record(response.status, scheduled)
        except (TimeoutError, aiohttp.ClientError):
            tally.record(0, scheduled)
        i += 1
        scheduled += 1.0


async def run_database(kind: str) -> dict[str, Any]:
    env = {"INTERVIEWDAY_TRUSTED_PROXIES": "127.0.0.1"}
    async with served(kind, "abuse", env) as server:
        readers = await log_in_many(server.base, READERS)
        others = Tally()
        stop = asyncio.Event()
        try:
            reading = asyncio.gather(
                *(_read_until(c, server.base, n, stop, others) for n, c in enumerate(readers))
            )
            await asyncio.sleep(1.0)
            started = time.perf_counter()
            burst_result = await burst(server.base)
            burst_seconds = time.perf_counter() - started
            await asyncio.sleep(1.0)
            stop.set()
            await reading
        finally:
            await asyncio.gather(*(c.close() for c in readers))
        timings = await timing(server.base)
    result = {
        "burst_logins": BURST,
        "burst_5xx": burst_result["burst_5xx"],
        "burst_errors": burst_result["errors"],
        "burst_seconds": round(burst_seconds, 2),
        "burst_p95_ms": burst_result["p95_ms"],
        "others_p95_ms": others.p95_ms(),
        "others_5xx": sum(
            n for status, n in others.statuses.items() if status >= 500 or not status
        ),
        "others_errors": others.errors,
        "others_requests": others.attempts,
        "accepted_per_email": max(burst_result["accepted"].values()),
        "accepted_by_email": burst_result["accepted"],
        "burst_statuses": burst_result["statuses"],
        **timings,
    }
    print(f"{kind}: {json.dumps(result)}", flush=True)
    return result


def verdict(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    worst = max(
        runs.values(),
        key=lambda r: (r["burst_5xx"] + r["others_5xx"], r["others_p95_ms"] or float("inf")),
    )
    return {**worst, "runs": runs}


async def main() -> dict[str, Any]:
    return verdict({kind: await run_database(kind) for kind in databases()})


if __name__ == "__main__":
    result = asyncio.run(main())
    runs = result["runs"].values()
    missed = any(
        r["burst_5xx"]
        or r["burst_errors"]
        or r["others_errors"]
        or r["timing_errors"]
        or r["others_p95_ms"] is None
        or r["others_p95_ms"] >= TARGET_OTHERS_P95_MS
        or set(r["accepted_by_email"].values()) != {LIMIT_PER_EMAIL}
        for r in runs
    )
    if missed:
        print("target missed: 0 5xx, others' p95 < 500 ms, exactly 10 accepted per email")
    print(json.dumps(result))
    raise SystemExit(1 if missed else 0)
