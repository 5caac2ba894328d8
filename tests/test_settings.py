"""One validated settings object for every QA_* variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.errors import QAError
from qa.settings import TOP_K_DEFAULT, TOP_K_MAX, VARIABLES, current, from_env


def test_defaults() -> None:
    s = from_env({})
    assert (s.corpus_dir, s.index_dir, s.store, s.reader, s.sentence_vectors) == (None, None, "local", "on", True)
    assert s.max_file_bytes == 16 * 1024 * 1024 and s.ui_password == "" and s.ui_user == "qa"
    assert (TOP_K_DEFAULT, TOP_K_MAX) == (3, 50)


def test_values_are_parsed() -> None:
    s = from_env({
        "QA_CORPUS_DIR": "docs", "QA_MAX_FILE_MB": "0.5", "QA_READER": "0", "QA_SENTENCE_VECTORS": "off",
        "QA_STORE": "Milvus", "QA_MILVUS_URI": "http://h:19530", "QA_PASSAGE_ENGINE": "onnx-int8",
    })  # fmt: skip
    assert s.corpus_dir == Path("docs") and s.max_file_bytes == 512 * 1024 and s.reader == "off"
    assert not s.sentence_vectors and s.store == "milvus" and s.milvus_uri == "http://h:19530"
    assert s.passage_engine == "onnx-int8"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QA_MAX_FILE_MB", "lots"),  # used to be ignored without a word
        ("QA_MAX_FILE_MB", "-1"),
        ("QA_SENTENCE_VECTORS", "maybe"),
        ("QA_READER", "model"),
        ("QA_STORE", "elastic"),
        ("QA_PASSAGE_ENGINE", "gpu"),
        ("QA_QUERY_ENGINE", "gpu"),
    ],
)
def test_a_bad_value_is_named_in_both_languages(name: str, value: str) -> None:
    with pytest.raises(QAError) as info:
        from_env({name: value})
    assert name in info.value.zh and name in info.value.en and value in info.value.en


def test_current_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_STORE", "milvus")
    assert current().store == "milvus"
    monkeypatch.setenv("QA_STORE", "local")
    assert current().store == "local"


def test_every_variable_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert [name for name in VARIABLES if name not in readme] == []


def test_the_cli_stops_at_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.cli import main

    monkeypatch.setenv("QA_MAX_FILE_MB", "lots")
    result = CliRunner().invoke(main, ["corpus", "check"])
    assert result.exit_code == 1 and "QA_MAX_FILE_MB" in result.output and "Traceback" not in result.output
