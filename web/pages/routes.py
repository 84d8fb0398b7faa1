"""Server-rendered pages: login, the shell and dashboards, and the applicant's entrance."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from core.errors import AppError
from core.security import TokenError
from portal import invitations as invitations_portal
from portal.auth import lock_rate_keys
from web.booking_rules import now_of
from web.client_address import client_address
from web.identities import forget_everywhere
from web.jobs import wake
from web.keys import AUTH, BUS, DB, IDENTITIES, PASSWORD_POOL, SETTINGS
from web.pages import (
    applicant,
    conflicts,
    console,
    dashboard,
    forms,
    invitations,
    live,
    meetings,
    people,
    ranks,
    reports,
    scoring,
    sessions,
)
from web.pages.common import staff_identity
from web.render import render
from web.session import clear_session_cookie, current, origin_allowed, set_session_cookie

LINK_ERRORS = {
    "expired": "This link has expired.",
    "revoked": "This link is no longer valid: a newer one has been sent.",
    "invalid": "This link is not valid. It may have been copied incompletely.",
    "wrong_purpose": "This link is not valid here.",
}


async def index(request: web.Request) -> web.StreamResponse:
    identity = current(request)
    if identity is None:
        raise web.HTTPSeeOther("/login")
    raise web.HTTPSeeOther("/applicant" if identity.actor.kind == "applicant" else "/dashboard")


def _safe_next(value: str | None) -> str:
    # Only same-site paths, so the login form cannot be used to bounce people elsewhere.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/dashboard"


async def login_page(request: web.Request) -> web.StreamResponse:
    context = {"next": _safe_next(request.query.get("next")), "error": None, "email": ""}
    return render(request, "login.html", context)


async def login_submit(request: web.Request) -> web.StreamResponse:
    _check_same_origin(request)
    form = await request.post()
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    next_path = _safe_next(str(form.get("next", "")))
    app = request.app
    try:
        result = await app[AUTH].login(
            app[DB], app[PASSWORD_POOL], email, password, client_address(request)
        )
    except AppError as exc:
        context = {"next": next_path, "error": exc.message, "email": email}
        return render(request, "login.html", context, status=exc.status)
    response = web.HTTPSeeOther(next_path)
    settings = request.app[SETTINGS]
    set_session_cookie(
        response,
        result.cookie_value,
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    raise response


def _check_same_origin(request: web.Request) -> None:
    public_url = request.app[SETTINGS].public_url
    # "null" too: a sandboxed frame or a file elsewhere is another site as far as we know.
    if not origin_allowed(
        request.headers.get("Origin"), request.host, public_url, allow_null=False
    ):
        raise AppError("This form was sent from another site.", code="csrf")


async def logout(request: web.Request) -> web.StreamResponse:
    identity = current(request)
    if identity is not None:
        async with request.app[DB]() as db, db.begin():
            await request.app[AUTH].logout(db, identity.cookie_value)
        await forget_everywhere(request.app[IDENTITIES], request.app[BUS], identity.session_id)
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(response)
    raise response


async def switch_role(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request)
    form = await request.post()
    role = str(form.get("role", ""))
    async with request.app[DB]() as db, db.begin():
        await request.app[AUTH].switch_role(db, identity.session_id, identity.actor, role)
    await forget_everywhere(request.app[IDENTITIES], request.app[BUS], identity.session_id)
    raise web.HTTPSeeOther("/dashboard")


async def magic_link(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    try:
        async with request.app[DB]() as db, db.begin():
            result = await request.app[AUTH].open_magic_link(db, token)
    except TokenError as exc:
        context = {"reason": LINK_ERRORS.get(exc.reason, LINK_ERRORS["invalid"]), "sent": False}
        status = 410 if exc.reason in ("expired", "revoked") else 400
        return render(request, "link_error.html", context, status=status)
    response = web.HTTPSeeOther("/applicant")
    settings = request.app[SETTINGS]
    set_session_cookie(
        response,
        result.cookie_value,
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    raise response


async def request_link_page(request: web.Request) -> web.StreamResponse:
    return render(request, "link_error.html", {"reason": None, "sent": False})


async def request_link_submit(request: web.Request) -> web.StreamResponse:
    _check_same_origin(request)
    form = await request.post()
    email = str(form.get("email", ""))[:254]
    client = client_address(request)
    try:
        async with request.app[DB]() as db, db.begin():
            # The per-client count and its new row, one request at a time per client.
            await lock_rate_keys(db, [f"link:{client}"])
            queued = await invitations_portal.request_new_link(
                db, email, client, now_of(request.app)
            )
    except AppError as exc:
        context = {"reason": exc.message, "sent": False}
        return render(request, "link_error.html", context, status=exc.status)
    if queued:
        wake(request.app)
    # The answer is the same whether or not the address is known, so it reveals nothing.
    return render(request, "link_error.html", {"reason": None, "sent": True})


FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"


async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for /favicon.ico whatever the page links; they get the SVG, not a 404."""
    return web.FileResponse(FAVICON, headers={"Cache-Control": "public, max-age=86400"})


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_post("/role", switch_role)
    app.router.add_get("/a/request-link", request_link_page)
    app.router.add_post("/a/request-link", request_link_submit)
    app.router.add_get("/a/{token}", magic_link)
    app.router.add_get("/dashboard", dashboard.dashboard)
    for module in (
        applicant,
        invitations,
        people,
        forms,
        meetings,
        conflicts,
        reports,
        sessions,
        ranks,
        scoring,
        live,
        console,
    ):
        module.add_routes(app)
