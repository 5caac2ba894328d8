"""The JSON HTTP API: ``POST /api/ask``, ``GET /api/health``, docs at ``/api/docs``.

Scripts and services want plain JSON, not Gradio's queue protocol (which capped the
app at ~19 questions/s while a question costs ~10 ms of compute). This is a small
FastAPI app mounted at ``/api`` in the same server as the chat UI (``ui.py``), calling
the same ``Pipeline.run``:

- the body is checked by pydantic and capped at ``MAX_BODY_BYTES``; every error a
  client can cause is an HTTP 4xx with the bilingual message, never a 500 or a
  traceback;
- questions run on a bounded pool of ``workers`` threads (default: the cores), with at
  most ``max_pending`` waiting; beyond that the answer is 503 "busy", not a growing
  queue;
- when the UI has a password (``QA_UI_PASSWORD``), the API asks for the same one by
  HTTP Basic auth; a client that fails it ``LoginThrottle.LIMIT`` times in a row is
  answered 429 for a while (so is the UI's login form: ``ui.py``);
- every status it can return (404 and 405 included) carries the bilingual message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from qa.conversation import HISTORY_TURNS
from qa.errors import QAError
from qa.settings import TOP_K_DEFAULT, TOP_K_MAX
from qa.types import Asker, Turn

MAX_BODY_BYTES = 64 * 1024  # a 500-character question with 5 turns of history fits many times over
MAX_HISTORY = 50


class HistoryTurn(BaseModel):
    """An earlier turn: its question, and (optionally) what was answered."""

    question: str
    short_answer: str | None = None
    answer: str | None = None
    resolved_question: str | None = None
    abstained: bool = False


class AskRequest(BaseModel):
    question: str = Field(
        description="The question (simplified, traditional or English); long ones are cut to 500 characters."
    )
    top_k: int = Field(TOP_K_DEFAULT, ge=1, le=TOP_K_MAX, description="How many passages to cite.")
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    reader: bool = Field(True, description="False: sentence answers without the reader model.")
    history: list[str | HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description="Earlier turns, most recent last: question strings or earlier /api/ask results.",
    )


def error(status: int, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": f"{zh}\n{en}", "zh": zh, "en": en}, status_code=status)


def _authorised(header: str, credentials: tuple[str, str] | None) -> bool:
    """Whether an ``Authorization`` header carries the UI's user and password (Basic).
    Compared as UTF-8 bytes: ``hmac.compare_digest`` refuses non-ASCII ``str`` (a Chinese
    password would be a 500, even when right)."""
    if credentials is None:
        return True
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    same_user = hmac.compare_digest(user.encode("utf-8"), credentials[0].encode("utf-8"))
    return same_user & hmac.compare_digest(password.encode("utf-8"), credentials[1].encode("utf-8"))


class LoginThrottle:
    """Failed logins per client address: after ``LIMIT`` failures in a row, that client
    is refused (429) for ``LOCK_S`` seconds; a success clears its count. Guessing a
    password then takes days instead of minutes; other clients are not affected."""

    LIMIT = 5
    LOCK_S = 60.0
    MAX_CLIENTS = 10_000  # memory bound: the oldest entries go first

    def __init__(self) -> None:
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (failures, time of the last)
        self._lock = threading.Lock()

    def locked(self, client: str) -> bool:
        with self._lock:
            failures, last = self._failures.get(client, (0, 0.0))
            if failures >= self.LIMIT and time.monotonic() - last < self.LOCK_S:
                return True
            if failures >= self.LIMIT:  # the lock has run out: one more try before the next
                self._failures[client] = (self.LIMIT - 1, last)
            return False

    def failed(self, client: str) -> None:
        with self._lock:
            failures, _ = self._failures.pop(client, (0, 0.0))
            self._failures[client] = (failures + 1, time.monotonic())
            while len(self._failures) > self.MAX_CLIENTS:
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def client_of(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def throttled() -> JSONResponse:
    s = f"{LoginThrottle.LOCK_S:g}"
    return error(429, f"登录失败次数过多，请 {s} 秒后再试。", f"Too many failed logins; try again in {s} s.")


HTTP_ERRORS = {
    404: ("没有这个地址。", "Not found."),
    405: ("此地址不接受这种请求方法。", "Method not allowed here."),
}


def too_large(cap: int = MAX_BODY_BYTES) -> JSONResponse:
    return error(413, f"请求体过大（上限 {cap} 字节）。", f"Request body too large (limit {cap} bytes).")


class Guard:
    """Authentication and the body cap, as plain ASGI middleware.

    Starlette's ``@app.middleware("http")`` wraps every request in extra tasks and
    streams; measured here, this plain form serves more questions per second. A body
    without a Content-Length (chunked) is read up to the cap and then replayed.
    """

    def __init__(
        self, app: Any, credentials: tuple[str, str] | None = None, throttle: LoginThrottle | None = None
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = client_of(scope)
        if self.credentials is not None and self.throttle.locked(client):
            await throttled()(scope, receive, send)
            return
        if not _authorised(headers.get("authorization", ""), self.credentials):
            if headers.get("authorization"):  # a wrong password, not a first request without one
                self.throttle.failed(client)
            response = error(401, "需要用户名和密码。", "Authentication required.")
            response.headers["WWW-Authenticate"] = 'Basic realm="qa"'
            await response(scope, receive, send)
            return
        if self.credentials is not None:
            self.throttle.succeeded(client)
        await capped(self.app, scope, receive, send, headers, MAX_BODY_BYTES)


async def capped(app: Any, scope: dict[str, Any], receive: Any, send: Any, headers: dict[str, str], cap: int) -> None:
    """Run ``app`` on a request whose body is at most ``cap`` bytes, else answer 413. A body
    without a Content-Length (chunked) is read up to the cap and then replayed."""
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > cap):
        await too_large(cap)(scope, receive, send)
        return
    if scope.get("method") not in ("POST", "PUT", "PATCH") or length is not None:
        await app(scope, receive, send)
        return
    body, more = b"", True  # chunked: measure what comes
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > cap:
            await too_large(cap)(scope, receive, send)
            return
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    await app(scope, replay, send)


def create_api(
    pipeline: Asker,
    credentials: tuple[str, str] | None = None,
    workers: int | None = None,
    max_pending: int = 64,
    health: dict[str, Any] | None = None,
) -> FastAPI:
    """The API app (mount it at ``/api``); ``health`` is extra information for ``/health``."""
    api = FastAPI(
        title="零碳问答 JSON API",
        description="Chinese document QA with cited passages. Same answer object as `qa ask --json`.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2, thread_name_prefix="qa-api")
    slots = threading.BoundedSemaphore(max_pending)

    api.add_middleware(Guard, credentials=credentials)

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in exc.errors()[:5]
        )
        return error(400, f"请求格式错误：{where}", f"Bad request: {where}")

    @api.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        zh, en = HTTP_ERRORS.get(exc.status_code, ("请求无法处理。", f"The request cannot be served ({exc.detail})."))
        if exc.status_code == 400:  # the body is not JSON (or nested past what the parser takes)
            zh, en = "请求体不是有效的 JSON。", "The request body is not valid JSON."
        return error(exc.status_code, zh, en)

    @api.exception_handler(Exception)
    async def internal(_request: Request, _exc: Exception) -> JSONResponse:  # a bug: never a traceback to clients
        return error(500, "内部错误，请稍后再试。", "Internal error; please try again.")

    @api.post("/ask", summary="Answer a question (with the conversation so far)")
    async def ask(body: AskRequest) -> JSONResponse:
        if not slots.acquire(blocking=False):
            return error(503, "服务繁忙，请稍后再试。", "Busy; please retry shortly.")
        try:
            history = [
                Turn.from_json(h if isinstance(h, str) else h.model_dump(exclude_none=True))
                for h in body.history[-HISTORY_TURNS:]
            ]
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                pool,
                lambda: pipeline.run(
                    body.question, top_k=body.top_k, mode=body.mode, reader=body.reader, history=history
                ),
            )
            return JSONResponse(result.to_json())
        except QAError as e:
            return error(400, e.zh, e.en)
        finally:
            slots.release()

    @api.get("/health", summary="Whether the service is up, and what it serves")
    async def healthy() -> dict[str, Any]:
        return {"status": "ok", **(health or {})}

    return api
