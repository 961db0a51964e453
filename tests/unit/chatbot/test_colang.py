from __future__ import annotations

from pathlib import Path
from typing import Any

import nemoguardrails.colang.v1_0.runtime.eval as nemo_eval
import nemoguardrails.colang.v1_0.runtime.flows as nemo_flows
import nemoguardrails.colang.v1_0.runtime.sliding as nemo_sliding
import nemoguardrails.rails.llm
import pytest
from nemoguardrails.colang import parse_colang_file

from chatbot import colang
from chatbot.errors import ConfigurationError
from rails import profile_path

CONTEXTS: list[dict[str, Any]] = [
    {},
    {
        "config": {
            "rails": {
                "input": {"flows": ["check injection", "self check input"], "parallel": False},
                "output": {"flows": ["check answer"], "parallel": True},
            }
        },
        "generation_options": {"rails": {"input": True, "output": False, "dialog": False}},
        "input_flows": ["check injection", "self check input"],
        "output_flows": ["check answer"],
        "i": 1,
        "event": {"final_transcript": "hello", "text": "hello", "type": "UserMessage"},
        "attack": {"rail": "injection_pattern", "reason": "override"},
        "check": {"ok": False, "reason": "ungrounded", "unsupported": ["x"]},
        "follow_up": True,
        "bot_message": None,
        "skip_output_rails": False,
    },
    {"a": 2, "items": ["x", 1, 2], "d": {"key": {"inner": 3}}, "flag": False, "text": "quote"},
]


def _expressions(element: Any) -> list[str]:
    if isinstance(element, dict):
        found = [element["expression"]] if isinstance(element.get("expression"), str) else []
        return found + [e for v in element.values() for e in _expressions(v)]
    if isinstance(element, list):
        return [e for v in element for e in _expressions(v)]
    return []


def _flow_expressions() -> list[str]:
    """Every expression of NeMo's core flows and of both profiles' Colang files."""
    files = [Path(nemoguardrails.rails.llm.__file__).parent / "llm_flows.co"]
    files += sorted(profile_path("default").glob("*.co")) + sorted(
        profile_path("production").glob("*.co")
    )
    found: set[str] = set()
    for path in files:
        parsed = parse_colang_file(path.name, path.read_text(encoding="utf-8"))
        found.update(_expressions(parsed["flows"]))
    return sorted(found)


def _outcome(fn: Any, expr: Any, context: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", fn(expr, context)
    except Exception as ex:  # the error text must match too
        return "error", str(ex)


EXTRA = [
    "$a + 1",
    "len($items) > 2 and $items[0] == 'x'",
    "$d.key.inner",
    "$missing is None",
    "not $flag",
    "'q' in $text",
    "$a +",  # a syntax error
    "open('x')",  # not allowed
]


def test_the_flows_have_expressions_to_compare() -> None:
    assert len(_flow_expressions()) > 20


@pytest.mark.parametrize("context", CONTEXTS)
def test_same_results_and_errors_as_nemo(context: dict[str, Any]) -> None:
    for expr in [*_flow_expressions(), *EXTRA, None, True, 3]:
        assert _outcome(colang.eval_expression, expr, context) == _outcome(
            nemo_eval.eval_expression, expr, context
        ), expr


def test_install_patches_the_runtime_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nemo_flows, "eval_expression", nemo_eval.eval_expression)
    monkeypatch.setattr(nemo_sliding, "eval_expression", nemo_eval.eval_expression)
    colang.install()
    colang.install()
    assert nemo_flows.eval_expression is colang.eval_expression
    assert nemo_sliding.eval_expression is colang.eval_expression


def test_install_refuses_a_runtime_it_does_not_know(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nemo_sliding, "eval_expression", lambda expr, context: None)
    with pytest.raises(ConfigurationError, match="no longer fits"):
        colang.install()
