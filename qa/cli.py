"""The ``qa`` command: index, ask, corpus check, eval, serve.

Every user-caused error is a QAError and is printed as a message in Chinese and
English, never as a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.errors import QAError
from qa.types import MODES

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn QAError (and Ctrl-C) into a clean message and exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QAError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("\n已中断 / Interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


corpus_option = click.option(
    "--corpus", "corpus_dir", type=click.Path(path_type=Path), default=None, help="Corpus folder (default: corpus/)."
)
index_option = click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), default=None, help="Index folder (default: index/)."
)


@click.group()
@click.version_option(package_name="qa")
def main() -> None:
    """Chinese retrieval QA with cited passages. 中文检索问答，附引用出处。"""


# ---------------------------------------------------------------- qa index
@main.group("index")
def index_group() -> None:
    """Build or inspect the search index."""


@index_group.command("build")
@corpus_option
@index_option
@friendly_errors
def index_build(corpus_dir: Path | None, index_dir: Path | None) -> None:
    """Rebuild the index now (only changed chunks are embedded again)."""
    from qa.pipeline import Pipeline

    pipe = Pipeline.open(corpus_dir, index_dir, force_rebuild=True, progress=True)
    print_build_report(pipe.build_report)


def print_build_report(report: Any) -> None:
    if report is None or not report.rebuilt:
        click.echo("索引已是最新 / Index is up to date")
        return
    click.echo(
        f"索引已建立 / Index built: {report.n_docs} documents, {report.n_chunks} chunks, "
        f"{report.n_chunks - report.reused} embedded, {report.reused} reused, {report.seconds:.1f} s"
    )
    for s in report.skipped:
        click.echo(f"  跳过 / skipped {s.path}: {s.zh} / {s.en}")


# ---------------------------------------------------------------- qa corpus check
@main.group("corpus")
def corpus_group() -> None:
    """Inspect the corpus."""


@corpus_group.command("check")
@corpus_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def corpus_check(corpus_dir: Path | None, as_json: bool) -> None:
    """Report spans that look garbled (file:line:column) and unreadable files."""
    from qa.corpus import check_corpus
    from qa.pipeline import default_corpus_dir

    report, skipped = check_corpus(corpus_dir or default_corpus_dir())
    if as_json:
        click.echo(
            json.dumps(
                {"suspicious": [s.__dict__ for s in report], "skipped": [s.__dict__ for s in skipped]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for s in report:
        status = "已修正 corrected" if s.corrected else "未修正 NOT corrected"
        click.echo(f"{s.doc}:{s.line}:{s.column}: {s.kind}: {s.text!r} [{status}]")
    for s in skipped:
        click.echo(f"{s.path}: 跳过 skipped: {s.zh} / {s.en}")
    open_issues = sum(not s.corrected for s in report)
    click.echo(
        f"{len(report)} 处可疑 suspicious, {open_issues} 未修正 uncorrected "
        f"(fix in corrections.tsv), {len(skipped)} 个文件跳过 files skipped"
    )


# ---------------------------------------------------------------- qa ask
@main.command("ask")
@click.argument("question", required=False)
@click.option("--file", "questions_file", type=click.File("r", encoding="utf-8"), help="One question per line.")
@click.option("--top-k", default=3, show_default=True, type=int, help="How many passages to cite.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (JSON Lines with --file).")
@corpus_option
@index_option
@friendly_errors
def ask(
    question: str | None,
    questions_file: Any,
    top_k: int,
    mode: str,
    as_json: bool,
    corpus_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Answer a question about the corpus, with numbered citations."""
    from qa.pipeline import Pipeline, check_mode_and_k

    if question is None and questions_file is None:
        raise QAError("请给出问题，或用 --file 指定问题文件。", "Give a question, or a questions file with --file.")
    check_mode_and_k(mode, top_k)
    pipe = Pipeline.open(corpus_dir, index_dir, progress=sys.stderr.isatty())
    if pipe.build_report and pipe.build_report.rebuilt:
        click.echo(f"(索引已重建 / index rebuilt: {', '.join(pipe.build_report.reasons)})", err=True)
    questions = [question] if question is not None else [line.rstrip("\n") for line in questions_file]
    for q in questions:
        if questions_file is not None and not q.strip():
            continue
        try:
            answer = pipe.ask(q, top_k=top_k, mode=mode)  # type: ignore[arg-type]
        except QAError as e:
            if questions_file is None:
                raise
            click.echo(json.dumps({"question": q, "error": str(e)}, ensure_ascii=False) if as_json else str(e))
            continue
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        else:
            click.echo(render_text(answer))


def render_text(answer: Any) -> str:
    """Plain-terminal rendering: answer, then numbered sources with the highlight in 【】."""
    lines = [answer.answer]
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.abstained and answer.citations:
        lines.append("可能相关 / possibly related:")
    for c in answer.citations:
        text = c.text
        if c.highlight:
            s, e = c.highlight
            text = f"{text[:s]}【{text[s:e]}】{text[e:]}"
        lines.append(
            f"[{c.n}] {c.doc} 第 {c.lines[0]}-{c.lines[1]} 行 (lines {c.lines[0]}-{c.lines[1]}), score {c.score:.3f}"
        )
        lines.append(f"    {text}")
    return "\n".join(lines)
