"""Declare an endpoint once: its models validate the request and write the OpenAPI document.

Each handler runs in one database transaction: it commits only if the handler returns, so a
failed request leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, Unauthorized, ValidationFailed
from core.scoping import ProgramScope
from portal.permissions import Actor, require
from web.api.jsonbody import check_size, parse_json_body
from web.keys import CLOCK, DB, DB_READ, READ_CACHE
from web.readcache import cache_key, replay
from web.session import current

AuthMode = Literal["staff", "applicant", "any", "public"]
Transaction = Literal["read", "write"]
"""`read`: the handler's transaction only reads (a read-only session: on SQLite it runs beside
the writer). GET endpoints read, others write, unless declared otherwise; an endpoint whose
writes happen in transactions of their own (a day command: the runner stores it) declares
`read`, else its outer transaction would hold the writer's turn that the inner one waits for."""


@dataclass
class Call:
    request: web.Request
    db: AsyncSession
    actor: Actor | None
    body: Any = None
    query: Any = None

    @property
    def scope(self) -> ProgramScope:
        if self.actor is None:
            raise Unauthorized("Log in first.")
        return ProgramScope(self.db, self.actor.program_id)

    @property
    def staff(self) -> Actor:
        if self.actor is None or not self.actor.is_staff:
            raise Unauthorized("Log in first.")
        return self.actor

    def path(self, name: str) -> str:
        return self.request.match_info[name]


Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tags: tuple[str, ...]
    auth: AuthMode
    permission: str | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    transaction: Transaction
    cache: bool


@dataclass
class Api:
    prefix: str = "/api/v1"
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tags: tuple[str, ...] = (),
        auth: AuthMode = "staff",
        permission: str | None = None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        transaction: Transaction | None = None,
        cache: bool = False,
    ) -> Callable[[Handler], Handler]:
        """`cache`: the answer depends only on database rows and who asks (never on the clock
        or live state), so it may be served again until the next write (`web/readcache.py`)."""
        if transaction is None:
            transaction = "read" if method.upper() in ("GET", "HEAD") else "write"

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method.upper(),
                    path,
                    handler,
                    summary,
                    tags,
                    auth,
                    permission,
                    body,
                    query,
                    response,
                    status,
                    transaction,
                    cache and method.upper() == "GET",
                )
            )
            return handler

        return register

    def include(self, other: Api) -> None:
        self.endpoints.extend(other.endpoints)

    def add_to(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, self.prefix + endpoint.path, _adapt(endpoint))


def _adapt(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    response_adapter = TypeAdapter(endpoint.response) if endpoint.response is not None else None

    async def handle(request: web.Request) -> web.StreamResponse:
        identity = current(request)
        actor = identity.actor if identity else None
        _check_auth(endpoint, actor)
        query = _parse_query(endpoint, request)
        cache = request.app.get(READ_CACHE) if endpoint.cache else None
        if cache is None:
            return await _run(request, actor, query)
        key = cache_key(actor, request.path_qs)
        now = request.app[CLOCK].now()
        kept = cache.get(key, now)
        if kept is not None:
            return replay(kept)
        started = cache.version.value
        response = await _run(request, actor, query)
        if isinstance(response, web.Response):
            cache.put(key, started, now, response)
        return response

    async def _run(request: web.Request, actor: Actor | None, query: Any) -> web.StreamResponse:
        body = await _parse_body(endpoint, request)
        sessions = request.app[DB_READ if endpoint.transaction == "read" else DB]
        async with sessions() as db, db.begin():
            result = await endpoint.handler(Call(request, db, actor, body, query))
            if isinstance(result, web.StreamResponse):
                return result
            if response_adapter is None or result is None:
                return web.Response(status=204 if result is None else endpoint.status)
            payload = response_adapter.dump_python(result, mode="json", by_alias=True)
        return web.json_response(payload, status=endpoint.status)

    # Marks on the handler (web/forwarding.py `owned_by`) are read from the route's handler.
    handle.__dict__.update(getattr(endpoint.handler, "__dict__", {}))
    return handle


def _check_auth(endpoint: Endpoint, actor: Actor | None) -> None:
    if endpoint.auth == "public":
        return
    if actor is None:
        raise Unauthorized("Log in first.", code="unauthorized")
    if endpoint.auth == "staff" and not actor.is_staff:
        raise Forbidden("Only program staff can do this.")
    if endpoint.auth == "applicant" and actor.kind != "applicant":
        raise Forbidden("Only applicants can do this.")
    if endpoint.permission is not None:
        require(actor, endpoint.permission)


def _parse_query(endpoint: Endpoint, request: web.Request) -> Any:
    if endpoint.query is None:
        return None
    try:
        return endpoint.query.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc) from None


async def _parse_body(endpoint: Endpoint, request: web.Request) -> Any:
    if endpoint.body is None:
        return None
    check_size(request.content_length)
    data = await request.read() if request.can_read_body else b""
    raw = parse_json_body(data, request.headers.get("Content-Type", "")) if data else {}
    try:
        return endpoint.body.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ValidationFailed:
    """The first problem pydantic found, as the error the client sees."""
    first = exc.errors()[0]
    field_path = ".".join(str(p) for p in first["loc"]) or None
    message = first["msg"]
    if field_path:
        message = f"{field_path}: {message}"
    return ValidationFailed(message, field=field_path)
