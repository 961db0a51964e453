"""Speed-ups for NeMo Guardrails' Colang 1.0 runtime, which every rails call runs.

NeMo 0.24 offers no hook for these, so :mod:`chatbot.nemo.switch` puts them in place of its
functions in the runtime modules that imported them (and puts NeMo's back), refusing to patch
a NeMo whose runtime no longer holds the functions it replaces. All give NeMo's results: the
tests compare them with NeMo's own; ``bench/rails_eval.py --runtime`` measures each.

- **Expressions parsed once.** Each ``if``/``$var = ...`` expression of a flow is evaluated
  with ``simpleeval``, parsed again every time: a rails call evaluates over a hundred, and
  parsing plus building an evaluator for each was a large part of the call. They come from the
  Colang files, so there are only a few dozen distinct ones: :func:`eval_expression` parses
  each once and evaluates the cached tree with the same evaluator class, operators, functions
  and variables NeMo uses, so results and errors are unchanged.
- **The event history replayed once.** Within a call the runtime asks for the next steps
  after every new event, and NeMo's ``compute_next_steps`` rebuilds the flow state from an
  empty one over the whole history each time: quadratic in the events, where one update per
  event suffices. :func:`compute_next_steps` keeps the state it reached and applies only the
  new events (see there).
- **Action signatures read once.** The runtime calls ``inspect.signature`` on an action each
  time it runs one, to see which special parameters it takes. :func:`precompute_signatures`
  stores each action's signature as its ``__signature__``, which ``inspect.signature``
  returns as it is.
- **Events made without the debug checks.** A call makes dozens of events, and NeMo's
  ``new_event_dict`` runs a dozen validators over each. The validators are ``assert``
  statements, which ``python -O`` strips, so they are NeMo's debug checks of its own events:
  :func:`new_event_dict` makes the same event without them (the tests validate every event of
  real rails calls with NeMo's checks).
- **Uids from pooled randomness.** Events and flow states take dozens of uids a turn, and NeMo's
  ``new_uuid`` makes each with a ``getrandom`` system call and a ``uuid.UUID`` that checks its
  arguments. :func:`new_uuid` writes the same version-4 text from
  the same operating-system randomness, read 4 KiB at a time.
"""

from __future__ import annotations

import functools
import inspect
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nemoguardrails.colang.v1_0.runtime.flows as nemo_flows
import nemoguardrails.utils as nemo_utils
from nemoguardrails.colang.v1_0.runtime.flows import FlowConfig, State
from nemoguardrails.colang.v1_0.runtime.utils import AttributeDict
from simpleeval import SimpleEval

_VARIABLE = re.compile(r"\$([a-zA-Z_][a-zA-Z0-9_]*)")
_local = threading.local()


@functools.lru_cache(maxsize=4096)
def _parsed(expr: str) -> tuple[tuple[str, ...], str, Any]:
    """The expression's variable names, and its text and tree with ``$name`` renamed
    ``var_name`` as NeMo does."""
    names = tuple(dict.fromkeys(_VARIABLE.findall(expr)))
    renamed = _VARIABLE.sub(r"var_\1", expr)
    return names, renamed, SimpleEval.parse(renamed)


def _evaluator() -> SimpleEval:
    # One evaluator per thread: ``eval`` keeps the names and expression on the instance.
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _local.evaluator = SimpleEval(functions={"len": len})
    return evaluator


def eval_expression(expr: Any, context: Mapping[str, Any]) -> Any:
    """Drop-in for ``nemoguardrails.colang.v1_0.runtime.eval.eval_expression``."""
    if expr is None:
        return None
    if not isinstance(expr, str):
        assert isinstance(expr, bool | int)
        return expr
    try:
        names, renamed, tree = _parsed(expr)
        values = {}
        for name in names:
            value = context.get(name)
            values[f"var_{name}"] = AttributeDict(value) if isinstance(value, dict) else value
        evaluator = _evaluator()
        evaluator.names = values
        return evaluator.eval(renamed, previously_parsed=tree)
    except Exception as ex:
        raise Exception(f"Error evaluating '{expr}': {ex}") from ex  # NeMo's own wording


@dataclass
class _Progress:
    events: list[dict[str, Any]]
    """The history the state has taken in: the runtime's own event objects."""
    state: State


# The states reached by the calls in progress, keyed by the id of their history's first event
# (the runtime copies the list for each call but keeps the event objects); a call's entry goes
# when it ends. A few dozen calls run at once at most; an evicted one only replays again.
_MAX_CALLS = 256
_progress: OrderedDict[int, _Progress] = OrderedDict()
_progress_lock = threading.Lock()
_nemo_compute_next_steps: Callable[..., list[dict[str, Any]]] = nemo_flows.compute_next_steps


def _resume(
    history: Sequence[dict[str, Any]], flow_configs: dict[str, FlowConfig], rails_config: Any
) -> _Progress:
    """The state reached on the longest earlier history this one extends, taken out of the
    cache: NeMo mutates a state as it applies events, so each one is continued only once."""
    with _progress_lock:
        found = _progress.pop(id(history[0]), None)
    if (
        found is not None
        and found.state.flow_configs is flow_configs
        and found.state.rails_config is rails_config
        and len(found.events) <= len(history)
        and all(a is b for a, b in zip(found.events, history, strict=False))
    ):
        return found
    fresh = State(context={}, flow_states=[], flow_configs=flow_configs, rails_config=rails_config)
    return _Progress([], fresh)


