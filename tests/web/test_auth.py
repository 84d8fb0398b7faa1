"""Staff login, sessions, roles, CSRF and the login rate limit."""

from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from tests.factories import PASSWORD, World
from tests.web.helpers import error_of, login


async def test_login_sets_a_strict_session_cookie(client: TestClient, world: World) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": world.a.director_email, "password": PASSWORD}
    )
    assert response.status == 200
    cookie = response.headers["Set-Cookie"]
    assert "interviewday_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    me = await (await client.get("/api/v1/auth/me")).json()
    assert me["role"] == "director" and me["available_roles"] == ["director", "interviewer"]


async def test_wrong_password(client: TestClient, world: World) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": world.a.director_email, "password": "nope"}
    )
    assert response.status == 401
    error = await error_of(response)
    assert error["code"] == "bad_credentials" and error["field"] == "password"
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_logout_ends_the_session(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    response = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status == 204
    assert (await client.get("/api/v1/auth/me")).status == 401


async def test_login_rate_limit(client: TestClient, world: World, clock: FakeClock) -> None:
    email = world.a.coordinator_email
    for _ in range(10):
        bad = await client.post("/api/v1/auth/login", json={"email": email, "password": "x"})
        assert bad.status == 401
    limited = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert limited.status == 429
    assert (await error_of(limited))["code"] == "rate_limited"
    await clock.advance(61)
    assert await login(client, email)


async def test_csrf_refused_without_token(client: TestClient, world: World) -> None:
    await login(client, world.a.director_email)
    response = await client.post("/api/v1/auth/role", json={"role": "interviewer"})
    assert response.status == 403
    assert (await error_of(response))["code"] == "csrf"
    wrong = await client.post(
        "/api/v1/auth/role", json={"role": "interviewer"}, headers={"X-CSRF-Token": "forged"}
    )
    assert wrong.status == 403


async def test_csrf_refused_on_page_forms(client: TestClient, world: World) -> None:
    await login(client, world.a.director_email)
    response = await client.post("/role", data={"role": "interviewer"}, allow_redirects=False)
    assert response.status == 403
    assert "security token" in await response.text()


async def test_role_switch(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf}
    switched = await client.post("/api/v1/auth/role", json={"role": "interviewer"}, headers=headers)
    assert switched.status == 200
    assert (await (await client.get("/api/v1/auth/me")).json())["role"] == "interviewer"
    # Acting as an interviewer, the director no longer reads the applicant list.
    assert (await client.get("/api/v1/applicants")).status == 403
    raised = await client.post("/api/v1/auth/role", json={"role": "coordinator"}, headers=headers)
    assert raised.status == 400
    assert (await error_of(raised))["code"] == "role_not_allowed"


async def test_interviewer_cannot_switch_up(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    response = await client.post(
        "/api/v1/auth/role", json={"role": "director"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 400


async def test_bad_input_is_a_clear_422(client: TestClient) -> None:
    response = await client.post("/api/v1/auth/login", json={"email": "x"})
    assert response.status == 422
    error = await error_of(response)
    assert error["field"] in ("email", "password")
    not_json = await client.post(
        "/api/v1/auth/login", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert (await error_of(not_json))["code"] == "bad_json"


async def test_page_login_and_dashboard(client: TestClient, world: World) -> None:
    page = await client.post(
        "/login",
        data={"email": world.a.director_email, "password": PASSWORD, "next": "/dashboard"},
        allow_redirects=False,
    )
    assert page.status == 303 and page.headers["Location"] == "/dashboard"
    dashboard = await client.get("/dashboard")
    html = await dashboard.text()
    assert "Program A" in html and "Scores &amp; Ranks" in html


async def test_page_login_wrong_password_shows_message(client: TestClient, world: World) -> None:
    page = await client.post("/login", data={"email": world.a.director_email, "password": "x"})
    assert page.status == 401
    assert "Wrong email or password." in await page.text()


async def test_login_refuses_a_foreign_next(client: TestClient, world: World) -> None:
    page = await client.post(
        "/login",
        data={"email": world.a.director_email, "password": PASSWORD, "next": "//evil.example"},
        allow_redirects=False,
    )
    assert page.headers["Location"] == "/dashboard"
