"""What every route of the server checks first (the chat UI, Gradio's routes and ``/api``):
the Host it was asked for, where a request comes from, and repeated failed logins.

- **Host allowlist.** A server on 127.0.0.1 without a password is reachable from a web
  page through DNS rebinding (``evil.example`` resolving to 127.0.0.1): the browser
  sends ``Host: evil.example``. Such a server answers only the loopback names, its own
  address and ``QA_ALLOWED_HOSTS``; one bound to all interfaces (or shared) answers any
  Host unless ``QA_ALLOWED_HOSTS`` names them.
- **Same origin.** A request a browser sends from another site (its ``Origin`` is not
  this server, and not in ``QA_ALLOWED_ORIGINS``) is refused: Gradio's own CORS policy
  lets every localhost origin in, and covered ``/api`` too.
- **Login throttling.** Gradio's login form fails with a 4xx; after
  ``LoginThrottle.LIMIT`` failures in a row a client is answered 429 for a while.
- **A body cap on every route** (``MAX_BODY_BYTES``, 4 MB: a long chat's state fits
  many times over), except the upload routes, which Gradio caps at the file size limit.

Each refusal is JSON with the bilingual message, like the API's errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from qa.http_api import LoginThrottle, capped, client_of, error, throttled

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ALL_INTERFACES = ("0.0.0.0", "::", "")
LOGIN_PATHS = ("/login", "/login/")
MAX_BODY_BYTES = 4 * 1024 * 1024


def allowed_hosts(server_name: str, extra: Sequence[str] = (), share: bool = False) -> frozenset[str] | None:
    """The Host names this server answers (None: any): loopback names and its own
    address, plus ``extra``; any, when it listens on all interfaces or is shared and no
    ``extra`` narrows it."""
    named = {h.strip().lower() for h in extra if h.strip()}
    if (share or server_name in ALL_INTERFACES) and not named:
        return None
    names = set(LOOPBACK_NAMES) | named
    if server_name not in ALL_INTERFACES:
        names.add(server_name.lower())
    return frozenset(names)


def host_name(host: str) -> str:
    """``Host`` without its port: "127.0.0.1:7860" -> "127.0.0.1", "[::1]:7860" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is the server it asked (scheme aside)."""
    parts = urlsplit(origin.strip().lower())
    return bool(parts.netloc) and parts.netloc == host.strip().lower()


class SiteGuard:
    """ASGI middleware for the checks above (one instance per server)."""

    def __init__(
        self,
        app: Any,
        hosts: frozenset[str] | None = None,
        origins: Sequence[str] = (),
        throttle: LoginThrottle | None = None,
        uncapped: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.uncapped = uncapped  # path prefixes with a cap of their own (uploads)
        self.hosts = hosts
        self.origins = frozenset(o.strip().lower().rstrip("/") for o in origins if o.strip())
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            await self._refuse(scope, receive, send, *_FOREIGN_HOST)
            return
        origin = headers.get("origin", "")
        if origin and not same_origin(origin, host) and origin.lower().rstrip("/") not in self.origins:
            await self._refuse(scope, receive, send, *_FOREIGN_ORIGIN)
            return
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in LOGIN_PATHS:
            await self._login(scope, receive, send)
            return
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith(self.uncapped or ("\0",)):
            await capped(self.app, scope, receive, send, headers, MAX_BODY_BYTES)
            return
        await self.app(scope, receive, send)

    async def _login(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        client = client_of(scope)
        if self.throttle.locked(client):
            await throttled()(scope, receive, send)
            return

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                (self.throttle.failed if status >= 400 else self.throttle.succeeded)(client)
            await send(message)

        await self.app(scope, receive, watch)

    @staticmethod
    async def _refuse(scope: dict[str, Any], receive: Any, send: Any, zh: str, en: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await error(403, zh, en)(scope, receive, send)


_FOREIGN_HOST = (
    "此服务器不接受这个主机名（可在 QA_ALLOWED_HOSTS 中加入）。",
    "This server does not answer to that host name (add it to QA_ALLOWED_HOSTS).",
)
_FOREIGN_ORIGIN = (
    "拒绝来自其他网站的请求（可在 QA_ALLOWED_ORIGINS 中加入该来源）。",
    "Requests from another site are refused (add its origin to QA_ALLOWED_ORIGINS).",
)
