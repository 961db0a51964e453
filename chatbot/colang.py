"""Colang 1.0 expressions evaluated from a parse cache.

NeMo Guardrails 0.24 evaluates each ``if``/``$var = ...`` expression of its flows with
``simpleeval`` and parses it again every time: a rails call slides its flows over about 9
events and evaluates about 110 expressions, and parsing them plus building a new evaluator
for each is about 40 % of the call. The expressions come from the Colang files, so there are
only a few dozen distinct ones: this module parses each once and evaluates the cached tree
with the same evaluator class, operators, functions and variables NeMo uses, so results and
errors are unchanged. NeMo offers no hook for this, hence the replacement of its function in
the two runtime modules that imported it (``install``); it refuses to patch a NeMo whose
runtime no longer holds the function it replaces.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from typing import Any

import nemoguardrails.colang.v1_0.runtime.eval as nemo_eval
import nemoguardrails.colang.v1_0.runtime.flows as nemo_flows
import nemoguardrails.colang.v1_0.runtime.sliding as nemo_sliding
from nemoguardrails.colang.v1_0.runtime.utils import AttributeDict
from simpleeval import SimpleEval

from chatbot.errors import ConfigurationError

_VARIABLE = re.compile(r"\$([a-zA-Z_][a-zA-Z0-9_]*)")
_RUNTIME_MODULES = (nemo_flows, nemo_sliding)
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


def install() -> None:
    """Make NeMo's Colang 1.0 runtime use :func:`eval_expression` (idempotent)."""
    for module in _RUNTIME_MODULES:
        current = getattr(module, "eval_expression", None)
        if current is not nemo_eval.eval_expression and current is not eval_expression:
            raise ConfigurationError(
                f"{module.__name__}.eval_expression is not NeMo's: the expression cache in "
                "chatbot/colang.py no longer fits this NeMo Guardrails version"
            )
        module.eval_expression = eval_expression
