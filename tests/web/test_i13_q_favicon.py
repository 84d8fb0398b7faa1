"""Every page has an icon, and `/favicon.ico` answers it instead of a 404 (issue 13, item 10)."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient


async def test_favicon_ico_answers_the_svg_icon(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/favicon.ico")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    assert "max-age" in response.headers["Cache-Control"]
    assert (await response.text()).startswith("<svg")


async def test_pages_link_the_icon_and_the_link_answers(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await client.get("/login")
    assert page.status == 200
    found = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', await page.text())
    assert found, "the login page (bare.html) links no icon"
    icon = await client.get(found.group(1))
    assert icon.status == 200
    assert icon.content_type == "image/svg+xml"
