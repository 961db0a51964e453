"""The flows a profile can run, and the library flows it cannot.

NeMo adds every flow of its rails library (about 90, for services such as ActiveFence or
Clavata) to each config, and the Colang 1.0 runtime tries each flow on every event of a call;
:attr:`~chatbot.nemo.switch.Speedup.PRUNED_FLOWS` takes the ones a profile cannot run out of
its runtime (``bench/rails_eval.py --runtime`` measures it side by side)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nemoguardrails.rails.llm
from nemoguardrails import LLMRails
from nemoguardrails.colang import parse_colang_file


def profile_flows(rails: LLMRails, own_flows: set[str]) -> set[str]:
    """The flows a call can run: the profile's own, NeMo's core ones, the library rails the
    profile names and the subflows these call."""
    core_file = Path(nemoguardrails.rails.llm.__file__).parent / "llm_flows.co"
    core = parse_colang_file(core_file.name, core_file.read_text(encoding="utf-8"))["flows"]
    rails_config = rails.config.rails
    named = rails_config.input.flows + rails_config.output.flows + rails_config.retrieval.flows
    keep = own_flows | {flow["id"] for flow in core} | set(named)
    flows = rails.runtime.flow_configs
    todo = [f for f in keep if f in flows]
    while todo:  # `do $input_flows[$i]` runs one of the named rails, already kept
        for element in flows[todo.pop()].elements:
            is_call = isinstance(element, dict) and element.get("_type") == "flow"
            called = element.get("flow_name") if is_call else None
            if called and not called.startswith("$") and called not in keep:
                keep.add(called)
                todo.append(called)
    return keep


class FlowSet:
    """A runtime's flows, all of them or only those a profile can run, switchable both ways:
    the runtime reads its ``flow_configs`` dict on every event, so it is changed in place,
    in NeMo's order."""

    def __init__(self, rails: LLMRails, keep: set[str]) -> None:
        self._flows: dict[str, Any] = rails.runtime.flow_configs
        self._all = dict(self._flows)
        self.keep = keep

    def prune(self, pruned: bool) -> None:
        wanted = {k: v for k, v in self._all.items() if k in self.keep} if pruned else self._all
        if self._flows.keys() != wanted.keys():
            self._flows.clear()
            self._flows.update(wanted)
