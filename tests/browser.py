"""Playwright fixtures: Debian's Chromium, fake media, a live server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests import services

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-results"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = services.chromium_path()
    if path is None:
        services.missing("chromium", "Chromium: install Debian's chromium or set CHROMIUM_PATH")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def live_server(aiohttp_server: Any, settings: Any, clock: Any) -> Any:
    from web.app import create_app

    return await aiohttp_server(create_app(settings, clock=clock), host="127.0.0.1")


def canvas_camera(
    width: int, height: int, background: str, square: str, size: int = 20, step: int = 4
) -> str:
    """An init script: the page's camera is a `width`x`height` canvas of `background` with a
    `square` moving across it (Chromium's fake cameras all look alike, and a test often has to
    tell one person's picture, or one resolution, from another's)."""
    return (
        CANVAS_CAMERA.replace("WIDTH", str(width))
        .replace("HEIGHT", str(height))
        .replace("BACKGROUND", background)
        .replace("SQUARE", square)
        .replace("SIZE", str(size))
        .replace("STEP", str(step))
    )


CANVAS_CAMERA = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    if (!constraints || !constraints.video) return original(constraints);
    const audio = constraints.audio
      ? (await original({ audio: constraints.audio })).getAudioTracks()
      : [];
    const canvas = document.createElement("canvas");
    canvas.width = WIDTH;
    canvas.height = HEIGHT;
    const g = canvas.getContext("2d");
    let n = 0;
    setInterval(() => {
      g.fillStyle = "BACKGROUND";
      g.fillRect(0, 0, WIDTH, HEIGHT);
      g.fillStyle = "SQUARE";
      g.fillRect((n += STEP) % (WIDTH - SIZE), HEIGHT / 2 - SIZE / 2, SIZE, SIZE);
    }, 33);
    return new MediaStream([...audio, ...canvas.captureStream(30).getVideoTracks()]);
  };
})();
"""
