"""Choose the reader's abstention threshold (and record why): ``make train-reader`` runs it last.

    python -m train.calibrate_reader [--folder models/reader] [--max-false 0.05]

Every validation question of CMRC 2018 dev and DRCD dev (the reader's article split)
and every gold question is asked end to end, as a user would, with the reader never
declining; each answer's evidence (span score - null score + has-answer logit) is kept,
and so is the evidence when the answering paragraph is withheld (the eval's probe:
an on-topic question the corpus cannot answer). The threshold is the highest one that
keeps false abstentions (answerable questions declined) at or under ``--max-false`` on
every set; it is written to ``reader.json`` (``runtime.threshold``) with the rates it
gives, and a chart of declines against false abstentions as the threshold moves goes
to ``eval/reports/reader-calibration.png``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.reader_net import READER_CONFIG

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared" / "benchmarks"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", type=Path, default=PROJECT / "models" / "reader")
    p.add_argument("--gold", type=Path, default=PROJECT / "eval" / "gold.jsonl")
    p.add_argument("--squad", type=Path, nargs="*", default=[SHARED / "cmrc2018_dev.json", SHARED / "drcd_dev.json"])
    p.add_argument("--max-false", type=float, default=0.05)
    p.add_argument("--limit", type=int, default=None, help="questions per set (tests)")
    p.add_argument("--out", type=Path, default=PROJECT / "eval" / "reports")
    return p.parse_args(argv)


def rates(evidence: dict[str, dict[str, list[float]]], t: float) -> dict[str, dict[str, float | None]]:
    """Per set at threshold ``t``: answerable declined, withheld and unanswerable declined."""

    def below(xs: list[float]) -> float | None:
        return None if not xs else float(np.mean(np.array(xs) < t))

    return {
        name: {
            "false_abstain_rate": below(e["answerable"]),
            "withheld_declined": below(e["withheld"]),
            "unanswerable_declined": below(e["unanswerable"]),
        }
        for name, e in evidence.items()
    }


def choose_threshold(evidence: dict[str, dict[str, list[float]]], max_false: float) -> float:
    """The highest threshold keeping every set's false-abstention rate ≤ ``max_false``."""
    candidates = sorted({x for e in evidence.values() for x in e["answerable"]})
    best = candidates[0] if candidates else 0.0
    for t in candidates:
        if all((r["false_abstain_rate"] or 0.0) <= max_false for r in rates(evidence, t).values()):
            best = t
        else:
            break
    return float(best)


def chart(evidence: dict[str, dict[str, list[float]]], chosen: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    grid = np.linspace(min(min(e["answerable"], default=0) for e in evidence.values()) - 1, 12, 200)
    for name, e in evidence.items():
        for kind, style in (("withheld", "-"), ("unanswerable", "--")):
            if not e[kind] or not e["answerable"]:
                continue
            r = [rates({name: e}, t)[name] for t in grid]
            ax.plot(
                [x["false_abstain_rate"] for x in r], [x[f"{kind}_declined"] for x in r], style, label=f"{name} {kind}"
            )
        at = rates({name: e}, chosen)[name]
        y = at["withheld_declined"] if at["withheld_declined"] is not None else at["unanswerable_declined"]
        ax.plot([at["false_abstain_rate"]], [y], "ko", ms=4)
    ax.axvline(0.05, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("false abstention (answerable questions declined)")
    ax.set_ylabel("declined (withheld paragraph / unanswerable)")
    ax.set_xlim(0, 0.3)
    ax.set_ylim(0, 1)
    ax.set_title(f"Reader abstention as the threshold moves (chosen {chosen:.2f})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from qa import evaluate as ev
    from qa.model import Encoder
    from qa.reader import ModelReader, ReaderConfig

    args = parse_args(argv)
    config = ReaderConfig.from_folder(args.folder)
    reader = ModelReader(args.folder, config=replace(config, threshold=-1e9))  # never declines
    encoder = Encoder()
    datasets = [ev.load_dataset(args.gold, PROJECT / "corpus")]
    datasets += [ev.validation_split(ev.load_dataset(p)) for p in args.squad if p.is_file()]
    evidence: dict[str, dict[str, list[float]]] = {}
    for ds in datasets:
        ds = ev.limit_questions(ds, args.limit)
        index, _ = ev.cached_index(ds, encoder, progress=True)
        report = ev.evaluate(ds, index, encoder, ["hybrid"], 10, reader=reader, progress=True)
        e: dict[str, list[float]] = {"answerable": [], "withheld": [], "unanswerable": []}
        for r in report.results:
            m = r.modes["hybrid"]
            if m.evidence is None:
                continue
            e["answerable" if r.question.answerable else "unanswerable"].append(m.evidence)
            if m.withheld_evidence is not None:
                e["withheld"].append(m.withheld_evidence)
        evidence[ds.name] = e
        print(ds.name, {k: len(v) for k, v in e.items()}, flush=True)
    threshold = choose_threshold(evidence, args.max_false)
    summary = {"threshold": round(threshold, 4), "max_false": args.max_false, "rates": rates(evidence, threshold)}
    cfg_path = args.folder / READER_CONFIG
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["runtime"] = {**cfg.get("runtime", {}), "threshold": round(threshold, 4)}
    cfg["calibration"] = {
        "sets": {name: {k: len(v) for k, v in e.items()} for name, e in evidence.items()},
        "max_false": args.max_false,
        "rates": summary["rates"],
    }
    tmp = cfg_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(cfg_path)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reader-calibration.json").write_text(
        json.dumps({**summary, "evidence": evidence}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    chart(evidence, threshold, args.out / "reader-calibration.png")
    print(json.dumps(summary, ensure_ascii=False, indent=2), flush=True)
    return summary


if __name__ == "__main__":
    main()
