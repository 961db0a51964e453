"""The switch between NeMo Guardrails as it ships and the speed-ups of this package.

Each :class:`Speedup` changes how NeMo computes a rails call, never what it computes (the
tests compare verdicts both ways). :func:`install` turns a set of them on, and NeMo's own
functions back on for the rest; :func:`uninstall` is NeMo's stock runtime, driven through
``LLMRails.generate_async``; :func:`serving` is the pair for an app's lifespan. The runtime
patches are process-wide; the per-config ones apply
to every ``LLMRails`` handed to :func:`attach`, made before or after the switch.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any

import nemoguardrails.colang.v1_0.runtime.eval as nemo_eval
import nemoguardrails.colang.v1_0.runtime.flows as nemo_flows
import nemoguardrails.colang.v1_0.runtime.runtime as nemo_runtime
import nemoguardrails.colang.v1_0.runtime.sliding as nemo_sliding
import nemoguardrails.rails.llm.llmrails as nemo_llmrails
import nemoguardrails.utils as nemo_utils
from nemoguardrails import LLMRails
from nemoguardrails.actions import core as nemo_core
from nemoguardrails.actions.llm import generation as nemo_generation

from chatbot.errors import ConfigurationError
from chatbot.nemo import runtime
from chatbot.nemo.flows import FlowSet, profile_flows


class Speedup(StrEnum):
    """What :func:`install` can change (``docs/nemo-runtime.md`` describes each)."""

    PRUNED_FLOWS = "pruned_flows"
    """Library flows the profile cannot run are taken out of its runtime."""
    CACHED_EXPRESSIONS = "cached_expressions"
    """Colang expressions parsed once (:func:`runtime.eval_expression`)."""
    RESUMED_REPLAY = "resumed_replay"
    """The event history replayed once per call (:func:`runtime.compute_next_steps`)."""
    SIGNATURES = "signatures"
    """Action signatures read once (:func:`runtime.precompute_signatures`)."""
    EVENTS = "events"
    """Events made without NeMo's debug checks (:func:`runtime.new_event_dict`)."""
    UIDS = "uids"
    """Uids from pooled randomness (:func:`runtime.new_uuid`)."""
    HELD_VECTOR_SEARCH = "held_vector_search"
    """Intents searched with the vector the embedder holds (``embeddings.SharedIndex``)."""
    DIRECT_CALL = "direct_call"
    """The Colang runtime driven without ``generate_async`` (``driver.call``)."""


ALL = frozenset(Speedup)
_active: frozenset[Speedup] = frozenset()

# The modules that imported NeMo's event functions, and ``nemoguardrails.utils`` itself.
_EVENT_MODULES = (nemo_utils, nemo_runtime, nemo_flows, nemo_core, nemo_llmrails, nemo_generation)
_UID_MODULES = tuple(m for m in _EVENT_MODULES if m is not nemo_core)  # it makes no uids
# Per speed-up: (namespace, name, NeMo's function, ours).
_Patch = tuple[dict[str, Any], str, Callable[..., Any], Callable[..., Any]]


def _module_patches(
    modules: Iterable[ModuleType], name: str, theirs: Callable[..., Any], ours: Callable[..., Any]
) -> list[_Patch]:
    return [(vars(module), name, theirs, ours) for module in modules]


_PATCHES: dict[Speedup, list[_Patch]] = {
    Speedup.CACHED_EXPRESSIONS: _module_patches(
        (nemo_flows, nemo_sliding),
        "eval_expression",
        nemo_eval.eval_expression,
        runtime.eval_expression,
    ),
    Speedup.RESUMED_REPLAY: _module_patches(
        (nemo_runtime,),
        "compute_next_steps",
        runtime._nemo_compute_next_steps,
        runtime.compute_next_steps,
    ),
    Speedup.EVENTS: _module_patches(
        _EVENT_MODULES, "new_event_dict", runtime._nemo_new_event_dict, runtime.new_event_dict
    ),
    Speedup.UIDS: _module_patches(
        _UID_MODULES, "new_uuid", runtime._nemo_new_uuid, runtime.new_uuid
    ),
}


