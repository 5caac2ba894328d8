"""The checks every route of the server makes first (``qa.site_guard``): Host allowlist
against DNS rebinding, same-origin requests only, failed logins throttled."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from qa.http_api import LoginThrottle
from qa.site_guard import SiteGuard, allowed_hosts, host_name, same_origin


def _app(hosts: frozenset[str] | None, origins: tuple[str, ...] = (), throttle: LoginThrottle | None = None) -> Any:
    async def ok(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def login(request: Request) -> JSONResponse:
        form = await request.form()
        good = form.get("password") == "密码"
        return JSONResponse({"success": good}, status_code=200 if good else 400)

    routes = [
        Route("/ask", ok, methods=["GET", "POST"]),
        Route("/upload", ok, methods=["POST"]),
        Route("/login", login, methods=["POST"]),
    ]
    guard = Middleware(SiteGuard, hosts=hosts, origins=origins, throttle=throttle, uncapped=("/upload",))
    return Starlette(routes=routes, middleware=[guard])


@pytest.mark.parametrize(
    ("server", "extra", "share", "expected"),
    [
        ("127.0.0.1", (), False, {"localhost", "127.0.0.1", "::1"}),
        ("192.168.1.5", (), False, {"localhost", "127.0.0.1", "::1", "192.168.1.5"}),
        ("0.0.0.0", (), False, None),
        ("127.0.0.1", (), True, None),
        ("0.0.0.0", ("QA.example.org",), False, {"localhost", "127.0.0.1", "::1", "qa.example.org"}),
    ],
)
def test_allowed_hosts(server: str, extra: tuple[str, ...], share: bool, expected: set[str] | None) -> None:
    assert allowed_hosts(server, extra, share) == (None if expected is None else frozenset(expected))


def test_host_names_and_origins_are_parsed_with_ports_and_brackets() -> None:
    assert host_name("127.0.0.1:7860") == "127.0.0.1" and host_name("[::1]:7860") == "::1"
    assert host_name("LocalHost") == "localhost" and host_name("::1") == "::1"
    assert same_origin("http://127.0.0.1:7860", "127.0.0.1:7860")
    assert not same_origin("http://127.0.0.1:7861", "127.0.0.1:7860")
    assert not same_origin("null", "127.0.0.1:7860") and not same_origin("https://evil.example", "127.0.0.1:7860")


def test_a_rebound_host_name_is_refused_on_a_loopback_server() -> None:
    client = TestClient(_app(allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1:7860")
    assert client.get("/ask").json() == {"ok": True}
    refused = client.get("/ask", headers={"host": "evil.example:7860"})
    assert refused.status_code == 403
    assert "主机名" in refused.json()["zh"] and "QA_ALLOWED_HOSTS" in refused.json()["en"]
    assert client.get("/ask", headers={"host": "localhost:7860"}).status_code == 200


def test_requests_from_another_site_are_refused_unless_allowed() -> None:
    client = TestClient(_app(None, origins=("https://portal.example",)), base_url="http://127.0.0.1:7860")
    same = client.post("/ask", headers={"origin": "http://127.0.0.1:7860"})
    assert same.status_code == 200
    for foreign in ("https://evil.example", "null", "http://localhost:9999"):
        refused = client.post("/ask", headers={"origin": foreign})
        assert refused.status_code == 403 and "其他网站" in refused.json()["zh"], foreign
    assert client.post("/ask", headers={"origin": "https://portal.example/"}).status_code == 200
    assert client.get("/ask").status_code == 200  # no Origin: not a browser on another site


def test_failed_logins_are_throttled_per_client_and_a_success_clears_them() -> None:
    throttle = LoginThrottle()
    client = TestClient(_app(None, throttle=throttle), base_url="http://127.0.0.1:7860")
    for _ in range(LoginThrottle.LIMIT - 1):
        assert client.post("/login", data={"password": "wrong"}).status_code == 400
    assert client.post("/login", data={"password": "密码"}).status_code == 200  # clears the count
    for _ in range(LoginThrottle.LIMIT):
        assert client.post("/login", data={"password": "wrong"}).status_code == 400
    locked = client.post("/login", data={"password": "密码"})  # even the right one, while locked
    assert locked.status_code == 429 and "登录失败次数过多" in locked.json()["zh"]
    assert client.get("/ask").status_code == 200  # asking is not throttled
    assert not throttle.locked("another-client")


def test_the_lock_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.http_api

    now = [1000.0]
    monkeypatch.setattr(qa.http_api.time, "monotonic", lambda: now[0])
    throttle = LoginThrottle()
    for _ in range(LoginThrottle.LIMIT):
        throttle.failed("c")
    assert throttle.locked("c")
    now[0] += LoginThrottle.LOCK_S + 1
    assert not throttle.locked("c")
    throttle.failed("c")  # one more failure locks it again at once
    assert throttle.locked("c")


def test_every_route_but_the_uploads_has_a_body_cap() -> None:
    from qa.site_guard import MAX_BODY_BYTES

    client = TestClient(_app(None), base_url="http://127.0.0.1:7860")
    big = b"x" * (MAX_BODY_BYTES + 1)
    refused = client.post("/ask", content=big)
    assert refused.status_code == 413 and "请求体过大" in refused.json()["zh"]
    assert client.post("/ask", content=iter([big[:100], big[100:]])).status_code == 413  # chunked, measured
    assert client.post("/ask", content=b"x" * 1000).status_code == 200
    assert client.post("/upload", content=big).status_code == 200  # capped by Gradio's max_file_size instead
