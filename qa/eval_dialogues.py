"""Dialogue evaluation: follow-up questions asked in their conversation, judged per turn.

``eval/dialogues.jsonl`` holds one dialogue per line: ``{"id", "tags", "turns": [{"q",
"answers", "evidence", "tags", "standalone"?}]}``. Each dialogue is asked turn by turn
with ``Pipeline.run(q, history=...)``, as the chat does. First turns and follow-ups are
scored apart (answer hit, short-answer EM/F1, abstentions), plus how the follow-ups
were resolved: against the gold standalone question (character F1), whether a
follow-up that stands alone was left as asked, and the time resolution takes. On the
single-question gold set, each question is resolved after the one before it, to count
how often a standalone question is changed.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from qa.conversation import resolve
from qa.errors import QAError
from qa.metrics import answer_contains, char_f1, cmrc_em
from qa.types import Answer, Turn

DIALOGUE_SET = "dialogues"


@dataclass(frozen=True)
class GoldTurn:
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    tags: tuple[str, ...]
    standalone: str = ""  # the follow-up as a self-contained question (gold resolution)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def leans_on_context(self) -> bool:
        return "follow-up" in self.tags and "standalone-followup" not in self.tags


@dataclass(frozen=True)
class Dialogue:
    did: str
    turns: tuple[GoldTurn, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TurnResult:
    dialogue: str
    index: int
    gold: GoldTurn
    resolved: str
    abstained: bool
    answer: str
    short_answer: str | None
    hit: bool
    em: float
    f1: float
    resolution_f1: float | None
    rule: str = "none"  # the resolution rule behind the question answered ("none": as asked)


@dataclass
class DialogueReport:
    """Per-turn results and the aggregate ``summary()`` (the ``--json`` object)."""

    dataset: str
    results: list[TurnResult]
    standalone_changed: list[tuple[str, str]] = field(default_factory=list)  # gold questions changed
    standalone_total: int = 0
    resolve_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    reader: str = ""
    ceiling: list[TurnResult] = field(default_factory=list)  # each follow-up asked as its gold standalone

    def summary(self) -> dict[str, Any]:
        first = [r for r in self.results if r.index == 0]
        follow = [r for r in self.results if r.index > 0]
        dependent = [r for r in follow if r.gold.leans_on_context]
        alone = [r for r in follow if not r.gold.leans_on_context]
        unanswerable = [r for r in follow if not r.gold.answerable]
        resolved_f1 = [r.resolution_f1 for r in dependent if r.resolution_f1 is not None]
        return {
            "dataset": self.dataset,
            "kind": "dialogues",
            "dialogues": len({r.dialogue for r in self.results}),
            "turns": len(self.results),
            "first_turns": _scores(first),
            "follow_up_turns": _scores(follow),
            "unanswerable_follow_ups_declined": _rate([r.abstained for r in unanswerable]),
            "unanswerable_follow_ups": len(unanswerable),
            "resolution_f1": _mean(resolved_f1),
            "dependent_follow_ups_resolved": _rate([r.resolved != r.gold.question for r in dependent]),
            "standalone_follow_ups_unchanged": _rate([r.resolved == r.gold.question for r in alone]),
            "gold_standalone_unchanged": _rate(
                [False] * len(self.standalone_changed) + [True] * (self.standalone_total - len(self.standalone_changed))
            ),
            "resolve_ms_p50": round(statistics.median(self.resolve_ms), 3) if self.resolve_ms else None,
            "follow_ups_right": _rate([_right(r) for r in follow]),
            "by_rule": by_rule(follow),
            "standalone_ceiling": _ceiling(self.ceiling),
            "reader": self.reader,
            "seconds": round(self.seconds, 1),
        }


def _right(r: TurnResult) -> bool:
    """An answerable turn answered with the gold in the reply, an unanswerable one declined."""
    return r.hit if r.gold.answerable else r.abstained


def by_rule(results: Sequence[TurnResult]) -> dict[str, dict[str, float | int | None]]:
    """Follow-ups per resolution rule (the rule that made the question answered): how many,
    and how many right."""
    rules: dict[str, list[TurnResult]] = {}
    for r in results:
        rules.setdefault(r.rule, []).append(r)
    return {name: {"n": len(rs), "right": _rate([_right(r) for r in rs])} for name, rs in sorted(rules.items())}


def _ceiling(results: Sequence[TurnResult]) -> dict[str, Any] | None:
    """The same dialogues with every follow-up replaced by its gold standalone question:
    what resolution could reach with this retriever and reader."""
    if not results:
        return None
    follow = [r for r in results if r.index > 0]
    return {
        "first_turns": _scores([r for r in results if r.index == 0]),
        "follow_up_turns": _scores(follow),
        "unanswerable_follow_ups_declined": _rate([r.abstained for r in follow if not r.gold.answerable]),
    }


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _scores(results: Sequence[TurnResult]) -> dict[str, float | int | None]:
    """Answer hit, EM, F1 over answerable turns; false abstentions among them."""
    answerable = [r for r in results if r.gold.answerable]
    return {
        "n": len(results),
        "answerable": len(answerable),
        "answer_hit": _rate([r.hit for r in answerable]),
        "em": _mean([r.em for r in answerable]),
        "f1": _mean([r.f1 for r in answerable]),
        "false_abstain_rate": _rate([r.abstained for r in answerable]),
    }


def is_dialogue_file(path: Path) -> bool:
    """A .jsonl whose first row has "turns" (a gold set's rows have "question")."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            first = next((line for line in f if line.strip()), "")
        return path.suffix.lower() == ".jsonl" and "turns" in json.loads(first)
    except (OSError, ValueError, TypeError):
        return False


def load_dialogues(path: Path) -> list[Dialogue]:
    """Read and check the dialogue file (a clear error names the bad line)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as e:
        raise QAError(f"无法读取对话评测集 {path}：{e}", f"Cannot read the dialogue set {path}: {e}") from e
    dialogues: list[Dialogue] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            turns = tuple(
                GoldTurn(
                    str(t["q"]),
                    tuple(map(str, t.get("answers", []))),
                    tuple(map(str, t.get("evidence", []))),
                    tuple(map(str, t.get("tags", []))),
                    str(t.get("standalone", "")),
                )
                for t in row["turns"]
            )
            dialogues.append(Dialogue(str(row["id"]), turns, tuple(map(str, row.get("tags", [])))))
        except (ValueError, KeyError, TypeError) as e:
            raise QAError(
                f"对话评测集格式错误：{path} 第 {n} 行：{e!r}", f"Bad dialogue set {path} line {n}: {e!r}"
            ) from e
    return dialogues


def judge_turn(did: str, index: int, gold: GoldTurn, answer: Answer) -> TurnResult:
    answered = gold.answerable and not answer.abstained
    short = answer.short_answer if answer.short_answer is not None else answer.answer
    resolution_f1 = char_f1(answer.understood, [gold.standalone]) if gold.standalone else None
    return TurnResult(
        dialogue=did,
        index=index,
        gold=gold,
        resolved=answer.understood,
        abstained=answer.abstained,
        answer=answer.answer,
        short_answer=answer.short_answer,
        hit=answered and answer_contains(answer.answer, gold.answers),
        em=cmrc_em(short, gold.answers) if answered else 0.0,
        f1=char_f1(short, gold.answers) if answered else 0.0,
        resolution_f1=resolution_f1,
        rule=answer.resolution_rule or "none",
    )


def standalone_changes(questions: Sequence[str]) -> list[tuple[str, str]]:
    """Each question resolved after the one before it: (asked, resolved) when changed."""
    changed = []
    for previous, question in pairwise(questions):
        resolved = resolve(question, [Turn(previous)]).question
        if resolved != question:
            changed.append((question, resolved))
    return changed


def evaluate_dialogues(
    ask: Callable[[str, Sequence[Turn]], Answer],
    dialogues: Sequence[Dialogue],
    name: str = DIALOGUE_SET,
    standalone_questions: Sequence[str] = (),
    on_dialogue: Callable[[], None] | None = None,
    ceiling: bool = True,
) -> DialogueReport:
    """Ask every dialogue turn by turn with its history; ``ask(question, history)`` is
    ``Pipeline.ask`` (top 3, hybrid). ``ceiling``: ask them again with each follow-up
    replaced by its gold standalone question (``DialogueReport.ceiling``)."""
    t0 = time.perf_counter()
    resolve_ms: list[float] = []
    results = _ask_all(ask, dialogues, standalone=False, resolve_ms=resolve_ms, on_dialogue=on_dialogue)
    report = DialogueReport(
        name,
        results,
        standalone_changes(standalone_questions),
        len(standalone_questions) - 1 if standalone_questions else 0,
        resolve_ms,
    )
    if ceiling:
        report.ceiling = _ask_all(ask, dialogues, standalone=True)
    report.seconds = time.perf_counter() - t0
    return report


def _ask_all(
    ask: Callable[[str, Sequence[Turn]], Answer],
    dialogues: Sequence[Dialogue],
    standalone: bool,
    resolve_ms: list[float] | None = None,
    on_dialogue: Callable[[], None] | None = None,
) -> list[TurnResult]:
    """Every turn of every dialogue, in order, each with the turns before it as history;
    ``standalone``: a follow-up is asked as its gold standalone question."""
    results: list[TurnResult] = []
    for dialogue in dialogues:
        history: list[Turn] = []
        for i, gold in enumerate(dialogue.turns):
            question = (gold.standalone or gold.question) if standalone else gold.question
            if resolve_ms is not None:
                r0 = time.perf_counter()
                resolve(question, history)
                resolve_ms.append((time.perf_counter() - r0) * 1000)
            answer = ask(question, history)
            results.append(judge_turn(dialogue.did, i, gold, answer))
            history.append(Turn(question, answer))
        if on_dialogue:
            on_dialogue()
    return results


def report_json(report: DialogueReport) -> dict[str, Any]:
    return {
        **report.summary(),
        "gold_standalone_changed": [{"question": q, "resolved": r} for q, r in report.standalone_changed],
        "turns_detail": [
            {
                "dialogue": r.dialogue,
                "turn": r.index,
                "question": r.gold.question,
                "resolved": r.resolved,
                "gold_standalone": r.gold.standalone or None,
                "answers": list(r.gold.answers),
                "short_answer": r.short_answer,
                "answer": r.answer,
                "abstained": r.abstained,
                "hit": r.hit,
                "em": r.em,
                "f1": round(r.f1, 4),
                "resolution_f1": None if r.resolution_f1 is None else round(r.resolution_f1, 4),
                "tags": list(r.gold.tags),
                "rule": r.rule,
            }
            for r in report.results
        ],
    }


def report_markdown(report: DialogueReport) -> str:
    s = report.summary()
    rows = [f"# Dialogues: {s['dataset']} ({s['dialogues']} dialogues, {s['turns']} turns, reader {s['reader']})", ""]
    rows += ["| turns | n | answerable | answer hit | EM | F1 | false abstain |", "|---|---|---|---|---|---|---|"]
    for key in ("first_turns", "follow_up_turns"):
        m = s[key]
        cells = [m[k] for k in ("n", "answerable", "answer_hit", "em", "f1", "false_abstain_rate")]
        rows.append(f"| {key.replace('_', ' ')} | " + " | ".join("n/a" if c is None else str(c) for c in cells) + " |")
    if s["standalone_ceiling"]:
        for key in ("first_turns", "follow_up_turns"):
            m = s["standalone_ceiling"][key]
            cells = [m[k] for k in ("n", "answerable", "answer_hit", "em", "f1", "false_abstain_rate")]
            label = f"{key.replace('_', ' ')}, as gold standalone"
            rows.append(f"| {label} | " + " | ".join("n/a" if c is None else str(c) for c in cells) + " |")
    rows += ["", "| follow-ups by rule | n | right |", "|---|---|---|"]
    rows += [f"| {name} | {v['n']} | {v['right']} |" for name, v in s["by_rule"].items()]
    rows += ["", "| resolution | value |", "|---|---|"]
    for key in (
        "unanswerable_follow_ups_declined",
        "resolution_f1",
        "dependent_follow_ups_resolved",
        "standalone_follow_ups_unchanged",
        "gold_standalone_unchanged",
        "resolve_ms_p50",
    ):
        rows.append(f"| {key.replace('_', ' ')} | {'n/a' if s[key] is None else s[key]} |")
    misses = [
        r for r in report.results if (r.gold.answerable and not r.hit) or (not r.gold.answerable and not r.abstained)
    ]
    rows += ["", f"## Misses ({len(misses)})", ""]
    for r in misses:
        got = "declined" if r.abstained else (r.short_answer or r.answer.split("\n")[0])[:60]
        want = " / ".join(r.gold.answers) or "decline"
        rows.append(f"- {r.dialogue}#{r.index} {r.gold.question} → understood {r.resolved} → {got} (gold: {want})")
    return "\n".join(rows) + "\n"


def ablation(
    ask: Callable[[str, Sequence[Turn]], Answer], dialogues: Sequence[Dialogue], base: DialogueReport
) -> dict[str, Any]:
    """Each resolution rule (and refinement) switched off in turn: the follow-ups right
    without it, and its gain (right with all rules minus right without it)."""
    from qa.conversation import RULE_NAMES, rules_off

    right = base.summary()["follow_ups_right"] or 0.0
    out: dict[str, Any] = {"dataset": base.dataset, "follow_ups_right": right, "rules": {}}
    for name in RULE_NAMES:
        with rules_off(name):
            without = _ask_all(ask, dialogues, standalone=False)
        follow = [r for r in without if r.index > 0]
        off = _rate([_right(r) for r in follow]) or 0.0
        out["rules"][name] = {"right_without": off, "gain": round(right - off, 4)}
    return out


def write_ablation(result: dict[str, Any], out_dir: Path) -> list[Path]:
    from qa.fileio import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    name = result["dataset"]
    paths = [out_dir / f"{name}-ablation.json", out_dir / f"{name}-ablation.md"]
    rows = [f"# Rule ablation: {name} (follow-ups right with every rule: {result['follow_ups_right']})", ""]
    rows += ["| rule switched off | follow-ups right | gain of the rule |", "|---|---|---|"]
    rows += [f"| {k} | {v['right_without']} | {v['gain']:+.4f} |" for k, v in result["rules"].items()]
    atomic_write_text(paths[0], json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(paths[1], "\n".join(rows) + "\n")
    return paths


def write_reports(report: DialogueReport, out_dir: Path) -> list[Path]:
    from qa.fileio import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{report.dataset}.json", out_dir / f"{report.dataset}.md"]
    atomic_write_text(paths[0], json.dumps(report_json(report), ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(paths[1], report_markdown(report))
    return paths


def dialogue_table(report: DialogueReport):  # type: ignore[no-untyped-def]
    """The summary as a rich table, for ``qa eval``'s terminal output."""
    from rich.table import Table

    s = report.summary()
    table = Table(title=f"{s['dataset']}: {s['dialogues']} dialogues, {s['turns']} turns")
    for column in ("metric", "first turns", "follow-ups"):
        table.add_column(column)
    ceiling = s["standalone_ceiling"]
    if ceiling:
        table.add_column("follow-ups as gold standalone")
    for key in ("answer_hit", "em", "f1", "false_abstain_rate"):
        cells = [str(s[t][key]) for t in ("first_turns", "follow_up_turns")]
        table.add_row(key, *cells, *([str(ceiling["follow_up_turns"][key])] if ceiling else []))
    for key in ("unanswerable_follow_ups_declined", "resolution_f1", "gold_standalone_unchanged", "resolve_ms_p50"):
        table.add_row(key, "", str(s[key]), *([""] if ceiling else []))
    if ceiling:
        declined = str(ceiling["unanswerable_follow_ups_declined"])
        table.add_row("unanswerable declined, as gold standalone", "", "", declined)
    return table
