"""Firefox (Debian's firefox-esr) beside Chromium in the live rooms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.firefox.firefox import Firefox, find_tools, launch


@pytest.fixture
async def firefox(artifacts: Path, live_server: Any) -> AsyncIterator[Firefox]:
    """Set up after the live server and closed before it: the server then sees the pages go
    instead of waiting on their connections while it shuts down."""
    path, node = find_tools()
    async with launch(path, node, artifacts / "firefox-driver.log") as instance:
        yield instance
