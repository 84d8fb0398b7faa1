"""Debian's firefox-esr, driven through WebDriver BiDi by `driver.mjs` (puppeteer-core).

`Firefox` speaks the driver's line protocol: one JSON command, one JSON answer. Pages are named
by the test; each has its own browser context (its own cookies), like Playwright's contexts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests import services

DRIVER = Path(__file__).resolve().parent / "driver.mjs"
ROOT = Path(__file__).resolve().parents[2]
ANSWER_LIMIT = 4 * 1024 * 1024
"""Bytes one answer line may take (stats snapshots, page URLs)."""


class DriverError(AssertionError):
    """The driver answered `ok: false` (a page script threw, a wait timed out)."""


def firefox_path() -> str | None:
    configured = os.environ.get("FIREFOX_PATH")
    if configured and Path(configured).exists():
        return configured
    return shutil.which("firefox-esr") or shutil.which("firefox")


def find_tools() -> tuple[str, str]:
    """Firefox and node, or a skip (a failure when CI requires `firefox`)."""
    firefox = firefox_path()
    node = shutil.which("node")
    if firefox is None:
        services.missing("firefox", "Firefox: install Debian's firefox-esr to run")
    if node is None:
        services.missing("firefox", "Firefox: node is needed to drive firefox-esr (apt nodejs)")
    if not (ROOT / "node_modules" / "puppeteer-core").is_dir():
        services.missing("firefox", "Firefox: puppeteer-core is missing (run `npm ci`)")
    assert firefox is not None and node is not None
    return firefox, node


class Firefox:
    def __init__(self, process: asyncio.subprocess.Process, version: str) -> None:
        self.process = process
        self.version = version
        self._next_id = 0
        self._lock = asyncio.Lock()

    async def call(self, op: str, within: float = 30, **fields: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        async with self._lock:
            self._next_id += 1
            command = {"id": self._next_id, "op": op, **fields}
            self.process.stdin.write(json.dumps(command).encode() + b"\n")
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if not line:
            raise DriverError(f"the Firefox driver exited (code {await self.process.wait()})")
        answer = json.loads(line)
        assert answer["id"] == command["id"], answer
        if not answer["ok"]:
            raise DriverError(f"{op}: {answer.get('error')} (last: {answer.get('last')!r})")
        return answer["value"]

    async def open(
        self, page: str, url: str, *, first: str | None = None, login: dict[str, str] | None = None
    ) -> str:
        fields: dict[str, Any] = {"page": page, "url": url}
        if first:
            fields["first"] = first
        if login:
            fields["login"] = login
        landed: str = await self.call("open", **fields)
        return landed

    async def eval(self, page: str, fn: str, arg: Any = None) -> Any:
        return await self.call("eval", page=page, fn=fn, arg=arg)

    async def wait(self, page: str, fn: str, arg: Any = None, timeout_ms: int = 10_000) -> Any:
        return await self.call(
            "wait", within=timeout_ms / 1000 + 10, page=page, fn=fn, arg=arg, timeout_ms=timeout_ms
        )


@contextlib.asynccontextmanager
async def launch(firefox: str, node: str, log: Path) -> AsyncIterator[Firefox]:
    env = {**os.environ, "FIREFOX_PATH": firefox}
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            node,
            str(DRIVER),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            limit=ANSWER_LIMIT,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            if not line:
                raise DriverError(f"Firefox did not start; its driver's output is in {log}")
            yield Firefox(process, json.loads(line)["version"])
        finally:
            if process.returncode is None:
                with contextlib.suppress(Exception):
                    assert process.stdin is not None
                    process.stdin.write(b'{"op": "close"}\n')
                    await process.stdin.drain()
                    await asyncio.wait_for(process.wait(), 15)
            if process.returncode is None:
                process.kill()
                await process.wait()
