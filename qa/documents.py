"""The user's documents: add and remove corpus files safely, and list what is indexed.

Added files are checked by content (``qa.loaders``), given a sanitised name (no path a
user types can reach outside the corpus folder) and written atomically, so the folder
never holds half a file. The list joins the corpus folder with the index's catalog
(``qa.index``): each document's format, size, pages, chunks and when it was indexed,
and every file that was skipped, with why.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from qa.corpus import (
    CORRECTIONS_FILE,
    Skipped,
    corpus_files,
    max_file_bytes,
    megabytes,
    read_capped,
    unsupported_files,
)
from qa.errors import QAError
from qa.fileio import atomic_write_bytes, sha256_file
from qa.index import read_manifest
from qa.loaders import FORMATS, load_bytes
from qa.types import Chunk, Document

MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 180  # UTF-8 bytes of the stem: with the suffix and ``atomic_write_bytes``'s temp affixes < 255
STATUS_LABELS = {"indexed": "已索引 indexed", "pending": "待索引 pending", "skipped": "已跳过 skipped"}
_UNSAFE = re.compile(r"[^\w.\-()（）\[\]【】《》 ]", re.UNICODE)


@dataclass(frozen=True)
class DocumentInfo:
    """One row of the documents list."""

    name: str
    kind: str
    bytes: int
    pages: int | None
    chunks: int | None  # None: not indexed yet
    indexed: str  # ISO time when this version of the file was indexed ("" if not yet)
    status: str  # "indexed", "pending" (changed since the index was built) or "skipped"
    reason: str = ""  # why it was skipped, Chinese / English

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def catalog(
    docs: Sequence[Document],
    chunks: Sequence[Chunk],
    skipped: Sequence[Skipped],
    corpus_dir: Path,
    hashes: Mapping[str, str],
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The manifest's ``documents`` and ``skipped`` entries for a new build.

    A document whose file is unchanged keeps the time it was first indexed.
    """
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    old_docs = (previous or {}).get("documents") or {}
    old_hashes = (previous or {}).get("corpus") or {}
    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    documents = {}
    for d in docs:
        unchanged = d.doc_id in old_docs and old_hashes.get(d.doc_id) == hashes.get(d.doc_id)
        documents[d.doc_id] = {
            "kind": d.kind,
            "bytes": _size(corpus_dir / d.doc_id),
            "pages": d.pages,
            "chunks": counts.get(d.doc_id, 0),
            "indexed": old_docs[d.doc_id].get("indexed", now) if unchanged else now,
        }
    return {"documents": documents, "skipped": [asdict(s) for s in skipped]}


def list_documents(corpus_dir: Path, index_dir: Path) -> list[DocumentInfo]:
    """Every file of the corpus folder: indexed, pending (not in the index as it is) or skipped."""
    manifest = read_manifest(index_dir) or {}
    indexed = manifest.get("documents") or {}
    hashes = manifest.get("corpus") or {}
    skipped = {
        s["path"]: Skipped(str(s["path"]), str(s.get("zh", "")), str(s.get("en", "")))
        for s in manifest.get("skipped") or []
        if isinstance(s, dict) and "path" in s
    }
    rows = []
    for path in corpus_files(corpus_dir):
        name = path.relative_to(corpus_dir).as_posix()
        try:
            size, digest = path.stat().st_size, sha256_file(path)
        except OSError:
            continue
        entry = indexed.get(name)
        kind = FORMATS[path.suffix.lower()]
        if hashes.get(name) != digest:
            rows.append(DocumentInfo(name, kind, size, None, None, "", "pending"))
        elif entry is not None:
            rows.append(
                DocumentInfo(
                    name, kind, size, entry.get("pages"), entry.get("chunks"), entry.get("indexed", ""), "indexed"
                )
            )
        else:
            why = skipped.get(name)
            rows.append(DocumentInfo(name, kind, size, None, None, "", "skipped", why.reason if why else ""))
    for s in unsupported_files(corpus_dir):
        rows.append(DocumentInfo(s.path, "-", _size(corpus_dir / s.path), None, None, "", "skipped", s.reason))
    return sorted(rows, key=lambda r: r.name)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def safe_name(name: str) -> str:
    """A file name that is safe in the corpus folder: the last part of any path (Windows
    or POSIX), normalised, without control, format (U+202E) or path characters, not
    hidden, not starting with "-", not too long."""
    base = PureWindowsPath(PurePosixPath(str(name)).name).name  # "..\\x/..\\y.pdf" -> "y.pdf"
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE.sub("_", "".join(ch for ch in base if ch.isprintable())).strip(" .")
    base = base.lstrip("-")  # "-rf.txt" would read as an option to any shell tool
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:16]
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1]
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:  # file systems count bytes: 255, less our temp prefix
        stem = stem[:-1]
    stem = stem or "document"
    base = f"{stem}.{suffix.lower()}" if suffix else stem
    if base.lower().startswith("readme") or base == CORRECTIONS_FILE:
        base = f"doc-{base}"
    return base


