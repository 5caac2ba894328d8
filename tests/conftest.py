"""Shared fixtures: paths, a deterministic fake encoder for fast unit tests, the real pipeline."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
ARTICLE = CORPUS / "zero-carbon-parks.txt"
SHARED_BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
ARTIFACTS = ROOT / "tests" / "artifacts"


class FakeEncoder:
    """Bag-of-characters vectors: cheap, deterministic, and similar texts score high.

    Unit tests of indexing and retrieval use it so they do not depend on the model.
    """

    model_id = "fake/bag-of-chars"
    fingerprint = "fake-v1"
    passage_engine = "torch"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts_encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for ch in text:
            v[int(hashlib.md5(ch.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.encode_passages(texts)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the corpus folder a test may change."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture(scope="session")
def real_pipeline(tmp_path_factory: pytest.TempPathFactory):
    """The real model and a real index built from the real corpus, once per test session."""
    from qa.pipeline import Pipeline

    index_dir = tmp_path_factory.mktemp("index")
    return Pipeline.open(CORPUS, index_dir, progress=False)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
