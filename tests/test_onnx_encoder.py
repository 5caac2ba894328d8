"""The ONNX passage engines must embed like the torch model they were exported from."""

from __future__ import annotations

import numpy as np
import pytest

from qa import model as qm
from qa import onnx_encoder as op
from qa.errors import QAError
from tests.test_model import TEXTS

pytest.importorskip("onnxruntime")

LONG = "零碳园区建设需要统筹能源、产业和空间布局。" * 60  # > 512 tokens: truncated like torch
PASSAGES = [*TEXTS, LONG, "短"]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_PASSAGE_ENGINE", "torch")
        encoder = qm.Encoder(progress=False)
        assert encoder.passage_engine == "torch"
        return encoder.encode_passages(PASSAGES)


def _encoder(engine: str, monkeypatch: pytest.MonkeyPatch) -> qm.Encoder:
    monkeypatch.setenv("QA_PASSAGE_ENGINE", engine)
    encoder = qm.Encoder(progress=False)
    assert encoder.passage_engine == engine
    return encoder


@pytest.mark.parametrize(("engine", "floor"), [("onnx", 0.99999), ("onnx-int8", 0.99)])
def test_engine_agrees_with_torch(
    engine: str, floor: float, torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = _encoder(engine, monkeypatch).encode_passages(PASSAGES)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cos = (vectors * torch_vectors).sum(axis=1)
    assert cos.min() >= floor, dict(zip(PASSAGES, cos.round(6).tolist(), strict=True))


@pytest.mark.parametrize(("engine", "atol"), [("onnx", 1e-5), ("onnx-int8", 1e-6)])
def test_a_vector_does_not_depend_on_its_batch(engine: str, atol: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passages are sorted by length and batched; each still gets the vector it gets alone."""
    encoder = _encoder(engine, monkeypatch)
    together = encoder.encode_passages(PASSAGES)
    alone = np.stack([encoder.encode_passages([p])[0] for p in PASSAGES])
    np.testing.assert_allclose(together, alone, atol=atol)
    assert encoder.encode_passages([]).shape == (0, encoder.dim)


def test_default_is_fp32_onnx_and_recorded_apart_from_the_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_PASSAGE_ENGINE", raising=False)
    assert op.configured_engine() == "onnx"
    encoder = qm.Encoder(progress=False)
    assert encoder.passage_engine == "onnx"
    assert encoder.fingerprint == _encoder("torch", monkeypatch).fingerprint  # same weights


def test_bad_engine_name_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_PASSAGE_ENGINE", "tensorrt")
    with pytest.raises(QAError, match="QA_PASSAGE_ENGINE"):
        op.configured_engine()


def test_other_models_keep_the_torch_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the bundled model's modules are known well enough to export."""
    folder = qm.prepare_model(progress=False)
    monkeypatch.setenv("QA_EMBED_MODEL", folder)  # the same model, as a user-supplied folder
    monkeypatch.setenv("QA_PASSAGE_ENGINE", "onnx-int8")
    assert qm.Encoder(progress=False).passage_engine == "torch"


def test_export_is_atomic_and_reuses_the_fp32_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed export leaves no model file behind; int8 is quantised from an existing fp32 export."""
    from pathlib import Path

    folder = Path(qm.prepare_model(progress=False))
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("tokenizer.json", "config.json"):
        (copy / name).write_bytes((folder / name).read_bytes())

    def boom(src: Path, out: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(op, "_export_fp32", boom)
    with pytest.raises(QAError, match="ONNX"):
        op.ensure_onnx(copy, "onnx", progress=False)
    assert not list((copy / "onnx").iterdir())

    exported: list[Path] = []
    fp32 = op.ensure_onnx(folder, "onnx", progress=False)  # the real one, exported once per cache
    (copy / "onnx" / "model.onnx").symlink_to(fp32)
    monkeypatch.setattr(op, "_export_fp32", lambda src, out: exported.append(out))
    int8 = op.ensure_onnx(copy, "onnx-int8", progress=False)
    assert int8 == copy / "onnx" / "model-int8.onnx" and int8.is_file() and exported == []


def test_questions_go_through_the_same_session_as_passages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_PASSAGE_ENGINE", raising=False)
    monkeypatch.delenv("QA_QUERY_ENGINE", raising=False)
    fast = qm.Encoder(progress=False)
    assert fast.query_engine == "onnxruntime" and fast._st is None  # no torch model to answer
    queries = fast.encode_queries(TEXTS)
    assert fast._onnx is not None and fast._st is None
    monkeypatch.setenv("QA_PASSAGE_ENGINE", "torch")
    monkeypatch.setenv("QA_QUERY_ENGINE", "torch")
    slow = qm.Encoder(progress=False)
    assert slow.query_engine == "sentence-transformers"
    cos = (queries * slow.encode_queries(TEXTS)).sum(axis=1)
    assert cos.min() >= 0.99999, dict(zip(TEXTS, cos.round(6).tolist(), strict=True))


def test_bad_query_engine_name_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_QUERY_ENGINE", "gpu")
    with pytest.raises(QAError, match="QA_QUERY_ENGINE"):
        qm.Encoder(progress=False)


def test_a_damaged_onnx_file_is_exported_again(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache file that ONNX Runtime cannot read is replaced, not a traceback."""
    from pathlib import Path

    folder = Path(qm.prepare_model(progress=False))
    copy = tmp_path / "model"
    copy.mkdir()
    (copy / "tokenizer.json").write_bytes((folder / "tokenizer.json").read_bytes())
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_bytes(b"not a model")
    good = op.ensure_onnx(folder, "onnx", progress=False)
    monkeypatch.setattr(op, "_export_fp32", lambda src, out: out.symlink_to(good))
    encoder = op.OnnxEncoder(copy, "onnx", progress=False)
    assert encoder.encode(["零碳园区"], "passage: ").shape == (1, encoder.dim)

    monkeypatch.setattr(op, "_export_fp32", lambda src, out: out.write_bytes(b"still not a model"))
    (copy / "onnx" / "model.onnx").unlink()
    with pytest.raises(QAError, match="QA_PASSAGE_ENGINE=torch"):
        op.OnnxEncoder(copy, "onnx", progress=False)
