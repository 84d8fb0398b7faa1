"""Read-mix throughput of the REST API beside a trivial endpoint.

Run: `.venv/bin/python bench/api.py` (`DATABASE_URL=postgresql://…` adds PostgreSQL).

Against a real `interviewday serve` process (see bench/served.py) on SQLite, and on PostgreSQL
too when `DATABASE_URL` is set, at 50 and then 200 logged-in clients (each a session of its own):

- capacity: the clients loop over the read mix (sessions list, applicants list, forms list, who
  am I) back to back for a few seconds (`read_rps`, and `saturated_p95_ms`); then as many
  cookie-less clients loop on `/healthz` for as long (`bare_rps`), in the same run; and, for
  context, the logged-in clients loop on `/api/v1/auth/me` (`authed_trivial_rps`);
- latency: the same clients send one read a second each, as people clicking through pages
  would (200 clients: 200 requests a second offered), and `p95_ms` is measured from each
  request's scheduled time, so a server that falls behind is not excused by sending less.
  (Back to back, a p95 is no latency figure: by Little's law it is about clients / rate.)

Every attempt is counted; any answer but 200 (or a connection failure) is an error and fails
the run. Last line JSON: `{"read_rps", "bare_rps", "ratio", "p95_ms", "errors", "runs"}`; the
headline keys are the worst database at 200 clients (lowest ratio, highest p95); `runs` holds
each database and level. Targets: ratio >= 0.25 and p95 < 200 ms at 200 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

# A plain script: its own folder (for `served`) and the repository root are importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from served import Tally, client_session, databases, log_in_many, served

READ_MIX = ("/api/v1/sessions", "/api/v1/applicants", "/api/v1/forms", "/api/v1/auth/me")
BARE = "/healthz"
AUTHED_TRIVIAL = "/api/v1/auth/me"
LEVELS = (50, 200)
# One read a second per client in the latency phase.
PACE_SECONDS = 1.0
TARGET_RATIO = 0.25
TARGET_P95_MS = 200.0


async def _loop(
    client: aiohttp.ClientSession,
    base: str,
    paths: tuple[str, ...],
    offset: int,
    until: float,
    tally: Tally,
) -> None:
    i = offset
    while time.perf_counter() < until:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        try:
            async with client.get(base + path) as response:
                await response.read()
                tally.record(response.status, started)
        except (TimeoutError, aiohttp.ClientError):
            tally.record(0, started)


async def _paced(
    client: aiohttp.ClientSession,
    base: str,
    offset: int,
    interval: float,
    until: float,
    tally: Tally,
    rng: random.Random,
) -> None:
    i = offset
    scheduled = time.perf_counter() + rng.uniform(0, interval)
    while scheduled < until:
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        path = READ_MIX[i % len(READ_MIX)]
        i += 1
        try:
            async with client.get(base + path) as response:
                await response.read()
                tally.record(response.status, scheduled)
        except (TimeoutError, aiohttp.ClientError):
            tally.record(0, scheduled)
        scheduled += interval


async def paced_phase(
    clients: list[aiohttp.ClientSession], base: str, interval: float, seconds: float
) -> dict[str, Any]:
    tally = Tally()
    rng = random.Random(7)
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_paced(c, base, n, interval, until, tally, rng) for n, c in enumerate(clients))
    )
    return {
        "rps": round(tally.attempts / (time.perf_counter() - started), 1),
        "attempts": tally.attempts,
        "errors": tally.errors,
        "p95_ms": tally.p95_ms(),
    }


async def phase(
    clients: list[aiohttp.ClientSession], base: str, paths: tuple[str, ...], seconds: float
) -> dict[str, Any]:
    tally = Tally()
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_loop(client, base, paths, n, until, tally) for n, client in enumerate(clients))
    )
    elapsed = time.perf_counter() - started
    return {
        "rps": round(tally.attempts / elapsed, 1),
        "attempts": tally.attempts,
        "errors": tally.errors,
        "p95_ms": tally.p95_ms(),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
    }


async def run_database(kind: str, seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with served(kind, "api") as server:
        readers = await log_in_many(server.base, max(LEVELS))
        bare = [client_session() for _ in range(max(LEVELS))]
        try:
            for level in LEVELS:
                warm = await phase(readers[:level], server.base, READ_MIX, 1.0)
                read = await phase(readers[:level], server.base, READ_MIX, seconds)
                plain = await phase(bare[:level], server.base, (BARE,), seconds)
                # For context: an authenticated trivial request (session lookup, no handler work).
                me = await phase(readers[:level], server.base, (AUTHED_TRIVIAL,), seconds)
                paced = await paced_phase(readers[:level], server.base, PACE_SECONDS, seconds)
                ratio = round(read["rps"] / plain["rps"], 3) if plain["rps"] else None
                results[str(level)] = {
                    "read_rps": read["rps"],
                    "bare_rps": plain["rps"],
                    "ratio": ratio,
                    "authed_trivial_rps": me["rps"],
                    "p95_ms": paced["p95_ms"],
                    "paced_rps": paced["rps"],
                    "saturated_p95_ms": read["p95_ms"],
                    "bare_saturated_p95_ms": plain["p95_ms"],
                    "attempts": sum(p["attempts"] for p in (warm, read, plain, me, paced)),
                    "errors": sum(p["errors"] for p in (warm, read, plain, me, paced)),
                    "read_statuses": read["statuses"],
                }
                print(f"{kind} {level} clients: {json.dumps(results[str(level)])}", flush=True)
        finally:
            await asyncio.gather(*(c.close() for c in readers + bare))
    return results


def headline(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    at_top = [levels[str(max(LEVELS))] for levels in runs.values()]
    worst_ratio = min(at_top, key=lambda r: r["ratio"] if r["ratio"] is not None else -1)
    p95s = [r["p95_ms"] for r in at_top]
    errors = sum(r["errors"] for levels in runs.values() for r in levels.values())
    return {
        "read_rps": worst_ratio["read_rps"],
        "bare_rps": worst_ratio["bare_rps"],
        "ratio": worst_ratio["ratio"],
        "p95_ms": None if any(p is None for p in p95s) else max(p95s),
        "errors": errors,
        "runs": runs,
    }


async def main(seconds: float) -> dict[str, Any]:
    runs = {kind: await run_database(kind, seconds) for kind in databases()}
    return headline(runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    result = asyncio.run(main(parser.parse_args().seconds))
    missed = (
        result["errors"] > 0
        or result["ratio"] is None
        or result["ratio"] < TARGET_RATIO
        or result["p95_ms"] is None
        or result["p95_ms"] >= TARGET_P95_MS
    )
    if missed:
        print(f"target missed: ratio >= {TARGET_RATIO}, p95 < {TARGET_P95_MS} ms, 0 errors")
    print(json.dumps(result))
    raise SystemExit(1 if missed else 0)
