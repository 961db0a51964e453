"""The fixed-token engine's plan (tokens, max_tokens, stop strings, timing), its generator
without a server, and its model repository (the embedded engine's signatures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from engines.contract import DIALECTS
from engines.embedded.fixed import FixedTokens
from engines.embedded.repository import write_repository
from engines.errors import BadRequestError, EngineError
from engines.sampling import GenerationParams, Step

TEXT = "One two three. Four five."


def texts(steps: list[Step]) -> list[str]:
    return [s.text for s in steps]


def test_tokens_are_the_words_starting_over_after_the_last() -> None:
    assert FixedTokens(tokens=3, text=TEXT).pieces() == ["One", " two", " three."]
    assert "".join(FixedTokens(tokens=7, text=TEXT).pieces()) == "One two three. Four five. One two"
    assert FixedTokens(tokens=2, text="  Hello\n  there  ").pieces() == ["Hello", "\n  there"]


def test_a_request_gets_its_tokens_and_the_finish_reason_on_the_last() -> None:
    fixed = FixedTokens(tokens=5, text=TEXT)
    whole = fixed.plan(GenerationParams(max_tokens=100))
    assert texts(whole) == ["One", " two", " three.", " Four", " five."]
    assert [s.finish_reason for s in whole] == [None, None, None, None, "stop"]
    cut = fixed.plan(GenerationParams(max_tokens=2))
    assert texts(cut) == ["One", " two"]
    assert cut[-1].finish_reason == "length"
    assert fixed.plan(GenerationParams(max_tokens=5))[-1].finish_reason == "stop"


def test_the_text_ends_where_the_first_stop_string_begins() -> None:
    fixed = FixedTokens(tokens=5, text=TEXT)
    steps = fixed.plan(GenerationParams(max_tokens=100, stop=("five", "ee. F")))
    # "ee. F" begins inside " three." and is complete with " Four": four tokens, no more.
    assert texts(steps) == ["One", " two", " thr", ""]
    assert [s.finish_reason for s in steps] == [None, None, None, "stop"]
    at_start = fixed.plan(GenerationParams(max_tokens=100, stop=("One",)))
    assert [(s.text, s.finish_reason) for s in at_start] == [("", "stop")]
    # A stop string past max_tokens never ends the text.
    assert fixed.plan(GenerationParams(max_tokens=2, stop=("five",)))[-1].finish_reason == "length"


def test_token_times() -> None:
    fixed = FixedTokens(ttft_ms=50, itl_ms=10)
    assert fixed.seconds(1) == pytest.approx(0.05)
    assert fixed.seconds(32) == pytest.approx(0.36)


def test_generate_streams_the_plan_and_stops_when_cancelled() -> None:
    fixed = FixedTokens(tokens=6, ttft_ms=0, itl_ms=0, text=TEXT)
    params = GenerationParams(max_tokens=4, stop=("three",))
    streamed = list(fixed.generate("a prompt", params))
    # The token inside the stop string sends nothing; the last step closes the stream.
    assert [(s.text, s.finish_reason) for s in streamed] == [
        ("One", None),
        (" two", None),
        (" ", "stop"),
    ]
    calls = iter([False, False, True])
    cancelled = list(fixed.generate("a prompt", GenerationParams(), lambda: next(calls)))
    assert [(s.text, s.finish_reason) for s in cancelled] == [
        ("One", None),
        (" two", None),
        ("", "cancelled"),
    ]
    with pytest.raises(BadRequestError, match="empty"):
        list(fixed.generate("  ", GenerationParams()))
    with pytest.raises(BadRequestError, match="max_tokens"):
        list(fixed.generate("a prompt", GenerationParams(max_tokens=0)))


@pytest.mark.parametrize(
    "options",
    [{"tokens": 0}, {"ttft_ms": -1.0}, {"itl_ms": -1.0}, {"text": " \n"}, {"max_batch": 0}],
)
def test_bad_settings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(EngineError):
        FixedTokens(**options)


def test_parameters_round_trip() -> None:
    fixed = FixedTokens(tokens=7, ttft_ms=12.5, itl_ms=0.25, text="Hi, there.", max_batch=3)
    assert FixedTokens.from_parameters(fixed.parameters()) == fixed


def test_repository_has_the_embedded_engines_signatures(tmp_path: Path) -> None:
    fixed = FixedTokens(tokens=7, ttft_ms=12.5, text='Say "hi"\nthen go.')
    fixed.write_repository(tmp_path / "fixed")
    write_repository(tmp_path / "lm", None, "cpu", tmp_path / "cache")
    for dialect in DIALECTS.values():
        configs = [
            text_format.Parse(
                (tmp_path / kind / dialect.model / "config.pbtxt").read_text(), mc.ModelConfig()
            )
            for kind in ("fixed", "lm")
        ]
        ours, lm = configs
        parameters = {k: v.string_value for k, v in ours.parameters.items()}
        assert parameters == {"dialect": dialect.name, **fixed.parameters()}
        assert FixedTokens.from_parameters(parameters) == fixed
        ours.ClearField("parameters")
        lm.ClearField("parameters")
        assert ours == lm  # same names, tensors, batching, decoupled policy
        model_py = (tmp_path / "fixed" / dialect.model / "1" / "model.py").read_text()
        assert model_py == (tmp_path / "lm" / dialect.model / "1" / "model.py").read_text()
