"""The ``qa`` command: index, ask, chat, add/remove/docs, corpus check, eval, serve.

Every user-caused error is a QAError and is printed as a message in Chinese and
English, never as a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.errors import QAError
from qa.settings import TOP_K_DEFAULT
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
top_k_option = click.option(
    "--top-k", default=TOP_K_DEFAULT, show_default=True, type=int, help="How many passages to cite."
)
mode_option = click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
reader_option = click.option(
    "--reader",
    type=click.Choice(["on", "off"]),
    default=None,
    help="on: the trained reader's exact answer; off: sentence answers (default: $QA_READER, else on).",
)


@click.group()
@click.version_option(package_name="qa")
def main() -> None:
    """Chinese retrieval QA with cited passages. 中文检索问答，附引用出处。"""
    from qa.settings import current

    try:
        current()  # every QA_* variable checked before any work: a bad one stops here, named
    except QAError as e:
        raise click.ClickException(str(e)) from None


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


REBUILD_REASONS = {
    "forced": ("按要求重建", "rebuild requested"),
    "missing": ("还没有索引", "there was no index yet"),
    "corpus": ("语料文件有变化", "corpus files changed"),
    "model_id": ("索引由另一个嵌入模型建立", "the index was built with another embedding model"),
    "model_fingerprint": ("嵌入模型的权重不同", "the embedding model's weights differ"),
    "passage_engine": ("段落嵌入引擎不同", "the passage embedding engine differs"),
    "chunking": ("分块参数有变化", "chunking settings changed"),
    "sentence_vectors": (
        "句子向量设置有变化（QA_SENTENCE_VECTORS）",
        "the sentence-vector setting changed (QA_SENTENCE_VECTORS)",
    ),
    "format_version": ("索引格式版本不同", "the index format version differs"),
    "bm25": ("BM25 参数有变化", "the BM25 parameters changed"),
    "tokenizer": ("BM25 分词方式有变化", "the BM25 tokenizer changed"),
    "text_processing": ("文本清洗或分块的代码有变化", "the text cleaning or chunking code changed"),
    "store": ("索引存储有变化（QA_STORE）", "the index store changed (QA_STORE)"),
}


def describe_reasons(reasons: list[str]) -> str:
    """Why an index was rebuilt, in both languages (unknown keys are shown as they are)."""
    parts = []
    for r in reasons:
        if r.startswith("unreadable"):
            parts.append(f"旧索引无法读取 / the old index could not be read ({r.partition(': ')[2] or r})")
        else:
            zh, en = REBUILD_REASONS.get(r, (r, r))
            parts.append(f"{zh} / {en}")
    return "; ".join(parts)


def print_build_report(report: Any) -> None:
    """The end-of-build summary: counts, why it was rebuilt, and every skipped file with its reason."""
    if report is None or not report.rebuilt:
        click.echo("索引已是最新 / Index is up to date")
        return
    click.echo(
        f"索引已建立 / Index built: {report.n_docs} documents, {report.n_chunks} chunks, "
        f"{report.n_chunks - report.reused} embedded, {report.reused} reused, {report.seconds:.1f} s"
    )
    if report.n_sentences:
        click.echo(f"句子向量 / Sentence vectors: {report.n_sentences}")
    else:
        click.echo(
            "句子向量已关闭 / Sentence vectors off (QA_SENTENCE_VECTORS=0): answers rank sentences by words only"
        )
    click.echo(f"原因 / Why: {describe_reasons(report.reasons)}")
    if not report.skipped:
        click.echo("没有跳过任何文件 / No files skipped")
        return
    click.echo(f"跳过 {len(report.skipped)} 个文件 / Skipped {len(report.skipped)} file(s):")
    for s in report.skipped:
        click.echo(f"  - {s.path}: {s.reason}")


# ---------------------------------------------------------------- qa add / remove / docs
def update_index(corpus_dir: Path | None, index_dir: Path | None) -> None:
    """Bring the index up to date with the corpus folder (incrementally) and say what changed."""
    from qa.model import Encoder
    from qa.pipeline import ensure_index, folders

    _, report = ensure_index(*folders(corpus_dir, index_dir), Encoder())
    print_build_report(report)


@main.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@corpus_option
@index_option
@friendly_errors
def add(files: tuple[Path, ...], corpus_dir: Path | None, index_dir: Path | None) -> None:
    """Add documents (.txt .md .pdf .docx .html) to the corpus and update the index.

    Every file is checked (type by content, size) before any is copied; a file with the
    name of one already there replaces it.
    """
    from qa.documents import add_files, read_upload
    from qa.pipeline import default_corpus_dir

    added = add_files(corpus_dir or default_corpus_dir(), [(p.name, read_upload(p)) for p in files], replace=True)
    for stored, replaced in added:
        click.echo(f"{'已替换 / Replaced' if replaced else '已添加 / Added'}: {stored}")
    update_index(corpus_dir, index_dir)


@main.command("remove")
@click.argument("name")
@corpus_option
@index_option
@friendly_errors
def remove(name: str, corpus_dir: Path | None, index_dir: Path | None) -> None:
    """Delete a document (by the name `qa docs` lists) and update the index."""
    from qa.documents import remove_file
    from qa.pipeline import default_corpus_dir

    click.echo(f"已删除 / Removed: {remove_file(corpus_dir or default_corpus_dir(), name)}")
    update_index(corpus_dir, index_dir)


@main.command("docs")
@corpus_option
@index_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per document.")
@friendly_errors
def docs(corpus_dir: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """List the corpus documents: type, size, pages, chunks, when indexed, or why skipped."""
    from rich.console import Console
    from rich.table import Table

    from qa.documents import STATUS_LABELS, human_size, list_documents
    from qa.pipeline import folders

    rows = list_documents(*folders(corpus_dir, index_dir))
    if as_json:
        for r in rows:
            click.echo(json.dumps(r.to_json(), ensure_ascii=False))
        return
    table = Table("文件 Name", "类型 Type", "大小 Size", "页 Pages", "块 Chunks", "索引时间 Indexed", "状态 Status")
    for r in rows:
        status = STATUS_LABELS.get(r.status, r.status) + (f"\n{r.reason}" if r.reason else "")
        table.add_row(
            r.name,
            r.kind,
            human_size(r.bytes),
            str(r.pages or "-"),
            str(r.chunks if r.chunks is not None else "-"),
            r.indexed.replace("T", " ")[:16] or "-",
            status,
        )
    Console(width=max(120, Console().width)).print(table)
    if any(r.status == "pending" for r in rows):
        click.echo("有文件尚未索引：运行 qa index build / Some files are not indexed yet: run `qa index build`.")


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
@click.argument("question", required=False, metavar="[QUESTION|-]")
@click.option(
    "--file",
    "questions_file",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="One question per line (any common encoding; - for stdin).",
)
@top_k_option
@mode_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (JSON Lines with --file).")
@reader_option
@corpus_option
@index_option
@friendly_errors
def ask(
    question: str | None,
    questions_file: Path | None,
    top_k: int,
    mode: str,
    as_json: bool,
    reader: str | None,
    corpus_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Answer a question about the corpus, with numbered citations."""
    from qa.pipeline import Pipeline, check_mode_and_k

    if question is None and questions_file is None:
        raise QAError("请给出问题，或用 --file 指定问题文件。", "Give a question, or a questions file with --file.")
    check_mode_and_k(mode, top_k)
    if question == "-":  # the question from standard input (any length, any common encoding)
        question = "\n".join(read_questions(Path("-"))).strip()
    questions = [question] if question is not None else read_questions(questions_file)  # type: ignore[arg-type]
    pipe = Pipeline.open(corpus_dir, index_dir, progress=sys.stderr.isatty(), reader=reader)
    if pipe.build_report and pipe.build_report.rebuilt:
        click.echo(f"(索引已重建 / index rebuilt: {describe_reasons(pipe.build_report.reasons)})", err=True)
    for q in questions:
        if questions_file is not None and not q.strip():
            continue
        # each question on its own (no history); one question's error ends the command, a file's is a line
        answer_and_print(pipe, q, [], top_k, mode, as_json, raise_errors=questions_file is None)


