"""Log in and out, who am I, switch role, applicants' magic links."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import Unauthorized
from portal.permissions import SWITCHABLE_ROLES, Actor
from web.api.framework import Api, Call
from web.keys import AUTH, METRICS, SETTINGS
from web.session import clear_session_cookie, current, set_session_cookie

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


def client_key(request: web.Request) -> str:
    return request.remote or "unknown"


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
)
async def login(call: Call) -> web.StreamResponse:
    app = call.request.app
    try:
        result = await app[AUTH].login(
            call.db, call.body.email, call.body.password, client_key(call.request)
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


@api.route("POST", "/auth/logout", summary="Log out", tags=("auth",), auth="any")
async def logout(call: Call) -> web.StreamResponse:
    identity = current(call.request)
    if identity is not None:
        await call.request.app[AUTH].logout(call.db, identity.cookie_value)
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
)
async def switch_role(call: Call) -> Me:
    identity = current(call.request)
    assert identity is not None
    session = await call.db.merge(identity.session)
    await call.request.app[AUTH].switch_role(call.db, session, identity.actor, call.body.role)
    await call.db.flush()
    me = _me(call)
    return me.model_copy(update={"role": call.body.role})
