"""Small helpers for driving the app through its HTTP interface."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import PASSWORD


async def login(client: TestClient, email: str, password: str = PASSWORD) -> str:  # type: ignore[type-arg]
    """Logs in through the API; returns the CSRF token for later state-changing calls."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return str(body["csrf_token"])


async def error_of(response: Any) -> dict[str, Any]:
    body = await response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "field"} <= set(body["error"]), body
    return dict(body["error"])
