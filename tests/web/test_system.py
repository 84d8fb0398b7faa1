"""Health, readiness, metrics and the generated OpenAPI document."""

from pathlib import Path

from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from tests.conftest import make_settings
from web.app import create_app
from web.keys import CLUSTER


async def test_healthz(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


async def test_readyz_checks_the_database(client: TestClient) -> None:
    body = await (await client.get("/readyz")).json()
    assert body == {"status": "ready", "checks": {"database": "ok"}, "node": "node-1"}


async def test_readyz_turns_away_traffic_while_the_node_drains(client: TestClient) -> None:
    client.app[CLUSTER].draining = True
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["status"] == "draining"


async def test_readyz_checks_redis_when_configured(
    aiohttp_client: object, sqlite_url: str, tmp_path: Path, redis_url: str
) -> None:
    app = create_app(make_settings(sqlite_url, tmp_path, redis_url=redis_url), clock=FakeClock())
    client = await aiohttp_client(app)  # type: ignore[operator]
    body = await (await client.get("/readyz")).json()
    assert body["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_reports_unreachable_redis(
    aiohttp_client: object, sqlite_url: str, tmp_path: Path
) -> None:
    from tests.services import free_port

    settings = make_settings(sqlite_url, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = await aiohttp_client(create_app(settings, clock=FakeClock()))  # type: ignore[operator]
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["redis"].startswith("error")


async def test_metrics(client: TestClient) -> None:
    await client.get("/healthz")
    text = await (await client.get("/metrics")).text()
    assert 'interviewday_http_requests_total{method="GET",route="/healthz",status="200"}' in text


async def test_openapi_is_generated_from_the_endpoints(client: TestClient) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    body_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/LoginBody"
    assert doc["components"]["schemas"]["LoginBody"]["required"] == ["email", "password"]
    assert "/api/v1/applicants/{applicant_id}" in doc["paths"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"], (method, path)
            assert "4XX" in operation["responses"]


async def test_unknown_api_path_is_json_404(client: TestClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