def add_files(corpus_dir: Path, files: Sequence[tuple[str, bytes]], replace: bool = False) -> list[tuple[str, bool]]:
    """Store files in the corpus folder: every one is checked (``check_upload``) before any
    is written. Returns (stored name, whether it replaced a file of that name) for each.
    Names are compared as stored (``x.TXT``, ``x.txt.`` and ``/etc/x.txt`` are all ``x.txt``):
    two files of a batch with one name are refused, and so is a name already in the corpus
    unless ``replace`` (``qa add`` says "Replaced"; an upload never silently replaces)."""
    checked = [(check_upload(name, data), data) for name, data in files]
    _refuse_collisions(corpus_dir, [stored for stored, _ in checked], replace)
    return [_store(corpus_dir, stored, data) for stored, data in checked]


def add_file(corpus_dir: Path, name: str, data: bytes, replace: bool = False) -> tuple[str, bool]:
    """``add_files`` of one file."""
    return add_files(corpus_dir, [(name, data)], replace)[0]


def _refuse_collisions(corpus_dir: Path, stored: Sequence[str], replace: bool) -> None:
    """A bilingual QAError when two names of a batch are one, or (unless ``replace``) a name
    is taken in the corpus, compared without case (``X.txt`` would shadow ``x.txt`` on a
    case-insensitive disk)."""
    seen: set[str] = set()
    twice = sorted({s for s in stored if s.casefold() in seen or seen.add(s.casefold())})
    if twice:
        names = "、".join(twice)
        raise QAError(
            f"同一批文件中有重名文件：{names}。请改名后再上传，未添加任何文件。",
            f"Files in this batch share a name: {', '.join(twice)}. Rename them and upload again; nothing was added.",
        )
    if replace:
        return
    root = corpus_dir.resolve()
    files = root.rglob("*") if root.is_dir() else ()
    taken = {p.relative_to(root).as_posix().casefold() for p in files if p.is_file()}
    clash = [s for s in stored if s.casefold() in taken]
    if clash:
        raise QAError(
            f"语料中已有同名文档：{'、'.join(clash)}。如需替换，请先删除它；未添加任何文件。",
            f"The corpus already has a document named {', '.join(clash)}. Delete it first to replace it; "
            "nothing was added.",
        )


def _store(corpus_dir: Path, stored: str, data: bytes) -> tuple[str, bool]:
    """Write one checked file under its safe name, atomically."""
    target = _inside(corpus_dir, stored)
    existed = target.exists()
    try:
        corpus_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
    except OSError as e:
        raise QAError(
            f"无法写入语料目录 {corpus_dir}（{e.strerror or e}），文件未添加。",
            f"Cannot write to the corpus folder {corpus_dir} ({e.strerror or e}); the file was not added.",
        ) from e
    return stored, existed


def check_upload(name: str, data: bytes) -> str:
    """The name a file would be stored under, after checking it can be: a bilingual
    QAError when it is too large, empty, of an unsupported type, when its content is not
    what its name says (a ``.pdf`` that is not a PDF), or when it cannot be read
    (encrypted, scanned without a text layer, broken)."""
    stored = safe_name(name)
    cap = max_file_bytes()
    if len(data) > cap:
        raise QAError(
            f"{stored}：文件过大（{megabytes(len(data))}，上限 {megabytes(cap)}）。",
            f"{stored}: file too large ({megabytes(len(data))}, limit {megabytes(cap)}).",
        )
    if not data.strip():
        raise QAError(f"{stored}：文件为空。", f"{stored}: the file is empty.")
    load_bytes(data, stored)  # type by content, then readable: not encrypted, scanned or broken
    return stored


def remove_file(corpus_dir: Path, name: str) -> str:
    """Delete one document from the corpus folder by its listed name; returns that name.
    The last document is refused before anything is deleted: an index needs one."""
    target = _inside(corpus_dir, name)
    if not target.is_file() or target.name == CORRECTIONS_FILE:
        raise QAError(f"语料中没有这个文件：{name}", f"No such document in the corpus: {name}")
    if [p.resolve() for p in corpus_files(corpus_dir)] == [target]:
        raise QAError(
            f"{name} 是最后一个文档，不能删除：先添加别的文档。",
            f"{name} is the last document and cannot be removed: add another one first.",
        )
    try:
        target.unlink()
    except OSError as e:
        raise QAError(f"无法删除 {name}（{e.strerror or e}）。", f"Cannot delete {name} ({e.strerror or e}).") from e
    return target.relative_to(corpus_dir.resolve()).as_posix()


def _inside(corpus_dir: Path, name: str) -> Path:
    """``corpus_dir / name``, refused unless it stays inside the corpus folder."""
    root = corpus_dir.resolve()
    target = (root / name).resolve()
    if target == root or root not in target.parents or any(p.startswith(".") for p in Path(name).parts):
        raise QAError(f"文件名不合法：{name}", f"Invalid document name: {name}")
    return target


def read_upload(path: Path) -> bytes:
    """A file to add, read with the corpus's size cap (bilingual errors when missing or too large)."""
    if not path.is_file():
        raise QAError(f"找不到文件：{path}", f"File not found: {path}")
    return read_capped(path)


def human_size(n: int) -> str:
    """1234567 -> "1.2 MB" (binary units, as ``QA_MAX_FILE_MB`` counts)."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
