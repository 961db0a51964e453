from __future__ import annotations

import inspect
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import nemoguardrails.colang.v1_0.runtime.eval as nemo_eval
import nemoguardrails.colang.v1_0.runtime.flows as nemo_flows
import nemoguardrails.colang.v1_0.runtime.runtime as nemo_runtime
import nemoguardrails.colang.v1_0.runtime.sliding as nemo_sliding
import nemoguardrails.rails.llm
import nemoguardrails.utils as nemo_utils
import pytest
from nemoguardrails import RailsConfig
from nemoguardrails.actions import core as nemo_core
from nemoguardrails.colang import parse_colang_file
from nemoguardrails.colang.v1_0.runtime.runtime import RuntimeV1_0
from nemoguardrails.utils import is_valid_event
from scipy.stats import chisquare

from chatbot import nemo
from chatbot.errors import ConfigurationError
from chatbot.nemo import runtime as speedups
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
        assert _outcome(speedups.eval_expression, expr, context) == _outcome(
            nemo_eval.eval_expression, expr, context
        ), expr


def test_install_patches_the_runtime_once_and_uninstall_puts_nemos_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nemo_flows, "eval_expression", nemo_eval.eval_expression)
    monkeypatch.setattr(nemo_sliding, "eval_expression", nemo_eval.eval_expression)
    monkeypatch.setattr(nemo_runtime, "compute_next_steps", nemo_flows.compute_next_steps)
    nemo.install()
    nemo.install()
    assert nemo.active() == nemo.ALL
    assert nemo_flows.eval_expression is speedups.eval_expression
    assert nemo_sliding.eval_expression is speedups.eval_expression
    assert nemo_runtime.compute_next_steps is speedups.compute_next_steps
    nemo.uninstall()
    assert nemo.active() == frozenset()
    assert nemo_flows.eval_expression is nemo_eval.eval_expression
    assert nemo_runtime.compute_next_steps is speedups._nemo_compute_next_steps
    assert nemo_utils.new_event_dict is speedups._nemo_new_event_dict
    assert nemo_utils.new_uuid is speedups._nemo_new_uuid


def test_install_turns_on_only_what_it_is_given() -> None:
    nemo.install({nemo.Speedup.UIDS})
    assert nemo_utils.new_uuid is speedups.new_uuid
    assert nemo_utils.new_event_dict is speedups._nemo_new_event_dict
    assert nemo_flows.eval_expression is nemo_eval.eval_expression


def test_install_makes_uids_from_the_pool_unless_nemo_was_seeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(nemo_core, "new_event_dict", speedups._nemo_new_event_dict)
    monkeypatch.setattr(nemo_flows, "new_uuid", speedups._nemo_new_uuid)
    nemo.install()
    assert nemo_core.new_event_dict is speedups.new_event_dict
    assert nemo_flows.new_uuid is speedups.new_uuid
    assert nemo_utils.new_uuid is speedups.new_uuid  # for the action modules NeMo loads later
    monkeypatch.setattr(nemo_utils, "secure_random", random.Random(7))  # init_random_seed
    seeded = [speedups.new_uuid() for _ in range(3)]
    monkeypatch.setattr(nemo_utils, "secure_random", random.Random(7))
    assert [speedups.new_uuid() for _ in range(3)] == seeded  # NeMo's, repeatable for debugging


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (nemo_sliding, "eval_expression"),
        (nemo_runtime, "compute_next_steps"),
        (nemo_core, "new_event_dict"),
    ],
)
def test_install_refuses_a_runtime_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str
) -> None:
    monkeypatch.setattr(module, name, lambda *args: None)
    with pytest.raises(ConfigurationError, match="no longer fit"):
        nemo.install()
    assert getattr(module, name) is not getattr(speedups, name)  # nothing half-installed


# The resumed replay. A flow that needs the state of earlier events: the bot's goodbye
# depends on the greeting having happened. (The integration tests compare real rails calls.)
FLOWS = """
define flow greeting
  user express greeting
  bot express greeting
  user express thanks
  bot say goodbye
"""


