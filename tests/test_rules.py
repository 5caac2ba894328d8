"""Every resolution rule's examples and counter-examples (``qa.conversation.RULES``)."""

from __future__ import annotations

import pytest

from qa.conversation import RULE_NAMES, RULES, resolve, rules_off
from qa.types import Answer, Turn


def _history(question: str, short: str) -> list[Turn]:
    answer = Answer(question, short or "……", abstained=False, mode="hybrid", citations=(), short_answer=short or None)
    return [Turn(question, answer)]


@pytest.mark.parametrize(
    ("rule", "earlier", "short", "follow_up", "expected"),
    [(r.name, *example) for r in RULES for example in r.examples],
    ids=[f"{r.name}-{i}" for r in RULES for i, _ in enumerate(r.examples)],
)
def test_rule_example(rule: str, earlier: str, short: str, follow_up: str, expected: str) -> None:
    got = resolve(follow_up, _history(earlier, short))
    assert (got.rule, got.question) == (rule, expected)


@pytest.mark.parametrize(
    ("rule", "earlier", "short", "follow_up"),
    [(r.name, *example) for r in RULES for example in r.counter_examples],
    ids=[f"{r.name}-not-{i}" for r in RULES for i, _ in enumerate(r.counter_examples)],
)
def test_rule_counter_example(rule: str, earlier: str, short: str, follow_up: str) -> None:
    assert resolve(follow_up, _history(earlier, short)).rule != rule


@pytest.mark.parametrize("rule", [r for r in RULES if r.examples], ids=lambda r: r.name)
def test_a_rule_switched_off_no_longer_makes_its_example(rule) -> None:  # type: ignore[no-untyped-def]
    earlier, short, follow_up, _ = rule.examples[0]
    with rules_off(rule.name):
        assert resolve(follow_up, _history(earlier, short)).rule != rule.name
    assert resolve(follow_up, _history(earlier, short)).rule == rule.name


def test_unknown_rule_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown rules"), rules_off("no-such-rule"):
        pass
    assert "answer-referent" in RULE_NAMES and "pronoun" in RULE_NAMES
