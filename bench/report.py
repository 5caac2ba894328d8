"""Results dict -> ``latest.md``: headline table, targets, then one table per section."""

from __future__ import annotations

from typing import Any

NAMES = ("article", "cmrc", "drcd")
LABELS = {"article": "article (gold)", "cmrc": "CMRC 2018 dev", "drcd": "DRCD dev"}


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _f(x: Any, digits: int = 1, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int) and not digits:
        return f"{x:,}{unit}"
    if isinstance(x, (int, float)):
        return f"{x:,.{digits}f}{unit}"
    return str(x)


def _ratio(a: Any, b: Any) -> str:
    """``a / b`` as '1.9×', or '–'."""
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return "–"
    return f"{a / b:.2f}×"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue target with the measured number and whether it is met (None: not measured)."""
    s = res.get("sections", {})
    lat = _get(s, "latency", "datasets", "article", "modes", "hybrid")
    build = _get(s, "build", "datasets") or {}
    lean = _get(s, "build", "chunks_only") or {}  # QA_SENTENCE_VECTORS=0: the peer's work
    incr = s.get("incremental", {})
    cold = s.get("cold", {})
    scale_rows = _get(s, "scale", "rows") or []
    hnsw_rows = [r for r in scale_rows if r["kind"].startswith("FAISS HNSW32")]
    top = max((r["n"] for r in hnsw_rows), default=0)
    # at the largest size, qa's own settings when they were measured, else the time-capped build
    hnsw = min((r for r in hnsw_rows if r["n"] == top), key=lambda r: len(r["kind"]), default=None)
    peer = _get(s, "peer", "datasets") or {}
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, ok: Any, shown: str) -> None:
        out.append({"target": name, "measured": value, "met": None if value is None else bool(ok), "shown": shown})

    p50, p95 = _get(lat, "p50"), _get(lat, "p95")
    add("hybrid warm p50 ≤ 10 ms (article)", p50, p50 is not None and p50 <= 10, _f(p50, 2, " ms"))
    add("hybrid warm p95 ≤ 25 ms (article)", p95, p95 is not None and p95 <= 25, _f(p95, 2, " ms"))
    reader = _get(s, "latency", "datasets", "article", "reader") or {}
    rp50, rp95 = _get(reader, "total", "p50"), _get(reader, "total", "p95")
    add("reader on: ask p50 ≤ 150 ms (article)", rp50, rp50 is not None and rp50 <= 150, _f(rp50, 1, " ms"))
    add("reader on: ask p95 ≤ 300 ms (article)", rp95, rp95 is not None and rp95 <= 300, _f(rp95, 1, " ms"))
    ret = _get(reader, "retrieve_ms", "p50")
    add("reader on: retrieve_ms p50 ≤ 10 ms (article)", ret, ret is not None and ret <= 10, _f(ret, 2, " ms"))
    for n in NAMES:
        cps = _get(build, n, "chars_per_s")
        add(f"build ≥ 3,500 chars/s ({LABELS[n]})", cps, cps is not None and cps >= 3500, _f(cps, 0, " chars/s"))
        cps = _get(lean, n, "chars_per_s")
        label = f"build ≥ 3,500 chars/s ({LABELS[n]}, chunk vectors only)"
        add(label, cps, cps is not None and cps >= 3500, _f(cps, 0, " chars/s"))
    sec = incr.get("seconds_median")
    add("incremental re-index ≤ 3 s (CMRC, 1 doc changed)", sec, sec is not None and sec <= 3, _f(sec, 2, " s"))
    ask = _get(cold, "qa_ask", "answer_s_median")
    add("`qa ask` cold ≤ 6 s", ask, ask is not None and ask <= 6, _f(ask, 2, " s"))
    ui = _get(cold, "ui", "answer_s_median")
    add("ui.py first answer ≤ 10 s", ui, ui is not None and ui <= 10, _f(ui, 2, " s"))
    hp50 = _get(hnsw, "latency_ms", "p50") if hnsw and hnsw["n"] >= 1_000_000 else None
    note = f" ({hnsw['kind']})" if hnsw and hnsw["kind"] != "FAISS HNSW32" else ""
    add("HNSW p50 ≤ 20 ms at 10^6", hp50, hp50 is not None and hp50 <= 20, _f(hp50, 3, " ms") + note)
    hrec = hnsw.get("recall@10") if hnsw and hnsw["n"] >= 1_000_000 else None
    add("HNSW recall@10 ≥ 0.95 at 10^6", hrec, hrec is not None and hrec >= 0.95, _f(hrec, 4) + note)
    for n in NAMES:
        ours, theirs = _get(peer, n, "ours", "recall@1"), _get(peer, n, "peer", "recall@1")
        add(
            f"recall@1 beats peer ({LABELS[n]})",
            ours if theirs is not None else None,
            ours is not None and theirs is not None and ours > theirs,
            f"{_f(ours, 3)} vs {_f(theirs, 3)}",
        )
        pb = _get(peer, n, "peer", "build_s")
        for what, builds in (("", build), (", chunk vectors only", lean)):
            ob = _get(builds, n, "seconds")
            add(
                f"build faster than peer ({LABELS[n]}{what})",
                ob if pb is not None else None,
                ob is not None and pb is not None and ob < pb,
                f"{_f(ob, 1, ' s')} vs {_f(pb, 1, ' s')} (ours ÷ peer {_ratio(ob, pb)})" if ob and pb else "–",
            )
    serving = s.get("serving", {})
    api_qps, own, grad = (
        _get(serving, "api", "qps"),
        serving.get("pipeline_two_threads_qps"),
        _get(serving, "gradio", "qps"),
    )
    api_errors, api_differing = _get(serving, "api", "errors"), _get(serving, "api", "differing_answers")
    errs = None if api_errors is None or api_differing is None else api_errors + api_differing
    add(
        "/api/ask, 20 clients: zero errors, answers as single-user",
        errs,
        errs == 0,
        _f(errs, 0, " errors or differences"),
    )
    add(
        "/api/ask q/s ≥ 80 % of the pipeline's (2 threads, reader off)",
        api_qps if own else None,
        api_qps is not None and own and api_qps >= 0.8 * own,
        f"{_f(api_qps, 1)} vs {_f(own, 1)} q/s",
    )
    add(
        "/api/ask q/s ≥ 3 × the Gradio endpoint's (reader off)",
        api_qps if grad else None,
        api_qps is not None and grad and api_qps >= 3 * grad,
        f"{_f(api_qps, 1)} vs {_f(grad, 1)} q/s ({_ratio(api_qps, grad)})" if grad else "–",
    )
    upload = s.get("upload", {})
    seconds = _get(upload, "browser", "seconds_to_searchable")
    shown = _get(upload, "browser", "progress_shown")
    add(
        "20-page PDF uploaded through the UI searchable in ≤ 15 s, with progress shown",
        seconds,
        seconds is not None and seconds <= 15 and bool(shown) and bool(_get(upload, "browser", "answered_from_pdf")),
        f"{_f(seconds, 1, ' s')}, progress {'shown' if shown else 'not seen'}" if seconds is not None else "–",
    )
    return out


def section_upload(up: dict[str, Any]) -> list[str]:
    out = [f"## Upload (a {up.get('pages')}-page Chinese PDF, {_f(up.get('pdf_kb'), 0)} KB)", ""]
    b, p = up.get("browser") or {}, up.get("pipeline") or {}
    rows = [
        [
            "through the UI (headless Chromium): until the panel says it was added",
            _f(b.get("seconds_to_searchable"), 1, " s"),
            f"progress {'shown' if b.get('progress_shown') else 'not seen'}; "
            f"answer cites the PDF: {b.get('answered_from_pdf')}",
        ],
        [
            "Pipeline.add_documents, an article question asked all the while",
            _f(p.get("seconds_with_asks_running"), 1, " s"),
            f"{p.get('asks_during')} asks answered during it, p50 {_f(_get(p, 'asks_during_ms', 'p50'), 0, ' ms')}"
            f" (before: {_f(_get(p, 'asks_before_ms', 'p50'), 0, ' ms')})",
        ],
        [
            "open + add_documents, nothing else running",
            _f(p.get("seconds_alone_incl_open"), 1, " s"),
            f"{p.get('chunks_added')} chunks embedded",
        ],
    ]
    out += _table(["path", "time", "notes"], rows)
    steps = p.get("steps") or []
    if steps:
        out += [
            "Progress steps (seconds since the start, fraction, what): "
            + "; ".join(f"{t} s {f:.0%} {w}" for t, f, w in steps),
            "",
        ]
    return out


def section_serving(sv: dict[str, Any]) -> list[str]:
    out = [f"## Serving ({sv.get('clients')} concurrent clients × {sv.get('per_client')} questions)", ""]
    rows = []
    for setting, d in (("reader off", sv), ("reader on", sv.get("reader_on") or {})):
        if not d:
            continue
        rows.append(
            [f"{setting}: pipeline in one process, 2 threads", _f(d.get("pipeline_two_threads_qps"), 1), "–", "–", "–"]
        )
        for label, key in (("`POST /api/ask` (JSON API)", "api"), ("Gradio `ask` endpoint", "gradio")):
            x = d.get(key, {})
            cells = [_f(x.get("qps"), 1), _f(x.get("p50_ms"), 0, " ms"), _f(x.get("p95_ms"), 0, " ms")]
            rows.append([f"{setting}: {label}", *cells, f"{x.get('errors')} / {x.get('differing_answers')}"])
    out += _table(["path", "q/s", "p50", "p95", "errors / answers differing"], rows)
    return out


def headline(res: dict[str, Any]) -> list[str]:
    s = res.get("sections", {})
    lat = _get(s, "latency", "datasets") or {}
    build = _get(s, "build", "datasets") or {}
    peer = _get(s, "peer", "datasets") or {}
    rows = []
    for mode in ("hybrid", "dense", "bm25"):
        cells = []
        for n in NAMES:
            m = _get(lat, n, "modes", mode)
            cells.append(f"{_f(m['p50'], 2)} / {_f(m['p95'], 2)}" if m else "–")
        rows.append([f"warm query p50 / p95, {mode} (ms)", *cells])
    floor = _get(s, "latency", "floor", "encode_queries", "p50")
    hyb = _get(lat, "article", "modes", "hybrid", "p50")
    rows.append(
        [
            "encoder floor p50, short question (ms)",
            f"{_f(floor, 2)} (hybrid = {_ratio(hyb, floor)} floor)",
            "",
            "",
        ]
    )
    rows.append(["build from scratch (s)", *[_f(_get(build, n, "seconds"), 1) for n in NAMES]])
    rows.append(["build chars/s", *[_f(_get(build, n, "chars_per_s"), 0) for n in NAMES]])
    lean = _get(s, "build", "chunks_only") or {}
    rows.append(["build chars/s, chunk vectors only", *[_f(_get(lean, n, "chars_per_s"), 0) for n in NAMES]])
    rows.append(["build chunks/s", *[_f(_get(build, n, "chunks_per_s"), 1) for n in NAMES]])
    rows.append(
        [
            "chunks (ours / peer)",
            *[f"{_f(_get(build, n, 'chunks'), 0)} / {_f(_get(peer, n, 'peer', 'chunks'), 0)}" for n in NAMES],
        ]
    )
    rows.append(["recall@1 hybrid (ours)", *[_f(_get(peer, n, "ours", "recall@1"), 3) for n in NAMES]])
    rows.append(["recall@1 dense (ours)", *[_f(_get(peer, n, "ours", "recall@1_dense"), 3) for n in NAMES]])
    rows.append(["recall@1 LangChain peer", *[_f(_get(peer, n, "peer", "recall@1"), 3) for n in NAMES]])
    rows.append(
        [
            "recall@1 peer, its chunk cleaned before matching",
            *[_f(_get(peer, n, "peer", "recall@1_lenient"), 3) for n in NAMES],
        ]
    )
    peer_builds = [(_get(peer, n, "peer", "build_s"), _get(build, n, "seconds")) for n in NAMES]
    rows.append(
        [
            "peer build (s), peer ÷ ours",
            *[f"{_f(pb, 1)} ({_ratio(pb, ob)})" for pb, ob in peer_builds],
        ]
    )
    rows.append(
        [
            "query p50: ours ask / peer search (ms)",
            *[
                f"{_f(_get(peer, n, 'ours', 'query', 'p50'), 2)} / {_f(_get(peer, n, 'peer', 'query', 'p50'), 2)}"
                for n in NAMES
            ],
        ]
    )
    incr = s.get("incremental", {})
    cold = s.get("cold", {})
    rows.append(
        [
            "incremental, 1 of CMRC docs changed",
            "",
            f"{_f(incr.get('seconds_median'), 2)} s, {_f(incr.get('reembedded_median'), 0)} chunks re-embedded",
            "",
        ]
    )
    rows.append(
        [
            "cold start to first answer: `qa ask` / ui.py (s)",
            f"{_f(_get(cold, 'qa_ask', 'answer_s_median'), 2)} / {_f(_get(cold, 'ui', 'answer_s_median'), 2)}",
            "",
            "",
        ]
    )
    return _table(["", *[LABELS[n] for n in NAMES]], rows)


def _part(stats: dict[str, Any]) -> str:
    share = stats.get("share_of_mean")
    return f"{_f(stats.get('p50'), 2)} ({_f(None if share is None else 100 * share, 0)}%)"


def section_latency(lat: dict[str, Any]) -> list[str]:
    out = ["## 1. Warm query latency (one question at a time, `Pipeline.ask`)", ""]
    fl = lat.get("floor", {})
    out.append(
        f'Encoder floor, `encode_queries(["{fl.get("question", "")}"])` on the {fl.get("engine", "?")} engine: '
        f"p50 {_f(_get(fl, 'encode_queries', 'p50'), 2)} ms. torch threads {lat.get('torch_threads')}, "
        f"FAISS threads {lat.get('faiss_threads')}."
    )
    out.append("")
    rows = []
    for d in lat.get("datasets", {}).values():
        for mode, m in d["modes"].items():
            rows.append(
                [
                    d["label"],
                    str(d["questions"]),
                    str(d["chunks"]),
                    mode,
                    _f(m["p50"], 2),
                    _f(m["p95"], 2),
                    _f(m["mean"], 2),
                ]
            )
    out += _table(["dataset", "questions", "chunks", "mode", "p50 ms", "p95 ms", "mean ms"], rows)
    out += ["Where hybrid time goes (timers around qa's own functions; p50 and share of the mean):", ""]
    parts = ("check", "clean/simplify", "jieba", "bm25", "encoder", "faiss", "fusion", "compose", "total")
    rows = []
    for d in lat.get("datasets", {}).values():
        bd = d["hybrid_breakdown"]["parts"]
        rows.append([d["label"], *[_part(bd[p]) for p in parts]])
    out += _table(["dataset", *parts], rows)
    return out


def section_build(b: dict[str, Any]) -> list[str]:
    out = ["## 2. Index build from scratch", ""]
    engine = b.get("passage_engine", "torch")
    out += [
        f"Passage engine: `{engine}` (`QA_PASSAGE_ENGINE`; fp32 ONNX Runtime unless set), "
        f"loaded in {_f(b.get('passage_model_load_s'), 1)} s before the clock starts; torch threads "
        f"{b.get('torch_threads')}.",
        "",
    ]
    if b.get("quick_subset"):
        out += ["(`--quick`: SQuAD sets cut to their first 150 paragraphs.)", ""]
    out += [
        "Each set is built twice: as `qa` builds by default (every chunk and every sentence embedded), and with "
        "chunk vectors only (`QA_SENTENCE_VECTORS=0`), the same work as the LangChain peer's build.",
        "",
    ]
    rows = []
    steps = ("read+clean", "chunk", "embed", "bm25 tokenize", "bm25 index + faiss", "save")
    builds = [(d, "") for d in b.get("datasets", {}).values()]
    builds += [(d, ", chunks only") for d in b.get("chunks_only", {}).values()]
    for d, what in builds:
        rows.append(
            [
                d["label"] + what,
                _f(d["documents"], 0),
                _f(d["chars"], 0),
                _f(d["chunks"], 0),
                _f(d.get("sentence_vectors"), 0),
                _f(d["seconds"], 1),
                _f(d["chars_per_s"], 0),
                _f(d["chunks_per_s"], 1),
                _f(d["embed_chars_per_s"], 0),
                *[_f(d["steps_s"][s], 2) for s in steps],
                _f(d["peak_rss_mb"], 0),
            ]
        )
    out += _table(
        [
            "dataset",
            "docs",
            "chars",
            "chunks",
            "sentence vectors",
            "s",
            "chars/s",
            "chunks/s",
            "embed chars/s",
            *[f"{s} s" for s in steps],
            "peak RSS MB",
        ],
        rows,
    )
    return out


def section_incremental(d: dict[str, Any]) -> list[str]:
    out = ["## 3. Incremental re-index (one changed document, `ensure_index` with the previous index)", ""]
    out.append(
        f"{d.get('documents')} documents ({d.get('dataset')}, one file per paragraph), {d.get('chunks')} chunks. "
        f"Opening the unchanged index: {_f(d.get('fresh_open_s'), 2)} s. The first edit below also pays one-time"
        " warm-ups (jieba's dictionary, the first encoder runs), as a fresh `qa ask` after an edit would; the target"
        f" is judged on the median of the others ({_f(d.get('seconds_median'), 2)} s)."
    )
    out.append("")
    edits = d.get("edits", [])
    if edits:
        parts = list(edits[0]["parts_ms"])
        rows = [
            [
                e["document"],
                _f(e["seconds"], 2),
                str(e["reembedded"]),
                *[_f(e["parts_ms"][p], 0) for p in parts],
                _f(e["peak_rss_mb"], 0),
            ]
            for e in edits
        ]
        out += _table(["edited", "s", "re-embedded", *[f"{p} ms" for p in parts], "peak RSS MB"], rows)
    return out


def section_cold(c: dict[str, Any]) -> list[str]:
    out = ["## 4. Cold start (fresh process, index already built)", ""]
    qa = c.get("qa_ask", {})
    rows = [
        ["`qa ask`", str(i + 1), _f(r["answer_s"], 2), _f(r["exit_s"], 2), _f(r["peak_rss_mb"], 0)]
        for i, r in enumerate(qa.get("runs", []))
    ]
    ui = c.get("ui", {})
    rows += [
        ["ui.py", str(i + 1), _f(r["answer_s"], 2), f"HTTP up {_f(r['http_s'], 2)}", _f(r["peak_rss_mb"], 0)]
        for i, r in enumerate(ui.get("runs", []))
    ]
    out += _table(["", "run", "first answer s", "exit s", "peak RSS MB"], rows)
    if ui.get("skipped"):
        out += [f"ui.py: skipped ({ui['skipped']}).", ""]
    prof = c.get("profile")
    if prof:
        out += ["Where a cold `qa ask` goes (one fresh process, seconds):", ""]
        out += _table(["phase", "s"], [[k, str(v) if isinstance(v, bool) else _f(v, 2)] for k, v in prof.items()])
    return out


def section_memory(s: dict[str, Any]) -> list[str]:
    """Section 5: one peak-RSS table gathered from the others."""
    rows = []
    if "latency" in s:
        rows.append(["warm queries, article + CMRC indexes loaded (worker)", _f(s["latency"].get("peak_rss_mb"), 0)])
    for d in (_get(s, "build", "datasets") or {}).values():
        rows.append([f"build from scratch, {d['label']}", _f(d.get("peak_rss_mb"), 0)])
    edits = _get(s, "incremental", "edits") or []
    if edits:
        rows.append(["incremental re-index, CMRC", _f(max(e["peak_rss_mb"] for e in edits), 0)])
    rows.append(["`qa ask` cold (whole process)", _f(_get(s, "cold", "qa_ask", "peak_rss_mb"), 0)])
    rows.append(["ui.py serving (whole process)", _f(_get(s, "cold", "ui", "peak_rss_mb"), 0)])
    rows.append(["LangChain peer, all three builds + queries", _f(_get(s, "peer", "peer_peak_rss_mb"), 0)])
    if "scale" in s:
        rows.append(["scale section up to the largest size (worker)", _f(s["scale"].get("peak_rss_mb"), 0)])
    return ["## 5. Peak memory (RSS, MB)", "", *_table(["what", "peak RSS MB"], rows)]


def section_peer(p: dict[str, Any]) -> list[str]:
    out = ["## 6. LangChain peer (same model folder, same data, same hit rule)", ""]
    if p.get("skipped"):
        return [*out, f"Skipped: {p['skipped']}", ""]
    rows = []
    for d in p.get("datasets", {}).values():
        o, q = d.get("ours", {}), d.get("peer", {})
        rows.append(
            [
                d["label"],
                str(d["questions"]),
                f"{_f(o.get('recall@1'), 3)} / {_f(o.get('recall@1_dense'), 3)}",
                f"{_f(q.get('recall@1'), 3)} ({_f(q.get('recall@1_lenient'), 3)})",
                f"{_f(_get(o, 'query', 'p50'), 2)} / {_f(_get(o, 'query', 'p95'), 2)}",
                f"{_f(_get(q, 'query', 'p50'), 2)} / {_f(_get(q, 'query', 'p95'), 2)}",
                f"{_f(q.get('build_s'), 1)} ({_f(q.get('chunks'), 0)} chunks)",
                _f(q.get("peak_rss_mb"), 0),
            ]
        )
    out += _table(
        [
            "dataset",
            "questions",
            "recall@1 ours hybrid / dense",
            "recall@1 peer (its chunk cleaned)",
            "ours ask p50/p95 ms",
            "peer search p50/p95 ms",
            "peer build s",
            "peer peak RSS MB",
        ],
        rows,
    )
    return out


def section_scale(sc: dict[str, Any]) -> list[str]:
    out = ["## 7. Scale (synthetic data; one query at a time)", "", "![scale](scale.png)", ""]
    rows = []
    for r in sc.get("rows", []):
        rows.append(
            [
                r["kind"],
                f"{r['n']:,}",
                _f(r["build_s"], 2),
                _f(r["latency_ms"]["p50"], 3),
                _f(r["latency_ms"]["p95"], 3),
                _f(r.get("recall@10"), 4) if "recall@10" in r else "–",
                _f(r["bytes_per_chunk"], 0),
            ]
        )
    out += _table(["index", "chunks", "build s", "p50 ms", "p95 ms", "recall@10 vs Flat", "bytes/chunk"], rows)
    for r in sc.get("rows", []):
        if r.get("ef_sweep"):
            sweep = ", ".join(
                f"efSearch {k}: {v['p50']:.3f} ms, R@10 {v['recall@10']:.3f}" for k, v in r["ef_sweep"].items()
            )
            out.append(f"- {r['kind']} at {r['n']:,}: {sweep}.")
    if sc.get("note"):
        out.append(f"- Note: {sc['note']}.")
    for t in sc.get("flat_threshold", []):
        out.append(f"- Flat p50 passes {t['budget_ms']} ms at about {_f(t['flat_crosses_at'], 0)} chunks.")
    out.append("")
    return out


def markdown(res: dict[str, Any]) -> str:
    meta = res.get("meta", {})
    m = meta.get("machine", {})
    v = meta.get("versions", {})
    out = [
        "# Benchmark results",
        "",
        f"{meta.get('date', '')} · {m.get('cpu', '?')}, {m.get('cores_usable', '?')} cores,"
        f" {m.get('ram_gb', '?')} GB RAM"
        f" · load average at start {m.get('load_avg_1m', '?')}, at end {meta.get('load_avg_end', '?')}"
        f" · `{' '.join(meta.get('argv', []))}` · {_f(meta.get('seconds'), 0)} s",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
    ]
    carried = [k for k, val in res.get("sections", {}).items() if val.get("carried_over")]
    if carried:
        out += [f"Sections carried over from an earlier run: {', '.join(carried)} (see `measured_at`).", ""]
    out += ["## Headline", "", *headline(res)]
    out += ["## Targets (issue 5)", ""]
    out += _table(
        ["target", "measured", "met"],
        [
            [t["target"], t["shown"], {True: "yes", False: "**no**", None: "not measured"}[t["met"]]]
            for t in targets(res)
        ],
    )
    s = res.get("sections", {})
    renderers = (
        ("latency", section_latency),
        ("build", section_build),
        ("incremental", section_incremental),
        ("cold", section_cold),
        ("serving", section_serving),
        ("upload", section_upload),
        ("peer", section_peer),
        ("scale", section_scale),
    )
    for name, fn in renderers:
        if name == "peer":
            out += section_memory(s)
        sec = s.get(name)
        if not sec:
            continue
        if sec.get("error"):
            out += [f"## {name}", "", f"Failed: {sec['error']}", ""]
            continue
        out += fn(sec)
        out += [
            f"Section `{name}`: {_f(sec.get('seconds'), 0)} s, worker peak RSS {_f(sec.get('peak_rss_mb'), 0)} MB,"
            f" load average {' → '.join(str(x) for x in sec.get('load_avg', []))}, measured {sec.get('measured_at')}.",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"
