"""The app factory: the only place objects are built and single- vs multi-node is decided."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
import socketio
from aiohttp import web

from core.bus import InMemoryBus, RedisBus
from core.clock import Clock, SystemClock, to_datetime
from core.db import create_engine, create_read_session_factory, create_session_factory
from core.lease import LocalLeases, RedisLeases
from core.nodes import HEARTBEAT_SECONDS, LocalNodes, NodeRegistry, RedisNodes, new_instance_id
from core.periodic import Periodic
from core.security import PasswordPool, Passwords, Tokens, lower_thread_priority
from core.settings import Settings
from portal.auth import Auth
from web import daytrack, keys
from web.api.framework import Api
from web.api.openapi import build_openapi
from web.api.routes import build_api
from web.cluster import Cluster, node_info
from web.errors import error_middleware
from web.forwarding import add_cluster_routes, forwarding_middleware
from web.identities import IdentityCache, listen_for_forgotten
from web.input_guard import PARSER_LIMITS
from web.jobs import background_jobs
from web.live import HUB, build_socketio
from web.metrics import Metrics
from web.middleware import (
    metrics_middleware,
    security_headers_middleware,
    stamp_prepared_response,
)
from web.overload import make_admission_middleware, overload_middleware
from web.pages.routes import add_page_routes
from web.readcache import DataVersion, ReadCache, track_writes
from web.session import Identity, make_session_middleware
from web.system import add_system_routes

HERE = Path(__file__).parent
# Logins pass admission: Auth.login bounds their transactions itself, and the password check
# between them must not hold a slot that readers need.
LOGIN_PATHS = frozenset({"/login", "/api/v1/auth/login"})
API = web.AppKey("api", Api)
log = logging.getLogger("interviewday")


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    passwords = Passwords()
    tokens = Tokens(settings.secret_key, clock)
    auth = Auth(
        passwords=passwords,
        tokens=tokens,
        clock=clock,
        attempts_per_minute=settings.login_attempts_per_minute,
        attempts_per_client_per_minute=settings.login_attempts_per_minute * 5,
        # SQLite has one writer anyway; PostgreSQL locks per key. Either way a burst of logins
        # holds at most this many pool connections, and everyone else keeps the rest.
        login_transactions=1 if settings.is_sqlite else 4,
        login_wait_seconds=settings.db_pool_timeout,
        session_hours=settings.session_hours,
        magic_link_days=settings.magic_link_days,
    )

    identities = IdentityCache()

    async def resolve(cookie_value: str) -> Identity | None:
        cached = identities.get(cookie_value, to_datetime(clock.now()))
        if cached is not None:
            return cached
        async with app[keys.DB_READ]() as db, db.begin():
            found = await auth.resolve(db, cookie_value)
        if found is None:
            return None
        identity = Identity(found.actor, found.csrf_token, cookie_value, found.session_id)
        identities.put(identity, found.expires_at)
        return identity

    app = web.Application(
        middlewares=[
            security_headers_middleware,
            # Outside the error middleware, so it counts the status the client really got.
            metrics_middleware,
            error_middleware,
            # Before admission: a request for another node's session never waits for a slot here.
            forwarding_middleware,
            overload_middleware,
            make_admission_middleware(
                admitted_requests(settings), settings.db_pool_timeout, exempt=LOGIN_PATHS
            ),
            make_session_middleware(resolve),
        ],
        client_max_size=48 * 1024 * 1024,
        # The parser reads up to these, so our own checks answer long URLs in the error shape.
        handler_args=PARSER_LIMITS,
    )
    # Responses sent before their handler returns (websocket handshakes, streamed downloads).
    app.on_response_prepare.append(stamp_prepared_response)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock
    app[keys.PASSWORDS] = passwords
    app[keys.TOKENS] = tokens
    app[keys.AUTH] = auth
    app[keys.IDENTITIES] = identities
    app[keys.METRICS] = Metrics()
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_password_pool)
    app.cleanup_ctx.append(_bus)
    app.cleanup_ctx.append(_identity_invalidation)
    app.cleanup_ctx.append(background_jobs)

    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.globals["static"] = lambda path: str(app.router["static"].url_for(filename=path))
    api = build_api()
    app[API] = api
    api.add_to(app)
    add_system_routes(app, build_openapi(api))
    add_page_routes(app)
    app.router.add_static("/static/", HERE / "static", name="static", append_version=True)
    add_cluster_routes(app)
    build_socketio(app, _socketio_manager(settings))
    daytrack.install(app)
    app.cleanup_ctx.append(_cluster_heartbeat)
    return app


def admitted_requests(settings: Settings) -> int:
    """Requests working at once: about the connections there are (core.db's pool sizes), so
    the rest wait in the admission queue rather than on the pool."""
    return 8 if settings.is_sqlite else 16


def _socketio_manager(settings: Settings) -> object | None:
    """Across nodes socket.io fans out through Redis; on one node its default manager."""
    if not settings.redis_url:
        return None
    manager: object = socketio.AsyncRedisManager(
        settings.redis_url, channel=f"{settings.redis_namespace}-socketio"
    )
    return manager


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    engine = create_engine(settings.database_url, pool_timeout=settings.db_pool_timeout)
    app[keys.ENGINE] = engine
    app[keys.DB] = create_session_factory(engine)
    app[keys.DB_READ] = create_read_session_factory(engine)
    if not settings.redis_url:
        # One node sees every write it must forget answers for; several would not.
        version = DataVersion()
        track_writes(engine, version)
        app[keys.READ_CACHE] = ReadCache(version)
    yield
    await engine.dispose()


async def _password_pool(app: web.Application) -> AsyncIterator[None]:
    # A few threads: argon2 releases the GIL, and each check already uses several lanes.
    workers = max(2, min(4, os.cpu_count() or 2))
    executor = ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="passwords", initializer=lower_thread_priority
    )
    app[keys.PASSWORD_POOL] = PasswordPool(app[keys.PASSWORDS], executor)
    yield
    executor.shutdown(wait=True, cancel_futures=True)


async def _identity_invalidation(app: web.Application) -> AsyncIterator[None]:
    listener = asyncio.create_task(listen_for_forgotten(app[keys.IDENTITIES], app[keys.BUS]))
    yield
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener


async def _bus(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    me = node_info(settings.node_id, new_instance_id(settings.node_id), settings.internal_url)
    nodes: NodeRegistry
    if settings.redis_url:
        client = aioredis.from_url(settings.redis_url)
        app[keys.REDIS] = client
        namespace = settings.redis_namespace
        app[keys.BUS] = RedisBus(client, prefix=f"{namespace}:")
        app[keys.LEASES] = RedisLeases(client, prefix=f"{namespace}:lease:")
        nodes = RedisNodes(client, prefix=f"{namespace}:node:")
    else:
        app[keys.REDIS] = None  # type: ignore[misc]
        app[keys.BUS] = InMemoryBus()
        app[keys.LEASES] = LocalLeases()
        nodes = LocalNodes()
    metrics = app[keys.METRICS]
    app[keys.CLUSTER] = Cluster(
        me=me,
        leases=app[keys.LEASES],
        nodes=nodes,
        secret=settings.secret_key,
        shared=settings.redis_url is not None,
        events=metrics.lease_event,
    )
    # The cluster's own calls (forwards, relayed sockets, hand-overs) pass bodies as they came.
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        app[keys.CLUSTER].http = http
        yield
    await app[keys.BUS].close()


async def _cluster_heartbeat(app: web.Application) -> AsyncIterator[None]:
    """Announces this node (address, load) and renews its leases every second; at shutdown
    lets go of what it owns, so another node takes it over at once instead of after the lease."""
    cluster = app[keys.CLUSTER]
    hub = app[HUB]
    metrics = app[keys.METRICS]

    def load() -> tuple[int, int]:
        return len(cluster.owned), hub.connected_count()

    cluster.load = load
    if cluster.shared:

        async def admit(scope: str) -> bool:
            return (await cluster.owner(scope)).local

        hub.admit = admit

    async def beat() -> None:
        await cluster.heartbeat()
        metrics.observe_cluster(len(cluster.owned), hub.connected_count())

    heartbeat = Periodic(
        beat, HEARTBEAT_SECONDS, name="cluster heartbeat", log=log, first_delay=0.0
    )
    if cluster.shared:
        heartbeat.start()
    yield
    if cluster.shared:
        await heartbeat.stop()
        await cluster.leave()
