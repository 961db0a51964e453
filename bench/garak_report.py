"""The table of a garak report for ``bench/garak_scan.py``: pass rates per probe and
detector, per probe module and overall, from the report's ``eval`` and ``attempt`` entries."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_MESSAGE_LIMIT = 2000  # chatbot.settings.Settings.max_message_chars default
# garak's MitigationBypass passes an answer only when it holds one of ChatGPT's refusal phrases
# ("As an AI language model", "I cannot"...); the bot's own refusal and abstention texts hold
# none, so the table also gives the overall pass rate without it.
REFUSAL_PHRASE_DETECTOR = "mitigation.MitigationBypass"


@dataclass(frozen=True)
class Row:
    probe: str
    detector: str
    attempts: int
    passed: int
    failed: int
    nones: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.attempts if self.attempts else None


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    probes_run: list[str]
    attempts: int
    long_prompts: int
    no_output: int


def _prompt_text(attempt: dict[str, Any]) -> str:
    prompt = attempt.get("prompt")
    if isinstance(prompt, dict):
        turns = prompt.get("turns") or []
        texts = [
            str(turn["content"].get("text") or "")
            for turn in turns
            if isinstance(turn, dict) and isinstance(turn.get("content"), dict)
        ]
        return texts[-1] if texts else ""
    return str(prompt or "")


def parse_report(report: Path) -> Report:
    """The ``eval`` entries (one per probe and detector) and the attempts of a garak report."""
    rows: list[Row] = []
    probes: list[str] = []
    attempts = long_prompts = no_output = 0
    with report.open() as lines:
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            kind = entry.get("entry_type")
            if kind == "eval":
                rows.append(
                    Row(
                        probe=str(entry["probe"]).removeprefix("probes."),
                        detector=str(entry["detector"]).removeprefix("detector."),
                        attempts=int(entry.get("total_evaluated", 0)),
                        passed=int(entry.get("passed", 0)),
                        failed=int(entry.get("fails", 0)),
                        nones=int(entry.get("nones", 0)),
                    )
                )
            elif kind == "attempt" and entry.get("status") == 2:  # 2: evaluated
                attempts += 1
                probe = str(entry.get("probe_classname", "")).removeprefix("probes.")
                if probe and probe not in probes:
                    probes.append(probe)
                if len(_prompt_text(entry)) > DEFAULT_MESSAGE_LIMIT:
                    long_prompts += 1
                outputs = entry.get("outputs") or []
                if not any(isinstance(o, dict) and o.get("text") is not None for o in outputs):
                    no_output += 1
    return Report(rows, probes, attempts, long_prompts, no_output)


def _pct(passed: int, total: int) -> str:
    return f"{100 * passed / total:6.1f} %" if total else "     - "


def print_table(report: Report) -> dict[str, Any]:
    """The table on stdout; the same numbers as a dict for ``summary.json``."""
    width_p = max([len("probe"), *(len(r.probe) for r in report.rows)])
    width_d = max([len("detector"), *(len(r.detector) for r in report.rows)])
    header = (
        f"{'probe':<{width_p}}  {'detector':<{width_d}}  attempts  passed  pass rate  no answer"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in sorted(report.rows, key=lambda r: (r.probe, r.detector)):
        print(
            f"{row.probe:<{width_p}}  {row.detector:<{width_d}}  {row.attempts:8d}  "
            f"{row.passed:6d}  {_pct(row.passed, row.attempts)}  {row.nones:9d}"
        )
    print("-" * len(header))
    modules: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in report.rows:
        module = row.probe.split(".")[0]
        modules[module][0] += row.passed
        modules[module][1] += row.attempts
    for module, (passed, total) in sorted(modules.items()):
        label = f"{module} (all probes, detectors)"
        print(f"{label:<{width_p + width_d + 2}}  {total:8d}  {passed:6d}  {_pct(passed, total)}")
    passed = sum(r.passed for r in report.rows)
    total = sum(r.attempts for r in report.rows)
    print(f"{'OVERALL':<{width_p + width_d + 2}}  {total:8d}  {passed:6d}  {_pct(passed, total)}")
    rest = [r for r in report.rows if r.detector != REFUSAL_PHRASE_DETECTOR]
    passed_rest = sum(r.passed for r in rest)
    total_rest = sum(r.attempts for r in rest)
    label = f"OVERALL without {REFUSAL_PHRASE_DETECTOR}"
    print(
        f"{label:<{width_p + width_d + 2}}  {total_rest:8d}  {passed_rest:6d}  "
        f"{_pct(passed_rest, total_rest)}"
    )
    print(
        f"\n{report.attempts} attempts over {len(report.probes_run)} probes; "
        f"{report.no_output} without an answer (request failed or skipped); "
        f"{report.long_prompts} prompts over {DEFAULT_MESSAGE_LIMIT} characters (the default "
        "CHATBOT_MAX_MESSAGE_CHARS would refuse them with 400 before any rail)."
    )
    print(
        "Pass = garak's detector found no sign that the attack worked in the answer. "
        f"{REFUSAL_PHRASE_DETECTOR} fails any answer without a stock LLM refusal phrase, "
        "the bot's own refusals included."
    )
    return {
        "rows": [asdict(r) | {"pass_rate": r.rate} for r in report.rows],
        "modules": {m: {"passed": p, "attempts": t} for m, (p, t) in sorted(modules.items())},
        "overall": {
            "passed": passed,
            "attempts": total,
            "pass_rate": passed / total if total else None,
        },
        "overall_without_refusal_phrase_detector": {
            "passed": passed_rest,
            "attempts": total_rest,
            "pass_rate": passed_rest / total_rest if total_rest else None,
        },
        "attempts": report.attempts,
        "probes_run": report.probes_run,
        "long_prompts": report.long_prompts,
        "no_output": report.no_output,
    }
