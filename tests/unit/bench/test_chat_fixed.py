"""The pure parts of ``bench/chat.py --engine fixed``: new messages for every turn, the
engine's schedule for the pipeline's request, CPU time from /proc, the engine from the
options."""

from __future__ import annotations

import argparse
import os
import time

import pytest

from bench.chat_client import Stack
from bench.chat_fixed import CLOSERS, OPENERS, Cpu, Engine, messages
from bench.hosting import fixed_engine
from engines.embedded.fixed import FixedTokens
from engines.sampling import GenerationParams


def test_every_message_of_a_run_is_new() -> None:
    questions = ["how do I freeze my card?", "what is the overdraft fee?", "lost card"]
    first, start = messages(questions, count=4, turns=2, start=0)
    second, end = messages(questions, count=3, turns=3, start=start)
    assert (start, end) == (8, 17)
    assert [len(s) for s in first] == [2, 2, 2, 2]
    asked = [m for session in first + second for m in session]
    assert len(set(asked)) == len(asked) == 17
    assert all(m not in questions for m in asked)  # the plain questions were asked before
    assert all(any(q in m for m in asked) for q in questions)
    assert first[0][0] == f"{OPENERS[0]} {questions[0]}{CLOSERS[0]}"
    again, _ = messages(questions, 1, 1, start=len(questions) * len(OPENERS) * len(CLOSERS))
    assert again[0][0] == first[0][0]  # the variants start over only once all are used


def test_engine_time_for_the_pipelines_request() -> None:
    fixed = FixedTokens(tokens=32, ttft_ms=50, itl_ms=10)
    whole = Engine(fixed, GenerationParams(max_tokens=128, stop=("\n\n",)))
    assert (whole.tokens, whole.ttft_ms) == (32, 50)
    assert whole.answer_ms == pytest.approx(360)
    cut = Engine(fixed, GenerationParams(max_tokens=16))
    assert cut.tokens == 16
    assert cut.answer_ms == pytest.approx(200)


def test_cpu_time_of_this_process_and_its_group() -> None:
    stack = Stack("http://x", None, None, api_pid=os.getpid(), engine_pid=os.getpgid(0))
    before = Cpu.now(stack)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    used = Cpu.now(stack) - before
    # Clock ticks are coarse (10 ms): loosely, the busy loop shows in all three.
    assert 0.1 <= used.api <= used.engine + 0.02
    assert used.client >= 0.1
    assert "API" in used.share(1.0)


def test_the_engine_from_the_options() -> None:
    args = argparse.Namespace(
        engine="fixed", fixed_tokens=8, fixed_ttft_ms=20.0, fixed_itl_ms=5.0, fixed_text=None
    )
    assert fixed_engine(args) == FixedTokens(tokens=8, ttft_ms=20.0, itl_ms=5.0)
    args.fixed_text = "Hello there."
    assert fixed_engine(args) == FixedTokens(8, 20.0, 5.0, "Hello there.")
    assert fixed_engine(argparse.Namespace(engine="model")) is None
    assert fixed_engine(argparse.Namespace()) is None
