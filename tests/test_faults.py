"""Faults: damaged indexes, SIGKILL at every stage of a build, a full disk, concurrent builders.

The promise under test: whatever happens to a build, the index that loads afterwards
answers exactly as one of the two complete builds (the previous one unless the
manifest had already switched), and the next successful build leaves no debris.
Answers are compared by chunk ids and scores for a fixed set of questions in every
retrieval mode, plus the full answer JSON.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa.index
from qa.cli import describe_reasons
from qa.errors import QAError
from qa.index import HybridIndex, read_manifest
from qa.pipeline import Pipeline, ensure_index
from qa.types import MODES
from tests.conftest import ARTICLE, ARTIFACTS, ROOT, FakeEncoder
from tests.test_bad_input import run_cli

QUESTIONS = (
    "首批国家级零碳园区有多少个？",
    "首批國家級零碳園區有多少個？",
    "零碳工厂建设到2030年将拓展到哪些行业？",
    "浙江计划今年启动建设多少个省级零碳园区？",
    "零碳园区认证办法由谁发布？",
    "How many zero-carbon parks?",
)
EXTRA = "零碳园区认证办法由国家认证认可监督管理委员会发布。首批国家级零碳园区共有五十二个，省级零碳园区另有一百个。"


def fingerprint(index_dir: Path) -> dict[str, Any]:
    """What a user would see from this index: ranked (chunk id, score) per mode, and each answer."""
    pipe = Pipeline(HybridIndex.load(index_dir), FakeEncoder())
    out: dict[str, Any] = {}
    for q in QUESTIONS:
        for mode in MODES:
            out[f"{q}|{mode}"] = [(h.chunk.chunk_id, h.score) for h in pipe.search(q, 5, mode)]
        out[f"{q}|answer"] = pipe.ask(q).to_json()
    return out


def debris(index_dir: Path) -> list[str]:
    """Temp folders and half-written manifests (the lock file is not debris)."""
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-") or p.name.endswith(".tmp"))


def builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("build-*"))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Corpus A (the article) and B (plus a file that changes the answers), each with a reference index."""
    base = tmp_path_factory.mktemp("faults")
    out: dict[str, Path] = {}
    for name, extra in (("A", None), ("B", EXTRA)):
        corpus = base / f"corpus-{name}"
        corpus.mkdir()
        shutil.copy(ARTICLE, corpus / ARTICLE.name)
        if extra:
            (corpus / "certification.txt").write_text(extra, encoding="utf-8")
        ensure_index(corpus, base / f"ref-{name}", FakeEncoder(), progress=False)
        out[name], out[f"ref-{name}"] = corpus, base / f"ref-{name}"
    return out


@pytest.fixture(scope="module")
def expected(corpora: dict[str, Path]) -> dict[str, dict[str, Any]]:
    fps = {name: fingerprint(corpora[f"ref-{name}"]) for name in "AB"}
    assert fps["A"] != fps["B"], "the two corpora must answer differently for the kill test to mean anything"
    return fps