@dataclass
class _Attached:
    rails: weakref.ref[LLMRails]
    flows: FlowSet
    patches: dict[Speedup, list[_Patch]] = field(default_factory=dict)
    """The same functions in the copies of NeMo's action modules this ``LLMRails`` loaded."""


_attached: list[_Attached] = []


def active() -> frozenset[Speedup]:
    """The speed-ups on now."""
    return _active


def install(speedups: Iterable[Speedup] = ALL) -> None:
    """Turn ``speedups`` on and the others off (idempotent). Refuses a NeMo whose runtime no
    longer holds the functions a speed-up replaces: it would patch the wrong thing."""
    global _active
    wanted = frozenset(speedups)
    _attached[:] = [a for a in _attached if a.rails() is not None]
    for speedup, patches in _all_patches():
        for namespace, name, theirs, ours in patches:
            current = namespace.get(name)
            if speedup in wanted and current is not theirs and current is not ours:
                raise ConfigurationError(
                    f"{namespace.get('__name__')}.{name} is not NeMo's: the speed-ups in "
                    "chatbot/nemo no longer fit this NeMo Guardrails version; run with "
                    "CHATBOT_NEMO_RUNTIME=stock"
                )
    for speedup, patches in _all_patches():
        for namespace, name, theirs, ours in patches:
            if speedup in wanted:
                namespace[name] = ours
            elif namespace.get(name) is ours:
                namespace[name] = theirs
    runtime.forget_signatures()
    for attached in _attached:
        rails = attached.rails()
        if rails is None:
            continue
        attached.flows.prune(Speedup.PRUNED_FLOWS in wanted)
        if Speedup.SIGNATURES in wanted:
            runtime.precompute_signatures(rails.runtime, attached.flows.keep)
    _active = wanted


def uninstall() -> None:
    """NeMo Guardrails as it ships."""
    install(())


_serving = 0
_serving_lock = threading.Lock()


@contextlib.contextmanager
def serving(speedups: Iterable[Speedup] = ALL) -> Iterator[None]:
    """For an app's lifespan: ``speedups`` on while it runs, NeMo as it ships once the last
    app of the process has stopped (tests run several apps in one process; one stopping must
    not switch the runtime under another one's calls)."""
    global _serving
    with _serving_lock:
        install(speedups)
        _serving += 1
    try:
        yield
    finally:
        with _serving_lock:
            _serving -= 1
            if _serving == 0:
                uninstall()


def attach(rails: LLMRails, own_flows: set[str]) -> None:
    """Let the switch reach ``rails`` (once its actions are registered): ``own_flows`` are the
    profile's flows, which with the ones they need are all its calls can run."""
    attached = _Attached(weakref.ref(rails), FlowSet(rails, profile_flows(rails, own_flows)))
    # Each LLMRails' action dispatcher loads its own copy of NeMo's action modules, which took
    # the event functions from ``nemoguardrails.utils`` when it loaded them.
    dispatcher = rails.runtime.action_dispatcher
    namespaces = {
        id(g): g
        for fn in dispatcher.registered_actions.values()
        if isinstance(g := getattr(getattr(fn, "__func__", fn), "__globals__", None), dict)
    }
    known = {id(vars(m)) for m in _EVENT_MODULES}
    for speedup in (Speedup.EVENTS, Speedup.UIDS):
        _, name, theirs, ours = _PATCHES[speedup][0]
        attached.patches[speedup] = [
            (g, name, theirs, ours)
            for key, g in namespaces.items()
            if key not in known and g.get(name) in (theirs, ours)
        ]
    _attached.append(attached)
    install(_active)


def _all_patches() -> Iterable[tuple[Speedup, list[_Patch]]]:
    yield from _PATCHES.items()
    for attached in _attached:
        yield from attached.patches.items()
