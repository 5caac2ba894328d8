"""``make bench``: speed of the QA pipeline, written to bench/results/latest.{md,json}.

Each section runs in its own worker process (this file with ``--worker``), so its peak
RSS is its own and no section warms another's caches.  Sections not run this time are
carried over from the previous ``latest.json`` and marked as such.

    python bench/run.py                      # everything (under 20 minutes on 2 cores)
    python bench/run.py --quick              # small samples and subsets, a few minutes
    python bench/run.py --only latency,cold  # some sections
    python bench/run.py --skip-peer
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make qa/ and bench/ importable without installing
    sys.path.insert(0, str(ROOT))

SECTIONS = ("build", "latency", "incremental", "cold", "serving", "upload", "peer", "scale")
DEFAULT_OUT = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small samples, SQuAD subsets, scale up to 10^5")
    p.add_argument("--skip-peer", action="store_true", help="leave out the LangChain peer")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SECTION",
        help=f"run only these sections (comma-separated, repeatable): {', '.join(SECTIONS)}",
    )
    p.add_argument(
        "--questions", type=int, default=None, help="SQuAD questions sampled (default 300; 100 with --quick)"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default bench/results)")
    p.add_argument("--worker", choices=SECTIONS, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    if args.questions is None:
        args.questions = 100 if args.quick else 300
    only = [s.strip() for item in args.only for s in item.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if (not only or s in only) and not (args.skip_peer and s == "peer")]
    if not args.sections and not args.worker:
        p.error("no section left to run")
    return args


# ---------------------------------------------------------------- worker side
def run_worker(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from bench.common import write_json

    if args.worker == "build":
        from bench.build import run_build as fn
    elif args.worker == "incremental":
        from bench.build import run_incremental as fn
    elif args.worker == "latency":
        from bench.latency import run as fn
    elif args.worker == "cold":
        from bench.coldstart import run as fn
    elif args.worker == "peer":
        from bench.peer import run as fn
    elif args.worker == "serving":
        from bench.serving import run as fn
    elif args.worker == "upload":
        from bench.upload import run as fn
    else:
        from bench.scale import run as fn
    write_json(args.result, fn(args))
    return 0


# ---------------------------------------------------------------- orchestrator side
def run_section(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """One worker process; its result plus wall time and peak RSS (from wait4)."""
    from bench.common import say

    result = tmp / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--result", str(result)]
    cmd += ["--questions", str(args.questions), "--out", str(args.out)]
    if args.quick:
        cmd.append("--quick")
    say("bench", f"section {name}…")
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    meta = {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_avg": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    if proc.returncode != 0 or not result.is_file():
        say("bench", f"section {name} FAILED (exit {proc.returncode}) after {seconds:.0f} s")
        return {"error": f"worker exited {proc.returncode}", **meta}
    say("bench", f"section {name} done in {seconds:.0f} s, peak RSS {meta['peak_rss_mb']:.0f} MB")
    return {**json.loads(result.read_text(encoding="utf-8")), **meta}


def previous_results(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / "latest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_results(
    args: argparse.Namespace, meta: dict[str, Any], sections: dict[str, Any], old: dict[str, Any], t0: float
) -> str:
    """Merge with the previous run's other sections; write latest.json and latest.md atomically."""
    from bench.common import atomic_write, write_json
    from bench.report import markdown, targets

    merged = dict(sections)
    for name in SECTIONS:
        if name not in merged and name in old and not old[name].get("error"):
            merged[name] = {**old[name], "carried_over": True}
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    meta["load_avg_end"] = round(os.getloadavg()[0], 2)
    results = {"meta": meta, "sections": {k: merged[k] for k in SECTIONS if k in merged}}
    results["targets"] = targets(results)
    write_json(args.out / "latest.json", results)
    md = markdown(results)
    atomic_write(args.out / "latest.md", md)
    return md


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    from bench.common import machine, say, versions

    t0 = time.perf_counter()
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "argv": ["bench/run.py", *(argv if argv is not None else sys.argv[1:])],
        "machine": machine(),
        "versions": versions(),
        "sections_run": args.sections,
    }
    if meta["machine"]["load_avg_1m"] > 1.0:
        say("bench", f"note: load average is {meta['machine']['load_avg_1m']}; other processes skew the timings")
    sections: dict[str, Any] = {}
    old = previous_results(args.out).get("sections", {})
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        for name in args.sections:
            sections[name] = run_section(name, args, Path(tmp))
            md = write_results(args, meta, sections, old, t0)  # after each section: a stopped run keeps them
    print(md)
    say("bench", f"wrote {args.out / 'latest.md'} and latest.json in {meta['seconds']:.0f} s")
    return 1 if any("error" in sections[s] for s in args.sections) else 0


if __name__ == "__main__":
    sys.exit(main())