@pytest.fixture
def index_a(corpora: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of the reference index of corpus A."""
    shutil.copytree(corpora["ref-A"], tmp_path / "idx")
    return tmp_path / "idx"


# ---------------------------------------------------------------- damaged index files
def test_every_index_file_truncated_is_detected_and_rebuilt(
    corpora: dict[str, Path], expected: dict[str, Any], tmp_path: Path
) -> None:
    names = sorted(read_manifest(corpora["ref-A"])["files"])
    assert {"chunks.jsonl", "vectors.npy", "dense.faiss"} < set(names) and any(n.startswith("bm25/") for n in names)
    for name in names:
        idx = tmp_path / name.replace("/", "_")
        shutil.copytree(corpora["ref-A"], idx)
        path = idx / read_manifest(idx)["build"] / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(QAError, match="checksum") as info:
            HybridIndex.load(idx)
        assert name in info.value.en and name in info.value.zh
        _, report = ensure_index(corpora["A"], idx, FakeEncoder(), progress=False)
        assert report.rebuilt and report.reasons[0].startswith("unreadable") and name in report.reasons[0]
        assert fingerprint(idx) == expected["A"] and builds(idx) == [read_manifest(idx)["build"]]


def test_valid_json_with_changed_text_is_caught_by_the_checksum(index_a: Path) -> None:
    """The dangerous corruption: still parses, would cite wrong text. The checksum refuses it."""
    path = index_a / read_manifest(index_a)["build"] / "chunks.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace("52", "25", 1), encoding="utf-8")
    with pytest.raises(QAError, match=r"chunks\.jsonl \(checksum mismatch\)"):
        HybridIndex.load(index_a)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda m: "{" + json.dumps(m)[:40], "missing"),  # truncated manifest: no index
        (lambda m: json.dumps({**m, "build": "../../etc"}), "unreadable: The index manifest is incomplete"),
        (lambda m: json.dumps({**m, "files": list(m["files"])}), "unreadable: The index manifest is incomplete"),
        (lambda m: json.dumps({**m, "files": {"chunks.jsonl": "0"}}), "unreadable: The index manifest is incomplete"),
        (lambda m: json.dumps({**m, "n_chunks": m["n_chunks"] + 1}), "unreadable: Index is inconsistent"),
        (lambda m: json.dumps({**m, "dim": 32}), "unreadable: Index is inconsistent"),
        (lambda m: "[]", "missing"),
    ],
    ids=["truncated", "path-traversal", "files-not-a-map", "files-incomplete", "count", "dim", "not-an-object"],
)
def test_damaged_manifest_is_explained_and_rebuilt(
    corpora: dict[str, Path], expected: dict[str, Any], index_a: Path, damage: Any, reason: str
) -> None:
    m = read_manifest(index_a)
    (index_a / "manifest.json").write_text(damage(m), encoding="utf-8")
    _, report = ensure_index(corpora["A"], index_a, FakeEncoder(), progress=False)
    assert report.rebuilt and report.reasons[0].startswith(reason), report.reasons
    assert fingerprint(index_a) == expected["A"]
    assert builds(index_a) == [read_manifest(index_a)["build"]] and debris(index_a) == []


def test_index_path_that_is_a_file_is_a_message(corpora: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "idx").write_text("not a folder", encoding="utf-8")
    with pytest.raises(QAError, match="Writing the index failed") as info:
        ensure_index(corpora["A"], tmp_path / "idx", FakeEncoder(), progress=False)
    assert "原有索引保持不变" in info.value.zh


def test_manifest_from_another_model_is_explained_and_rebuilt(corpora: dict[str, Path], index_a: Path) -> None:
    """A model with another id, weights and dimension: nothing of the old index is reused."""
    other = FakeEncoder()
    other.model_id, other.fingerprint, other.dim = "fake/other-model", "other-v2", 32
    index, report = ensure_index(corpora["A"], index_a, other, progress=False)
    assert report.rebuilt and set(report.reasons) == {"model_id", "model_fingerprint"} and report.reused == 0
    assert index.vectors.shape[1] == 32 and HybridIndex.load(index_a).settings.model_id == "fake/other-model"
    assert "另一个嵌入模型" in describe_reasons(report.reasons) and "another embedding model" in describe_reasons(
        report.reasons
    )


def test_index_build_explains_a_model_change(corpora: dict[str, Path], index_a: Path) -> None:
    result = run_cli(
        "index",
        "build",
        "--corpus",
        str(corpora["A"]),
        "--index",
        str(index_a),
        env={"FAKE_MODEL_ID": "fake/other-model", "FAKE_MODEL_FINGERPRINT": "other-v2"},
    )
    assert result.returncode == 0, result.stderr
    assert (
        "原因 / Why: 按要求重建 / rebuild requested; 索引由另一个嵌入模型建立 / the index was built with another "
        "embedding model; 嵌入模型的权重不同 / the embedding model's weights differ" in result.stdout
    )
    assert "没有跳过任何文件 / No files skipped" in result.stdout


# ---------------------------------------------------------------- SIGKILL during a build
BUILD_DRIVER = """
'''Force-build an index with the fake encoder, announcing each stage; pause at one so it can be killed.'''
import os, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path

import numpy as np

import qa.index
from qa.pipeline import ensure_index
from tests.conftest import FakeEncoder

corpus, index_dir, pause = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
step = 0.03 if pause == "random" else 0.0  # random kills: stretch each stage so a random moment hits one


def mark(name):
    print(name, flush=True)
    time.sleep(step)
    if name == pause:
        time.sleep(120)


class SlowEncoder(FakeEncoder):
    def encode_passages(self, texts, batch_size=32, progress=False):
        mark("embedding")
        return super().encode_passages(texts)


real_save, real_replace = np.save, os.replace
real_write_manifest, real_cleanup = qa.index.atomic_write_text, qa.index.remove_stale_builds


def half_then_pause_save(path, arr, allow_pickle=False):  # dies with vectors.npy half written
    import io

    buf = io.BytesIO()
    real_save(buf, arr, allow_pickle=allow_pickle)
    data = buf.getvalue()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        mark("writing-files")
        f.write(data[len(data) // 2 :])


def write_manifest(path, text):  # the build folder is renamed, the manifest not yet written
    mark("before-manifest")
    real_write_manifest(path, text)


def replace(src, dst):  # the new manifest is written and fsynced, not yet switched
    if str(dst).endswith("manifest.json"):
        mark("manifest-written")
    real_replace(src, dst)


def cleanup(index_dir, keep):  # switched: the old build is not yet removed
    mark("after-switch")
    real_cleanup(index_dir, keep)


np.save = half_then_pause_save
os.replace = replace
qa.index.atomic_write_text = write_manifest
qa.index.remove_stale_builds = cleanup
mark("start")
ensure_index(corpus, index_dir, SlowEncoder(), force=True, progress=False)
print("done", flush=True)
"""

# (where to kill, which index must load afterwards, what the kill must leave behind)
KILL_PLAN = (
    ("embedding", "old", None),
    ("writing-files", "old", ".tmp-build-"),
    ("before-manifest", "old", "extra build"),
    ("manifest-written", "old", ".manifest.json."),
    ("after-switch", "new", "extra build"),
)


def start_build(driver: Path, corpus: Path, index_dir: Path, pause: str, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with log.open("a") as err:
        return subprocess.Popen(
            [sys.executable, str(driver), str(corpus), str(index_dir), pause],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
            env=env,
        )


def wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    """Stage names the builder printed, up to and including ``marker``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"builder never reached {marker!r}; saw {seen}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            assert line, f"builder exited (code {proc.poll()}) before {marker!r}; saw {seen}"
            seen.append(line.strip())
    return seen


def kill(proc: subprocess.Popen[str]) -> list[str]:
    """SIGKILL the builder; returns the stage names it printed that were not read yet."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    rest = proc.stdout.read().split() if proc.stdout else []
    if proc.stdout:
        proc.stdout.close()
    return rest


def test_sigkill_at_every_stage_keeps_a_complete_index(
    corpora: dict[str, Path], expected: dict[str, Any], index_a: Path, tmp_path: Path
) -> None:
    """Kill a real builder process at five named stages and at three random moments of its write phase."""
    driver = tmp_path / "build_driver.py"
    driver.write_text(BUILD_DRIVER.format(root=str(ROOT)), encoding="utf-8")
    log = tmp_path / "builder.log"
    current = "A"
    rng = random.Random(6)
    plan = [*KILL_PLAN, *(("random", "either", None),) * 3]
    survived: list[dict[str, Any]] = []
    for pause, after, leftover in plan:
        target = "B" if current == "A" else "A"
        n_builds = len(builds(index_a))
        proc = start_build(driver, corpora[target], index_a, pause, log)
        seen: list[str] = []
        try:
            if pause == "random":
                seen = wait_for(proc, "writing-files")  # the first write; what comes before writes nothing
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                seen = wait_for(proc, pause)
        finally:
            seen += kill(proc)
        fp = fingerprint(index_a)  # loads with checksum verification
        now = "A" if fp == expected["A"] else "B" if fp == expected["B"] else None
        assert now is not None, f"after a kill at {pause!r} the index answers like neither complete build"
        if after != "either":
            assert now == (target if after == "new" else current), (pause, now)
        if leftover == "extra build":
            assert len(builds(index_a)) == n_builds + 1, (pause, builds(index_a))
        elif leftover:
            assert any(name.startswith(leftover) for name in debris(index_a)), (pause, debris(index_a))
        survived.append({"kill": pause, "last_stage": seen[-1], "index_after": "new" if now == target else "old"})
        current = now
    target = "B" if current == "A" else "A"
    proc = start_build(driver, corpora[target], index_a, "never", log)
    try:
        assert wait_for(proc, "done")[-1] == "done"
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        kill(proc)
    assert fingerprint(index_a) == expected[target]
    assert debris(index_a) == [] and builds(index_a) == [read_manifest(index_a)["build"]]
    named = [s for s in survived if s["kill"] != "random"]
    assert [s["last_stage"] for s in named] == [s["kill"] for s in named]  # each kill landed at its stage
    assert {s["index_after"] for s in survived} == {"old", "new"}  # and both outcomes were exercised
    assert "Traceback" not in log.read_text()
    (ARTIFACTS / "kills.json").write_text(json.dumps(survived, indent=1), encoding="utf-8")


# ---------------------------------------------------------------- a full disk
def raise_enospc(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def enospc_on_manifest_fsync(real_fsync: Any) -> Any:
    def fsync(fd: int) -> None:
        if ".manifest.json." in os.readlink(f"/proc/self/fd/{fd}"):
            raise_enospc()
        real_fsync(fd)

    return fsync


@pytest.mark.parametrize("where", ["chunks", "vectors", "faiss", "bm25", "manifest"])
def test_write_failure_at_any_file_leaves_the_previous_index(
    corpora: dict[str, Path], expected: dict[str, Any], index_a: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import bm25s
    import faiss

    manifest = (index_a / "manifest.json").read_bytes()
    if where == "chunks":
        monkeypatch.setattr(qa.index, "_chunk_to_json", raise_enospc)
    elif where == "vectors":  # numpy reports a short write without an errno
        monkeypatch.setattr(np, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("1536 requested and 0 written")))
    elif where == "faiss":  # faiss reports a failed write as RuntimeError
        monkeypatch.setattr(faiss, "write_index", lambda *a: (_ for _ in ()).throw(RuntimeError("Error: write error")))
    elif where == "bm25":
        monkeypatch.setattr(bm25s.BM25, "save", raise_enospc)
    else:
        monkeypatch.setattr(os, "fsync", enospc_on_manifest_fsync(os.fsync))
    with pytest.raises(QAError) as info:
        ensure_index(corpora["B"], index_a, FakeEncoder(), progress=False)
    monkeypatch.undo()
    e = info.value
    assert "原有索引保持不变" in e.zh and "previous index is unchanged" in e.en
    if where in ("chunks", "bm25", "manifest"):
        assert "磁盘空间不足" in e.zh and "the disk is full" in e.en
    assert (index_a / "manifest.json").read_bytes() == manifest
    assert fingerprint(index_a) == expected["A"]
    assert debris(index_a) == [] and builds(index_a) == [read_manifest(index_a)["build"]]


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A size-limited tmpfs at ``path`` (root only); skips the test where mounting is not allowed."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_fails_clearly_and_keeps_the_previous_index(
    corpora: dict[str, Path], expected: dict[str, Any], tmp_path: Path
) -> None:
    """A real ENOSPC: a 256 kB filesystem holds index A (~45 kB) but not an index of 110 kB more text."""
    big = tmp_path / "big-corpus"
    shutil.copytree(corpora["A"], big)
    para = EXTRA + "\n\n"
    (big / "long.txt").write_text("".join(f"第{i}段。{para}" for i in range(600)), encoding="utf-8")
    with small_disk(tmp_path / "disk", "256k") as disk:
        idx = disk / "idx"
        ensure_index(corpora["A"], idx, FakeEncoder(), progress=False)
        manifest = (idx / "manifest.json").read_bytes()
        free_before = shutil.disk_usage(disk).free
        with pytest.raises(QAError) as info:
            ensure_index(big, idx, FakeEncoder(), progress=False)
        assert "磁盘空间不足" in info.value.zh and "the disk is full" in info.value.en
        assert "previous index is unchanged" in info.value.en
        assert (idx / "manifest.json").read_bytes() == manifest and fingerprint(idx) == expected["A"]
        assert debris(idx) == [] and shutil.disk_usage(disk).free == free_before

        result = run_cli("index", "build", "--corpus", str(big), "--index", str(idx))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "磁盘空间不足" in result.stderr and "the disk is full" in result.stderr
        assert fingerprint(idx) == expected["A"] and debris(idx) == []


def test_leftovers_of_a_killed_build_are_cleared_before_writing(
    corpora: dict[str, Path], expected: dict[str, Any], tmp_path: Path
) -> None:
    """On a nearly full disk the debris of a killed build must not make the next build fail."""
    with small_disk(tmp_path / "disk", "256k") as disk:
        idx = disk / "idx"
        ensure_index(corpora["A"], idx, FakeEncoder(), progress=False)
        dead = idx / ".tmp-build-killed"
        dead.mkdir()
        (idx / ".manifest.json.dead.tmp").write_text("{", encoding="utf-8")
        with contextlib.suppress(OSError), (dead / "vectors.npy").open("wb") as f:
            for _ in range(256):
                f.write(b"\0" * 1024)
        assert shutil.disk_usage(disk).free < 16 * 1024
        ensure_index(corpora["B"], idx, FakeEncoder(), progress=False)
        assert fingerprint(idx) == expected["B"] and debris(idx) == []


# ---------------------------------------------------------------- two builders at once
def test_concurrent_builds_never_break_the_index(corpora: dict[str, Path], index_a: Path) -> None:
    """Two writers (say `make run` and `qa index build`) save in turns; neither deletes the other's work."""
    index = HybridIndex.load(corpora["ref-B"])
    errors: list[BaseException] = []

    def save_many() -> None:
        try:
            for _ in range(5):
                index.save(index_a)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=save_many) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(HybridIndex.load(index_a)) == len(index)
    assert debris(index_a) == [] and builds(index_a) == [read_manifest(index_a)["build"]]