def compute_next_steps(
    history: list[dict[str, Any]],
    flow_configs: dict[str, FlowConfig],
    rails_config: Any,
    processing_log: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Drop-in for ``nemoguardrails.colang.v1_0.runtime.flows.compute_next_steps``.

    NeMo's folds ``compute_next_state`` over the whole history from an empty state, then turns
    the state's pending step into events. The fold only ever appends within a call, so this
    one continues from the state it reached on the call's previous history and folds in the
    new events alone; the held events are compared by identity, and any other history (or one
    holding ``hide_prev_turn``, which rewrites the past) gets NeMo's full replay."""
    if not history or any(event["type"] == "hide_prev_turn" for event in history):
        return _nemo_compute_next_steps(history, flow_configs, rails_config, processing_log)
    progress = _resume(history, flow_configs, rails_config)
    state = progress.state
    for event in history[len(progress.events) :]:
        state = nemo_flows.compute_next_state(state, event)
        if event["type"] == "BotIntent" and event["intent"] == "stop":
            state.flow_states = []  # as NeMo's fold does
    last = history[-1]
    stopped = last["type"] == "BotIntent" and last["intent"] == "stop"
    steps = [] if stopped else _pending_steps(state, processing_log)
    if steps:  # no step ends the call (the runtime listens): nothing to hold on to
        with _progress_lock:
            _progress[id(history[0])] = _Progress(list(history), state)
            while len(_progress) > _MAX_CALLS:
                _progress.popitem(last=False)
    return steps


def _pending_steps(state: State, processing_log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events for the state's context updates and next step, logged as NeMo logs them."""
    steps = []
    if state.context_updates:
        steps.append(new_event_dict("ContextUpdate", data=state.context_updates))
    if state.next_step:
        step = nemo_flows._step_to_event(state.next_step)
        if step["type"] == "BotIntent" and state.next_step_comment:
            step["instructions"] = state.next_step_comment
        steps.append(step)
    if steps and state.next_step_by_flow_uid:
        for flow_state in state.flow_states:
            if flow_state.uid == state.next_step_by_flow_uid:
                processing_log.append(
                    {
                        "type": "step",
                        "timestamp": time.time(),
                        "flow_id": flow_state.flow_id,
                        "next_steps": steps,
                    }
                )
    return steps


class _RandomPool:
    """``os.urandom`` read 4 KiB at a time rather than one system call per uid."""

    _SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def take(self, size: int) -> bytes:
        with self._lock:
            if self._at + size > len(self._pool):
                self._pool, self._at = os.urandom(max(self._SIZE, size)), 0
            chunk = self._pool[self._at : self._at + size]
            self._at += size
        return chunk


_POOL = _RandomPool()
_nemo_new_uuid: Callable[[], str] = nemo_utils.new_uuid
_nemo_new_event_dict: Callable[..., dict[str, Any]] = nemo_utils.new_event_dict


def new_uuid() -> str:
    """Drop-in for ``nemoguardrails.utils.new_uuid``: a random (version 4) UUID string, as
    ``str(uuid.UUID(int=getrandbits(128), version=4))`` makes it, with the 128 bits from
    :class:`_RandomPool` and the text written from their hex digits. NeMo's own when its
    random source was seeded for debugging (``init_random_seed``), so uids repeat as there."""
    if type(nemo_utils.secure_random) is not random.SystemRandom:
        return _nemo_new_uuid()
    digits = _POOL.take(16).hex()
    # Version 4 in the 13th digit, the RFC 4122 variant (binary 10) in the 17th.
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def new_event_dict(event_type: str, **payload: Any) -> dict[str, Any]:
    """Drop-in for ``nemoguardrails.utils.new_event_dict``: the same event, without the
    ``assert`` checks (see the module docstring)."""
    event: dict[str, Any] = {
        "type": event_type,
        "uid": new_uuid(),
        "event_created_at": datetime.now(UTC).isoformat(),
        "source_uid": "NeMoGuardrails",
        **payload,
    }
    if "Action" in event_type:
        nemo_utils._add_modality_info(event)
        nemo_utils._update_action_properties(event)
    return event


SIGNED: list[Callable[..., Any]] = []
"""The functions :func:`precompute_signatures` gave a ``__signature__``."""


def precompute_signatures(runtime: Any, flow_ids: Iterable[str]) -> None:
    """Give each action that the flows ``flow_ids`` execute its signature as ``__signature__``
    (once: an action's parameters do not change). A bound method's goes on its function, from
    which ``inspect.signature`` derives the method's as before."""
    for flow_id in flow_ids:
        flow = runtime.flow_configs.get(flow_id)
        for element in flow.elements if flow is not None else ():
            if not (isinstance(element, dict) and element.get("_type") == "run_action"):
                continue
            fn = runtime.action_dispatcher.get_action(element["action_name"])
            target = getattr(fn, "__func__", fn)
            if inspect.isfunction(target) and "__signature__" not in vars(target):
                target.__signature__ = inspect.signature(target)  # type: ignore[attr-defined]
                SIGNED.append(target)


def forget_signatures() -> None:
    """Undo :func:`precompute_signatures`: ``inspect.signature`` reads each action again."""
    while SIGNED:
        target = SIGNED.pop()
        if "__signature__" in vars(target):
            del target.__signature__  # type: ignore[attr-defined]
