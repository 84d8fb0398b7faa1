"""Log in and out, who am I, switch role, applicants' magic links."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import AppError, Forbidden, Unauthorized
from portal.permissions import SWITCHABLE_ROLES, Actor
from web.api.framework import Api, Call
from web.client_address import client_address
from web.identities import forget_everywhere
from web.keys import AUTH, BUS, DB, IDENTITIES, METRICS, PASSWORD_POOL, SETTINGS
from web.session import clear_session_cookie, current, origin_allowed, set_session_cookie

api = Api()


class LoginBody(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=500)


class Me(BaseModel):
    kind: Literal["staff", "applicant"]
    id: str
    program_id: str
    name: str
    role: str | None
    base_role: str | None
    available_roles: list[str]
    csrf_token: str


class SwitchRoleBody(BaseModel):
    role: Literal["director", "coordinator", "interviewer"]


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


def check_json_from_here(request: web.Request) -> None:
    """Login CSRF: a foreign page can POST `text/plain` or a form without a preflight, and a
    browser names its origin. Only JSON, and only from this server's own pages."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the login as application/json.")
    public_url = request.app[SETTINGS].public_url
    if not origin_allowed(
        request.headers.get("Origin"), request.host, public_url, allow_null=False
    ):
        raise Forbidden("This request came from another site.", code="bad_origin")


def describe(actor: Actor, csrf_token: str) -> Me:
    return Me(
        kind=actor.kind,
        id=actor.id,
        program_id=actor.program_id,
        name=actor.name,
        role=actor.role,
        base_role=actor.base_role,
        available_roles=list(SWITCHABLE_ROLES.get(actor.base_role or "", ())),
        csrf_token=csrf_token,
    )


def _me(call: Call) -> Me:
    identity = current(call.request)
    if identity is None:
        raise Unauthorized("Log in first.")
    return describe(identity.actor, identity.csrf_token)


@api.route(
    "POST",
    "/auth/login",
    summary="Log in as staff",
    tags=("auth",),
    auth="public",
    body=LoginBody,
    response=Me,
    transaction="read",  # its own transactions, around the password check
)
async def login(call: Call) -> web.StreamResponse:
    # `call.db` stays unused (so no connection is held): the login opens two short
    # transactions of its own around the password check.
    app = call.request.app
    check_json_from_here(call.request)
    try:
        result = await app[AUTH].login(
            app[DB],
            app[PASSWORD_POOL],
            call.body.email,
            call.body.password,
            client_address(call.request),
        )
    except Exception:
        app[METRICS].logins.labels("failure").inc()
        raise
    app[METRICS].logins.labels("success").inc()
    me = describe(result.actor, result.csrf_token)
    response = web.json_response(me.model_dump())
    settings = app[SETTINGS]
    set_session_cookie(
        response,
        result.cookie_value,
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    return response


@api.route(
    "POST", "/auth/logout", summary="Log out", tags=("auth",), auth="any", transaction="read"
)
async def logout(call: Call) -> web.StreamResponse:
    identity = current(call.request)
    if identity is not None:
        app = call.request.app
        # Committed before the caches forget it, so no request in between can cache it again.
        async with app[DB]() as db, db.begin():
            await app[AUTH].logout(db, identity.cookie_value)
        await forget_everywhere(app[IDENTITIES], app[BUS], identity.session_id)
    response = web.Response(status=204)
    clear_session_cookie(response)
    return response


@api.route(
    "GET", "/auth/me", summary="The logged-in person", tags=("auth",), auth="any", response=Me
)
async def me(call: Call) -> Me:
    return _me(call)


@api.route(
    "POST",
    "/auth/role",
    summary="Switch the active role",
    tags=("auth",),
    body=SwitchRoleBody,
    response=Me,
    transaction="read",  # commits its own before the identity caches forget
)
async def switch_role(call: Call) -> Me:
    identity = current(call.request)
    assert identity is not None
    app = call.request.app
    # Committed before the caches forget the old role, as in `logout`.
    async with app[DB]() as db, db.begin():
        await app[AUTH].switch_role(db, identity.session_id, identity.actor, call.body.role)
    await forget_everywhere(app[IDENTITIES], app[BUS], identity.session_id)
    me = _me(call)
    return me.model_copy(update={"role": call.body.role})
