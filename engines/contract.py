"""The generation contract: the two Triton request dialects of TensorRT-LLM (README, engine).

One source for tensor names, datatypes and shapes, used by the embedded engine's model
repository, its Python-backend model, the chatbot's client and the production repository.
Logical parameter names (``max_tokens``, ``temperature``…) map to each dialect's tensor names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DialectName = Literal["llmapi", "ensemble"]
Datatype = Literal["BYTES", "BOOL", "INT32", "UINT64", "FP32"]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: Datatype
    dims: tuple[int, ...]
    optional: bool = True


@dataclass(frozen=True)
class Dialect:
    name: DialectName
    model: str
    max_batch_size: int
    """0: tensors carry no batch dimension; > 0: a leading batch dimension of 1 is sent."""
    prompt: str
    streaming: str
    params: dict[str, TensorSpec]
    """Logical name (max_tokens, temperature, top_p, top_k, stop, seed) -> tensor."""
    outputs: tuple[TensorSpec, ...]

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        first = (
            TensorSpec(self.prompt, "BYTES", (-1,), optional=False),
            TensorSpec(self.streaming, "BOOL", (1,)),
        )
        return first + tuple(self.params.values())


def _params(prefix: str, max_tokens: str, stop: str) -> dict[str, TensorSpec]:
    return {
        "max_tokens": TensorSpec(max_tokens, "INT32", (1,)),
        "temperature": TensorSpec(f"{prefix}temperature", "FP32", (1,)),
        "top_p": TensorSpec(f"{prefix}top_p", "FP32", (1,)),
        "top_k": TensorSpec(f"{prefix}top_k", "INT32", (1,)),
        "stop": TensorSpec(stop, "BYTES", (-1,)),
        "seed": TensorSpec(f"{prefix}seed", "UINT64", (1,)),
    }


LLMAPI = Dialect(
    name="llmapi",
    model="tensorrt_llm",
    max_batch_size=0,
    prompt="text_input",
    streaming="streaming",
    params=_params("sampling_param_", "sampling_param_max_tokens", "sampling_param_stop"),
    outputs=(
        TensorSpec("text_output", "BYTES", (-1,)),
        TensorSpec("finish_reason", "BYTES", (-1,)),
    ),
)

ENSEMBLE = Dialect(
    name="ensemble",
    model="ensemble",
    max_batch_size=8,
    prompt="text_input",
    streaming="stream",
    params=_params("", "max_tokens", "stop_words"),
    outputs=(TensorSpec("text_output", "BYTES", (-1,)),),
)

DIALECTS: dict[DialectName, Dialect] = {"llmapi": LLMAPI, "ensemble": ENSEMBLE}
FINISH_REASONS = ("stop", "length", "cancelled")
