"""Typed application state (aiohttp `AppKey`s): everything the handlers share."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.bus import EventBus
from core.clock import Clock
from core.lease import Leases
from core.security import PasswordPool, Passwords, Tokens
from core.settings import Settings
from portal.auth import Auth
from web.cluster import Cluster
from web.identities import IdentityCache
from web.metrics import Metrics
from web.readcache import ReadCache

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
# Sessions that only read: on SQLite they begin deferred and never take the write lock.
DB_READ = web.AppKey("db_read", async_sessionmaker[AsyncSession])
# Answers of read endpoints until the next write; absent when nodes share Redis.
READ_CACHE = web.AppKey("read_cache", ReadCache)
TOKENS = web.AppKey("tokens", Tokens)
PASSWORDS = web.AppKey("passwords", Passwords)
# Password checks run here, a few at a time, off the event loop.
PASSWORD_POOL = web.AppKey("password_pool", PasswordPool)
AUTH = web.AppKey("auth", Auth)
IDENTITIES = web.AppKey("identities", IdentityCache)
BUS = web.AppKey("bus", EventBus)
METRICS = web.AppKey("metrics", Metrics)
REDIS = web.AppKey("redis", aioredis.Redis | None)  # type: ignore[arg-type]
LEASES = web.AppKey("leases", Leases)
# Who owns which session or meeting room, and this node in the registry (web/cluster.py).
CLUSTER = web.AppKey("cluster", Cluster)
# Who the client is, on a request another node of the cluster forwarded and signed.
CLUSTER_CLIENT = web.RequestKey("cluster_client", str)