@pytest.fixture
def runtime() -> RuntimeV1_0:
    return RuntimeV1_0(config=RailsConfig.from_content(colang_content=FLOWS, yaml_content="{}"))


def _intent(kind: str, intent: str) -> dict[str, Any]:
    return speedups._nemo_new_event_dict(kind, intent=intent)


def _steps(fn: Any, history: list[dict[str, Any]], runtime: RuntimeV1_0) -> list[Any]:
    steps = fn(history, runtime.flow_configs, runtime.config, [])
    return [(step["type"], step.get("intent")) for step in steps]


@pytest.fixture
def folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The events folded into a state, in order."""
    seen: list[str] = []
    fold = nemo_flows.compute_next_state

    def counted(state: Any, event: dict[str, Any]) -> Any:
        seen.append(event.get("intent", event["type"]))
        return fold(state, event)

    monkeypatch.setattr(nemo_flows, "compute_next_state", counted)
    return seen


def test_a_growing_history_folds_only_its_new_events(
    runtime: RuntimeV1_0, folds: list[str]
) -> None:
    history = [_intent("UserIntent", "express greeting")]
    assert _steps(speedups.compute_next_steps, history, runtime) == [
        ("BotIntent", "express greeting")
    ]
    history += [_intent("BotIntent", "express greeting"), _intent("UserIntent", "express thanks")]
    folds.clear()
    assert _steps(speedups.compute_next_steps, history, runtime) == [("BotIntent", "say goodbye")]
    assert folds == ["express greeting", "express thanks"]
    assert _steps(speedups.compute_next_steps, history, runtime) == [("BotIntent", "say goodbye")]


def test_a_history_that_takes_another_turn_is_replayed_in_full(
    runtime: RuntimeV1_0, folds: list[str]
) -> None:
    greeting = _intent("UserIntent", "express greeting")
    held = [greeting, _intent("BotIntent", "express greeting")]
    speedups.compute_next_steps(held, runtime.flow_configs, runtime.config, [])
    # Same first event, then not what the held state took in.
    other = [greeting, _intent("BotIntent", "offer help"), _intent("UserIntent", "express thanks")]
    folds.clear()
    ours = _steps(speedups.compute_next_steps, other, runtime)
    assert folds == ["express greeting", "offer help", "express thanks"]
    assert ours == _steps(speedups._nemo_compute_next_steps, other, runtime)


def test_hide_prev_turn_gets_nemos_replay(runtime: RuntimeV1_0) -> None:
    history = [
        {"type": "UtteranceUserActionFinished", "final_transcript": "hi"},
        _intent("UserIntent", "express greeting"),
        {"type": "hide_prev_turn"},
        _intent("UserIntent", "express greeting"),
    ]
    ours = _steps(speedups.compute_next_steps, history, runtime)
    assert ours == _steps(speedups._nemo_compute_next_steps, history, runtime)
    assert id(history[0]) not in speedups._progress


def test_a_call_that_ends_leaves_no_state_behind(runtime: RuntimeV1_0) -> None:
    history = [_intent("UserIntent", "express greeting")]
    speedups.compute_next_steps(history, runtime.flow_configs, runtime.config, [])
    assert id(history[0]) in speedups._progress
    history += [_intent("BotIntent", "express greeting")]  # nothing left to do: the call ends
    assert _steps(speedups.compute_next_steps, history, runtime) == []
    assert id(history[0]) not in speedups._progress


def test_the_held_states_are_bounded(runtime: RuntimeV1_0) -> None:
    for _ in range(speedups._MAX_CALLS + 10):
        history = [_intent("UserIntent", "express greeting")]
        speedups.compute_next_steps(history, runtime.flow_configs, runtime.config, [])
    assert len(speedups._progress) <= speedups._MAX_CALLS


# Action signatures read once.
class _Actions:
    async def lookup(self, card: str, context: dict[str, Any] | None = None) -> str:
        return card


async def _audit(reason: str, events: list[dict[str, Any]] | None = None) -> str:
    return reason


ACTION_FLOWS = """
define flow audit
  user express greeting
  $a = execute audit(reason="hi")
  $b = execute lookup(card="1")
