"""The JSON API: in-process through FastAPI's TestClient with a stub, and served beside the UI."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.errors import QAError
from qa.http_api import MAX_BODY_BYTES, create_api
from qa.types import Answer, Reading, Result, Timings


class Stub:
    """Records calls; answers with the question and the history it was given."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[str, int, str, list[str]]] = []
        self.lock = threading.Lock()

    def run(self, question, top_k=3, mode="hybrid", depth=0, reader=True, history=()):  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls.append((question, top_k, mode, [t.resolved_question for t in history]))
        if self.fail:
            raise self.fail
        answer = Answer(question, f"答：{question}", False, mode, (), short_answer="52个")
        return Result(answer, (), Reading("model", False), Timings(1.0, 2.0, 3.0))


def client(stub: Stub, **kwargs: Any) -> TestClient:
    return TestClient(create_api(stub, **kwargs), raise_server_exceptions=False)


def test_ask_returns_the_ask_json_object_and_passes_history() -> None:
    stub = Stub()
    history = [
        "首批国家级零碳园区是谁公布的？",
        {"question": "一共有多少个？", "resolved_question": "首批…一共有多少个？"},
    ]
    r = client(stub).post("/ask", json={"question": "第二批呢？", "top_k": 2, "mode": "bm25", "history": history})
    assert r.status_code == 200
    body = r.json()
    assert body["question"] == "第二批呢？" and body["short_answer"] == "52个" and body["timings"]["total_ms"] == 3.0
    assert stub.calls == [("第二批呢？", 2, "bm25", ["首批国家级零碳园区是谁公布的？", "首批…一共有多少个？"])]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"question": 3},
        {"question": "q", "top_k": 0},
        {"question": "q", "top_k": "many"},
        {"question": "q", "mode": "fuzzy"},
        {"question": "q", "history": [3]},
        [1, 2],
    ],
)
def test_bad_requests_are_400_with_both_languages(payload: Any) -> None:
    r = client(Stub()).post("/ask", json=payload)
    assert r.status_code == 400 and "请求格式错误" in r.json()["zh"] and "Bad request" in r.json()["en"]


def test_user_errors_keep_their_message_and_bugs_are_plain_500s() -> None:
    r = client(Stub(QAError("问题为空。", "The question is empty."))).post("/ask", json={"question": " "})
    assert r.status_code == 400 and r.json()["error"] == "问题为空。\nThe question is empty."
    r = client(Stub(RuntimeError("secret detail"))).post("/ask", json={"question": "q"})
    assert r.status_code == 500 and "secret" not in r.text and "Traceback" not in r.text


def test_not_json_and_huge_bodies_are_refused() -> None:
    api = client(Stub())
    r = api.post("/ask", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = api.post("/ask", content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["en"]


def test_chunked_bodies_are_measured_as_they_come() -> None:
    """Without a Content-Length the guard reads the body up to the cap, then hands it on."""
    api = client(Stub())
    small = json.dumps({"question": "q"}).encode()
    r = api.post("/ask", content=iter([small[:5], small[5:]]), headers={"content-type": "application/json"})
    assert r.status_code == 200
    huge = iter([b"x" * 40_000, b"x" * 40_000])
    r = api.post("/ask", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["en"]


def test_password_is_asked_when_set() -> None:
    api = client(Stub(), credentials=("qa", "s3cret"))
    assert api.post("/ask", json={"question": "q"}).status_code == 401
    token = base64.b64encode(b"qa:s3cret").decode()
    assert api.post("/ask", json={"question": "q"}, headers={"authorization": f"Basic {token}"}).status_code == 200
    wrong = base64.b64encode(b"qa:nope").decode()
    assert api.get("/health", headers={"authorization": f"Basic {wrong}"}).status_code == 401


def test_a_chinese_password_is_compared_as_utf8_not_a_500() -> None:
    """hmac.compare_digest refuses non-ASCII str; the guard compares UTF-8 bytes."""
    api = client(Stub(), credentials=("用户", "密码口令"))
    right = base64.b64encode("用户:密码口令".encode()).decode()
    assert api.post("/ask", json={"question": "q"}, headers={"authorization": f"Basic {right}"}).status_code == 200
    for wrong in ("用户:密码", "user:密码口令", "用户:ｘ"):
        token = base64.b64encode(wrong.encode()).decode()
        assert api.post("/ask", json={"question": "q"}, headers={"authorization": f"Basic {token}"}).status_code == 401


def test_wrong_passwords_are_throttled_per_client() -> None:
    from qa.http_api import LoginThrottle

    api = client(Stub(), credentials=("qa", "s3cret"))
    wrong = {"authorization": "Basic " + base64.b64encode(b"qa:guess").decode()}
    right = {"authorization": "Basic " + base64.b64encode(b"qa:s3cret").decode()}
    for _ in range(LoginThrottle.LIMIT):
        assert api.post("/ask", json={"question": "q"}, headers=wrong).status_code == 401
    locked = api.post("/ask", json={"question": "q"}, headers=right)
    assert locked.status_code == 429 and locked.json()["zh"] and "Too many failed logins" in locked.json()["en"]


def test_every_status_speaks_both_languages() -> None:
    """404, 405, malformed and deeply nested JSON: the bilingual object, not FastAPI's {"detail"}."""
    api = client(Stub())
    deep = b"[" * 20_000 + b"]" * 20_000
    cases = [
        (api.get("/nowhere"), 404),
        (api.get("/ask"), 405),
        (api.post("/ask", content=b"{", headers={"content-type": "application/json"}), 400),
        (api.post("/ask", content=deep, headers={"content-type": "application/json"}), 400),
    ]
    for response, status in cases:
        body = response.json()
        assert response.status_code == status and set(body) == {"error", "zh", "en"}, (status, body)
        assert body["zh"] and body["en"] and "detail" not in body


def test_health_and_openapi() -> None:
    api = client(Stub(), health={"documents": 1})
    assert api.get("/health").json() == {"status": "ok", "documents": 1}
    schema = api.get("/openapi.json").json()
    assert {"/ask", "/health"} <= set(schema["paths"]) and api.get("/docs").status_code == 200


@pytest.fixture(scope="module")
def served_api(real_pipeline) -> Any:  # type: ignore[no-untyped-def]
    from tests.test_ui import start_app

    app, url = start_app(real_pipeline)
    try:
        yield url.rstrip("/")
    finally:
        app.close()


@pytest.mark.slow
def test_the_api_is_served_beside_the_ui(served_api: str, real_pipeline) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=served_api, timeout=120) as http:
        assert http.get("/api/health").json()["status"] == "ok"
        assert http.get("/api/docs").status_code == 200 and "/ask" in http.get("/api/openapi.json").json()["paths"]
        first = http.post("/api/ask", json={"question": "首批国家级零碳园区是谁公布的？"}).json()
        follow = http.post("/api/ask", json={"question": "一共有多少个？", "history": [first]}).json()
        assert follow["resolved_question"] == "首批国家级零碳园区一共有多少个？" and follow["short_answer"] == "52个"
        expected = real_pipeline.run("首批國家級零碳園區有多少個？").to_json()
        got = http.post("/api/ask", json={"question": "首批國家級零碳園區有多少個？"}).json()
        assert {k: v for k, v in got.items() if k not in ("latency_ms", "timings")} == {
            k: v for k, v in expected.items() if k not in ("latency_ms", "timings")
        }
        long = http.post("/api/ask", json={"question": "零碳" * 10_000}).json()
        assert "只用了前 500 字" in long["notice"]
        assert http.post("/api/ask", json={"question": ""}).status_code == 400
        assert http.get("/").status_code == 200  # the UI is still there