def read_questions(path: Path) -> list[str]:
    """Lines of a questions file, decoded like a corpus file (UTF-8, GBK, Big5 ...)."""
    from qa.corpus import decode_bytes

    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as e:
        raise QAError(
            f"无法读取问题文件 {path}：{e.strerror}", f"Cannot read the questions file {path}: {e.strerror}"
        ) from e
    return decode_bytes(data, str(path)).splitlines() if data.strip() else []


def render_text(answer: Any) -> str:
    """Plain-terminal rendering: answer, then numbered sources with the highlight in 【】
    and the exact answer inside it in 〖〗."""
    from qa.answer import understood_note

    lines = [answer.answer]
    note = understood_note(answer)
    if note:
        lines.append(f"（{note}）")
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.abstained and answer.citations:
        lines.append("可能相关 / possibly related:")
    for c in answer.citations:
        text = mark_passage(c.text, c.highlight, c.answer_span)
        page = f" 第 {c.page} 页 (page {c.page})," if c.page is not None else ""
        lines.append(
            f"[{c.n}] {c.doc}{page} 第 {c.lines[0]}-{c.lines[1]} 行 (lines {c.lines[0]}-{c.lines[1]}), "
            f"score {c.score:.3f}"
        )
        lines.append(f"    {text}")
    return "\n".join(lines)