"""


def test_signatures_are_stored_as_nemo_would_compute_them() -> None:
    runtime = RuntimeV1_0(
        config=RailsConfig.from_content(colang_content=ACTION_FLOWS, yaml_content="{}")
    )
    actions = _Actions()
    runtime.register_action(_audit, "audit")
    runtime.register_action(actions.lookup, "lookup")
    expected = [inspect.signature(_audit), inspect.signature(actions.lookup)]
    speedups.precompute_signatures(runtime, ["audit", "not a flow"])
    try:
        assert vars(_audit)["__signature__"] == expected[0]
        assert vars(_Actions.lookup)["__signature__"] == inspect.signature(_Actions.lookup)
        assert [inspect.signature(_audit), inspect.signature(actions.lookup)] == expected
        assert list(inspect.signature(actions.lookup).parameters) == ["card", "context"]
        assert {_audit, _Actions.lookup} <= set(speedups.SIGNED)
    finally:
        for fn in (_audit, _Actions.lookup):
            del fn.__signature__  # type: ignore[attr-defined]
            speedups.SIGNED.remove(fn)


# Events without the debug checks.
EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("Listen", {}),
    ("ContextUpdate", {"data": {"a": 1}}),
    ("UserIntent", {"intent": "express greeting"}),
    ("StartInternalSystemAction", {"action_name": "create_event", "action_params": {}}),
    ("InternalSystemActionFinished", {"action_uid": "u", "is_success": True, "status": "x"}),
    ("InternalSystemActionFinished", {"action_uid": "u", "is_success": False}),
    ("StartUtteranceBotAction", {"script": "Hello"}),
    ("UtteranceUserActionFinished", {"final_transcript": "hi"}),
    ("Listen", {"uid": "given", "source_uid": "elsewhere"}),
]
_FRESH = {"uid", "event_created_at", "action_uid", "action_finished_at", "action_started_at"}


@pytest.mark.parametrize(("kind", "payload"), EVENTS)
def test_events_are_nemos_without_the_checks(kind: str, payload: dict[str, Any]) -> None:
    ours = speedups.new_event_dict(kind, **payload)
    try:
        theirs = speedups._nemo_new_event_dict(kind, **payload)  # NeMo's, patched or not
    except AssertionError:  # NeMo's check refuses it: ours is made all the same
        assert not is_valid_event(ours)
        return
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in _FRESH} == {
        k: v for k, v in theirs.items() if k not in _FRESH
    }
    assert ours["uid"] != theirs["uid"] or "uid" in payload
    assert type(ours["event_created_at"]) is type(theirs["event_created_at"])
    assert is_valid_event(ours)


def test_uids_are_random_version_4_uuids() -> None:
    uids = [speedups.new_uuid() for _ in range(4000)]  # 256 per pool: several refills
    assert len(set(uids)) == len(uids)
    for uid in uids:
        parsed = uuid.UUID(uid)
        assert str(parsed) == uid
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # Every random digit is uniform (a variant digit over four values); the fixed version
    # digit is always 4. A chi-square test per digit at p < 1e-6 fails a uniform source about
    # once in 30,000 runs (a bound of 25 % around each count failed about one run in 30) and
    # a stuck or strongly skewed digit every time.
    digits = [uid.replace("-", "") for uid in uids]
    for at in range(32):
        counts = Counter(d[at] for d in digits)
        if at == 12:
            assert counts == {"4": len(uids)}
            continue
        values = "89ab" if at == 16 else "0123456789abcdef"
        assert set(counts) == set(values), at
        assert chisquare([counts[v] for v in values]).pvalue > 1e-6, (at, counts)
