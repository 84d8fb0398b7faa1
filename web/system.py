"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from sqlalchemy import text

from core.errors import Unauthorized
from web.keys import CLUSTER, DB_READ, METRICS, REDIS, SETTINGS


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with request.app[DB_READ]() as db:
            await db.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    redis = request.app[REDIS]
    if redis is not None:
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    cluster = request.app.get(CLUSTER)
    draining = cluster is not None and cluster.draining
    status = "draining" if draining else ("ready" if ready else "not_ready")
    ready = ready and not draining
    return web.json_response(
        {
            "status": status,
            "checks": checks,
            "node": request.app[SETTINGS].node_id,
        },
        status=200 if ready else 503,
    )


def metrics_allowed(token: str | None, authorization: str | None, peer: str | None) -> bool:
    """With a token configured, only `Authorization: Bearer <token>`. Without one, only a peer
    on this machine: the transport's own peer, never a forwarded address, so behind a proxy
    /metrics is closed until a token is set."""
    if token is not None:
        scheme, _, supplied = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            supplied.strip().encode(), token.encode()
        )
    try:
        return peer is not None and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if not metrics_allowed(token, request.headers.get("Authorization"), request.remote):
        error = Unauthorized(
            "Metrics need the bearer token (INTERVIEWDAY_METRICS_TOKEN)."
            if token
            else "Metrics are served to this machine only until INTERVIEWDAY_METRICS_TOKEN is set.",
        )
        # JSON whatever the scraper accepts: it is a machine's endpoint.
        return web.json_response(
            error.body(), status=error.status, headers={"WWW-Authenticate": "Bearer"}
        )
    body = request.app[METRICS].render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def add_system_routes(app: web.Application, openapi: dict[str, object]) -> None:
    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(openapi)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi_json)