def mark_passage(text: str, highlight: Any, answer_span: Any) -> str:
    """The passage with 【sentence】 and 〖answer〗 marks (the answer lies inside the sentence)."""
    marks: list[tuple[int, int, str]] = []  # (position, order at that position, mark)
    if highlight:
        marks += [(highlight[0], 1, "【"), (highlight[1], 0, "】")]
    if answer_span:
        marks += [(answer_span[0], 2, "〖"), (answer_span[1], -1, "〗")]
    out, last = [], 0
    for pos, _, mark in sorted(marks):
        out.append(text[last:pos] + mark)
        last = pos
    return "".join(out) + text[last:]


# ---------------------------------------------------------------- qa chat
CHAT_HELP = "输入问题；/new 开始新对话，/quit 退出。 Ask away; /new starts a new conversation, /quit leaves."


@main.command("chat")
@click.option(
    "--file",
    "dialogues_file",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help='JSON Lines of {"dialogue": ID, "q": QUESTION}; consecutive lines with one ID are one dialogue.',
)
@top_k_option
@mode_option
@click.option("--json", "as_json", is_flag=True, help="Print one `ask --json` object per question (JSON Lines).")
@reader_option
@corpus_option
@index_option
@friendly_errors
def chat(
    dialogues_file: Path | None,
    top_k: int,
    mode: str,
    as_json: bool,
    reader: str | None,
    corpus_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Chat about the corpus: follow-up questions are understood from the conversation."""
    from qa.pipeline import Pipeline, check_mode_and_k

    check_mode_and_k(mode, top_k)
    turns = read_dialogue_lines(dialogues_file) if dialogues_file is not None else None
    pipe = Pipeline.open(corpus_dir, index_dir, progress=sys.stderr.isatty(), reader=reader)
    if turns is None:
        chat_interactively(pipe, top_k, mode)
        return
    history: list[Any] = []
    current: object = object()
    for dialogue, question, error in turns:
        if dialogue != current:
            history, current = [], dialogue
        if error:  # an unreadable line: reported in place, with "dialogue": null
            click.echo(json.dumps({"dialogue": None, "question": question, "error": error}, ensure_ascii=False))
            continue
        history = answer_and_print(pipe, question, history, top_k, mode, as_json, dialogue)


def error_line(question: str, error: str, dialogue: object = None) -> str:
    """The JSON line for a question that could not be answered (``--file --json``)."""
    head = {} if dialogue is None else {"dialogue": dialogue}
    return json.dumps({**head, "question": question, "error": error}, ensure_ascii=False)


def answer_and_print(  # type: ignore[no-untyped-def]
    pipe,
    question: str,
    history: list[Any],
    top_k: int,
    mode: str,
    as_json: bool,
    dialogue: object = None,
    raise_errors: bool = False,
) -> list[Any]:
    """Ask one question with the conversation so far and print the answer (or the error,
    unless ``raise_errors``); returns the history after it. ``qa ask`` and ``qa chat``."""
    from qa.conversation import HISTORY_TURNS
    from qa.types import Turn

    try:
        result = pipe.run(question, top_k=top_k, mode=mode, history=history[-HISTORY_TURNS:])
    except QAError as e:
        if raise_errors:
            raise
        click.echo(error_line(question, str(e), dialogue) if as_json else str(e))
        return history
    if as_json:
        out = result.to_json() if dialogue is None else {"dialogue": dialogue, **result.to_json()}
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(render_text(result.answer))
    return [*history, Turn(question, result.answer)][-HISTORY_TURNS:]


def read_dialogue_lines(path: Path) -> list[tuple[object, str, str]]:
    """(dialogue id, question, error) per non-blank line; a bad line is reported, not fatal."""
    out: list[tuple[object, str, str]] = []
    for n, line in enumerate(read_questions(path), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append((row["dialogue"], str(row["q"]), ""))
        except (ValueError, KeyError, TypeError):
            message = QAError(
                f'第 {n} 行不是 {{"dialogue": ID, "q": 问题}} 形式的 JSON。',
                f'Line {n} is not a JSON object {{"dialogue": ID, "q": QUESTION}}.',
            )
            out.append((None, line[:200], str(message)))
    return out


def chat_interactively(pipe: Any, top_k: int, mode: str) -> None:  # type: ignore[no-untyped-def]
    """A terminal chat (rich prompt); the history lives until /new, /quit or end of input."""
    from rich.console import Console

    console = Console()
    console.print(CHAT_HELP, style="dim")
    history: list[Any] = []
    while True:
        try:
            line = console.input("[bold]你 / You>[/bold] ")
        except EOFError:
            break
        command = line.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            break
        if command == "/new":
            history = []
            console.print("（新对话 / new conversation）", style="dim")
            continue
        if not command:
            continue
        history = answer_and_print(pipe, line, history, top_k, mode, as_json=False)


# ---------------------------------------------------------------- qa eval
@main.command("eval")
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Gold .jsonl or dialogue .jsonl (over --corpus, or the folder beside it with its name), or "
    "SQuAD-format .json; repeatable (default: eval/gold.jsonl and every eval/dialogues*.jsonl).",
)
@click.option("--modes", default=",".join(MODES), show_default=True, help="Comma-separated retrieval modes.")
@click.option("--top-k", default=10, show_default=True, type=int, help="Passages retrieved per question.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary per dataset, one per line.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Report folder (default: eval/reports/).")
@click.option("--limit", type=int, default=None, help="First N gold questions, or a fixed sample of N SQuAD questions.")
@click.option(
    "--reader",
    type=click.Choice(["on", "off"]),
    default=None,
    help="on: the trained reader; off: sentence answers (default: $QA_READER, else on).",
)
@click.option(
    "--split",
    type=click.Choice(["all", "val"]),
    default="all",
    show_default=True,
    help="val: only the questions of the reader's validation articles (SQuAD sets; all passages stay indexed).",
)
@click.option("--ablate", is_flag=True, help="Dialogue sets: also with each resolution rule switched off in turn.")
@corpus_option
@friendly_errors
def eval_command(
    datasets: tuple[Path, ...],
    modes: str,
    top_k: int,
    as_json: bool,
    out_dir: Path | None,
    limit: int | None,
    reader: str | None,
    split: str,
    ablate: bool,
    corpus_dir: Path | None,
) -> None:
    """Measure retrieval and answers for each mode; write JSON, Markdown and PNG reports."""
    from rich.console import Console

    from qa import evaluate
    from qa.eval_dialogues import DialogueReport, dialogue_table
    from qa.pipeline import check_mode_and_k

    mode_list = evaluate.parse_modes(modes)
    check_mode_and_k(mode_list[0], top_k)
    if limit is not None and limit < 1:
        raise QAError("--limit 应为正整数。", "--limit must be a positive integer.")
    console = Console(stderr=as_json)
    progress = sys.stderr.isatty()
    paths = list(datasets) or evaluate.default_datasets()
    out = out_dir or evaluate.default_reports_dir()
    from qa.reader import open_reader

    chosen = open_reader(reader, progress=progress)
    runs = evaluate.run(
        paths, mode_list, top_k, out, limit, corpus_dir, progress=progress, reader=chosen, split=split, ablate=ablate
    )
    for report, written in runs:
        if isinstance(report, DialogueReport):
            console.print(dialogue_table(report))
        else:
            console.print(evaluate.rich_table(report))
        console.print(f"reports: {', '.join(str(p) for p in written)}")
        if as_json:
            click.echo(json.dumps(report.summary(), ensure_ascii=False))


# ---------------------------------------------------------------- qa serve
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (public: set QA_UI_PASSWORD).")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to listen on.")
@click.option("--share", is_flag=True, help="Create a public Gradio share link (off by default).")
@click.option(
    "--ssl-certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="TLS certificate (PEM)."
)
@click.option(
    "--ssl-keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="TLS private key (PEM)."
)
@corpus_option
@index_option
@friendly_errors
def serve(
    host: str,
    port: int,
    share: bool,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    corpus_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Start the chat UI and the JSON API (`python ui.py` is the same command); model and index load once.
    With --ssl-certfile and --ssl-keyfile it serves HTTPS."""
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise QAError("--ssl-certfile 和 --ssl-keyfile 需要一起给出。", "--ssl-certfile and --ssl-keyfile go together.")
    tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
    sys.exit(load_ui().serve(host=host, port=port, share=share, corpus=corpus_dir, index=index_dir, **tls))


def load_ui() -> Any:
    """Import ui.py by path: it sits next to the qa package, not in it, so it is not on sys.path."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "ui.py"
    loaded = sys.modules.get("ui")
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location("ui", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise QAError(f"找不到界面文件 {path}。", f"The UI file {path} is missing.")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ui"] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- entry point
ARGV_BYTES_LIMIT = 16_000
_SPILLED = "QA_ARGV_SPILLED"


def entry() -> None:
    """The ``qa`` command. Importing onnxruntime crashes the process (SIGSEGV, no message)
    when its command line passes about 32 KB, e.g. a 12,000-character Chinese question, so
    a huge argument travels through the environment: the process runs itself again with
    a placeholder in its place and puts it back before parsing. The question is then
    checked (and cut to 500 characters with a notice) like any other."""
    if os.environ.get(_SPILLED) == "1":
        for i, arg in enumerate(sys.argv):
            if arg == f"@qa-argv-{i}" and f"QA_ARGV_{i}" in os.environ:
                sys.argv[i] = os.environ.pop(f"QA_ARGV_{i}")
        os.environ.pop(_SPILLED, None)
    else:
        huge = [i for i, a in enumerate(sys.argv) if i and len(os.fsencode(a)) > ARGV_BYTES_LIMIT]
        if huge:
            env = {**os.environ, _SPILLED: "1"}
            args = list(sys.argv)
            for i in huge:
                env[f"QA_ARGV_{i}"], args[i] = args[i], f"@qa-argv-{i}"
            sys.stdout.flush()
            os.execve(sys.executable, [sys.executable, "-m", "qa.cli", *args[1:]], env)
    main()


if __name__ == "__main__":
    entry()
