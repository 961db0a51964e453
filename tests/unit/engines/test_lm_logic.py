"""Logic around the model: parameter bounds and stop-string hold-back (no model loaded)."""

from __future__ import annotations

import pytest

from engines.contract import ENSEMBLE, LLMAPI
from engines.errors import BadRequestError
from engines.lm import GenerationParams
from engines.sampling import Stops as _Stops


@pytest.mark.parametrize(
    "params, message",
    [
        (GenerationParams(max_tokens=0), "max_tokens"),
        (GenerationParams(max_tokens=100_000), "max_tokens"),
        (GenerationParams(temperature=-0.1), "temperature"),
        (GenerationParams(top_p=0.0), "top_p"),
        (GenerationParams(top_k=-1), "top_k"),
        (GenerationParams(stop=("",)), "stop"),
        (GenerationParams(seed=-1), "seed"),
    ],
)
def test_out_of_bounds_parameters(params: GenerationParams, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        params.validate()


def test_defaults_are_valid() -> None:
    assert GenerationParams().validate() == GenerationParams()


def test_stop_strings_are_found_and_prefixes_held_back() -> None:
    stops = _Stops(("\nUser:", "END"))
    assert stops.find("hello END there", 0) == 6
    assert stops.find("hello", 0) is None
    # "\nUs" could become "\nUser:": hold it back; "E" could become "END".
    assert stops.safe_end("Hi there\nUs") == len("Hi there")
    assert stops.safe_end("Hi E") == len("Hi ")
    assert stops.safe_end("Hi there") == len("Hi there")
    assert _Stops(()).safe_end("anything") == len("anything")


def test_dialects_match_the_design_contract() -> None:
    assert LLMAPI.model == "tensorrt_llm" and LLMAPI.max_batch_size == 0
    assert [t.name for t in LLMAPI.inputs] == [
        "text_input",
        "streaming",
        "sampling_param_max_tokens",
        "sampling_param_temperature",
        "sampling_param_top_p",
        "sampling_param_top_k",
        "sampling_param_stop",
        "sampling_param_seed",
    ]
    assert ENSEMBLE.model == "ensemble" and ENSEMBLE.max_batch_size > 0
    assert [t.name for t in ENSEMBLE.inputs] == [
        "text_input",
        "stream",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_words",
        "seed",
    ]
    assert [(t.name, t.datatype) for t in LLMAPI.outputs] == [
        ("text_output", "BYTES"),
        ("finish_reason", "BYTES"),
    ]
