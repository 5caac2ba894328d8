"""Section 4: cold start of ``qa ask`` and ``ui.py`` as fresh processes, with their peak RSS.

The index is built before timing starts (a first, uncounted ``qa ask`` does it), so the
numbers are process start -> model and index loaded -> first answer printed or served.
Peak RSS comes from ``os.wait4`` on each child: exact, and only that child's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import CORPUS, ROOT, bench_cache, say

QUESTION = "零碳园区建设的目标是什么？"
ASK_RUNS = 3
UI_RUNS = 2
UI_TIMEOUT_S = 120


def child_env() -> dict[str, str]:
    """The children find qa/ even when it is not pip-installed, and never reach for a hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.pop("QA_CORPUS_DIR", None)
    env.pop("QA_INDEX_DIR", None)
    return env


def qa_command() -> list[str]:
    """The ``qa`` console script when installed, else the same entry point through python."""
    script = Path(sys.executable).parent / "qa"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from qa.cli import main; main()"]


def wait_rss(proc: subprocess.Popen[Any]) -> tuple[int, float]:
    """Reap a child; its exit status and peak RSS in MB."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def time_ask(index_dir: Path) -> dict[str, Any]:
    """Process start -> first line of the answer on stdout, and -> exit."""
    cmd = [*qa_command(), "ask", QUESTION, "--corpus", str(CORPUS), "--index", str(index_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    t_answer = time.perf_counter() - t0
    rest = proc.stdout.read()
    err = proc.stderr.read()
    code, rss = wait_rss(proc)
    t_exit = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"qa ask exited {code}: {err.strip()[-500:]}")
    return {
        "answer_s": round(t_answer, 3),
        "exit_s": round(t_exit, 3),
        "peak_rss_mb": round(rss, 1),
        "answer": (first + rest).strip().splitlines()[0][:80] if first else "",
        "rebuilt": "rebuilt" in err,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_ui(index_dir: Path) -> dict[str, Any]:
    """``python ui.py --port N`` -> first answer received through gradio_client."""
    import httpx
    from gradio_client import Client  # imported before the clock starts

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, str(ROOT / "ui.py"), "--port", str(port), "--corpus", str(CORPUS), "--index", str(index_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t_http = None
    try:
        while t_http is None:
            if proc.poll() is not None:
                raise RuntimeError(f"ui.py exited {proc.returncode}: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
            if time.perf_counter() - t0 > UI_TIMEOUT_S:
                raise RuntimeError(f"ui.py did not serve within {UI_TIMEOUT_S} s")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    t_http = time.perf_counter() - t0
                    break
            time.sleep(0.05)
        client = Client(url, verbose=False)
        result = client.predict(QUESTION, 3, "hybrid", api_name="/ask")
        t_answer = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # Popen.wait reaped it already; resource usage of all reaped children is what is left.
    answer = result.get("answer", "") if isinstance(result, dict) else str(result)
    return {"http_s": round(t_http, 3), "answer_s": round(t_answer, 3), "answer": answer[:80]}


def ui_with_rss(index_dir: Path) -> dict[str, Any]:
    """Run ``time_ui`` in a fresh helper process so RUSAGE_CHILDREN is ui.py's alone."""
    import json

    code = (
        "import json, resource, sys; from pathlib import Path; from bench.coldstart import time_ui; "
        "r = time_ui(Path(sys.argv[1])); "
        "r['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1); "
        "print(json.dumps(r, ensure_ascii=False))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(index_dir)], cwd=ROOT, env=child_env(), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-800:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args: Any) -> dict[str, Any]:
    index_dir = bench_cache() / "cold-index"
    res: dict[str, Any] = {"question": QUESTION, "command": " ".join(qa_command()[:1]) + " ask"}
    say("cold", "warm-up `qa ask` (builds the index if missing; not counted)")
    warm = time_ask(index_dir)
    res["warmup"] = warm
    runs = []
    for i in range(ASK_RUNS):
        runs.append(time_ask(index_dir))
        say("cold", f"qa ask run {i + 1}: answer at {runs[-1]['answer_s']} s, peak RSS {runs[-1]['peak_rss_mb']} MB")
    res["qa_ask"] = {
        "runs": runs,
        "answer_s_median": statistics.median(r["answer_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }
    if not (ROOT / "ui.py").is_file():
        res["ui"] = {"skipped": "ui.py not found"}
        return res
    ui_runs = []
    for i in range(UI_RUNS):
        try:
            ui_runs.append(ui_with_rss(index_dir))
        except (RuntimeError, OSError, ValueError) as e:
            res["ui"] = {"skipped": f"ui.py failed: {e}"}
            return res
        say("cold", f"ui.py run {i + 1}: first answer at {ui_runs[-1]['answer_s']} s")
    res["ui"] = {
        "runs": ui_runs,
        "answer_s_median": statistics.median(r["answer_s"] for r in ui_runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in ui_runs),
    }
    res["profile"] = profile_phases()
    return res


# ---------------------------------------------------------------- where a cold start goes
PROFILE_CODE = r"""
import json, sys, time
t = [("start", time.perf_counter())]
import psutil, os
boot = time.time() - psutil.Process().create_time()
t_boot = time.perf_counter()
import qa.cli, qa.pipeline; t.append(("import qa (cli, pipeline)", time.perf_counter()))
from qa.model import Encoder
enc = Encoder(progress=False); t.append(("Encoder() (hash model file, load query engine)", time.perf_counter()))
from pathlib import Path
from qa.pipeline import Pipeline, ensure_index
index, _ = ensure_index(Path(sys.argv[1]), Path(sys.argv[2]), enc, progress=False)
t.append(("ensure_index (hash corpus, verify + load index)", time.perf_counter()))
pipe = Pipeline(index, enc)
pipe.ask(sys.argv[3]); t.append(("first ask (jieba dictionary, OpenCC, first forward)", time.perf_counter()))
pipe.ask(sys.argv[3]); t.append(("second ask", time.perf_counter()))
phases = {"interpreter start": round(boot - (t_boot - t[0][1]), 3)}
for (a, ta), (b, tb) in zip(t, t[1:]):
    phases[b] = round(tb - ta, 3)
phases["torch imported"] = "torch" in sys.modules
print(json.dumps(phases, ensure_ascii=False))
"""


def profile_phases() -> dict[str, Any]:
    """Seconds per phase of a cold ``qa ask`` (a fresh process doing the same steps)."""
    import json

    out = subprocess.run(
        [sys.executable, "-c", PROFILE_CODE, str(CORPUS), str(bench_cache() / "cold-index"), QUESTION],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])
