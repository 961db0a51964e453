"""Triton model ``postprocessing`` of the compiled-engine ensemble: token ids -> text.

Inputs (batch dim first): TOKENS_BATCH (INT32 ``[beams, tokens]``) and SEQUENCE_LENGTH (INT32
``[beams]``) from the ``tensorrt_llm`` model, which is configured with
``exclude_input_in_output`` so the ids are generated tokens only (when streaming, the tokens
new since the previous response). Output: OUTPUT (BYTES ``[beams]``), the ensemble's
``text_output``. Parameter: ``tokenizer_dir``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class Tokenizer(Protocol):
    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


def detokenize(
    tokenizer: Tokenizer, tokens: Sequence[Sequence[int]], lengths: Sequence[int]
) -> list[bytes]:
    """One UTF-8 text per beam, cut at its sequence length, special tokens (EOS) dropped."""
    return [
        tokenizer.decode([int(t) for t in beam[: int(n)]], skip_special_tokens=True).encode()
        for beam, n in zip(tokens, lengths, strict=True)
    ]


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        from transformers import AutoTokenizer

        parameters = json.loads(args["model_config"])["parameters"]
        self.tokenizer: Tokenizer = AutoTokenizer.from_pretrained(
            parameters["tokenizer_dir"]["string_value"]
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            tokens = pb_utils.get_input_tensor_by_name(request, "TOKENS_BATCH").as_numpy()
            lengths = pb_utils.get_input_tensor_by_name(request, "SEQUENCE_LENGTH").as_numpy()
            texts = [detokenize(self.tokenizer, t, n) for t, n in zip(tokens, lengths, strict=True)]
            output = pb_utils.Tensor("OUTPUT", np.array(texts, dtype=np.object_))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses
