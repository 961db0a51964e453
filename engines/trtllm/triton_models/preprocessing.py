"""Triton model ``preprocessing`` of the compiled-engine ensemble: text -> token ids.

Inputs (batch dim first): QUERY (BYTES, the prompt already rendered with the chat template by
the chatbot), REQUEST_OUTPUT_LEN (INT32), optional STOP_WORDS_DICT (BYTES, stop strings).
Outputs: INPUT_ID, REQUEST_INPUT_LEN, REQUEST_OUTPUT_LEN, STOP_WORDS_IDS (TensorRT-LLM's
``[2, L]`` word-list format), OUT_END_ID, OUT_PAD_ID. Parameters: ``tokenizer_dir`` (the
Hugging Face checkpoint) and ``max_input_len`` (the engine's limit, checked here so an
over-long prompt gets a clear error instead of an engine failure).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt


class Tokenizer(Protocol):
    eos_token_id: int | None
    pad_token_id: int | None

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def prompt_ids(tokenizer: Tokenizer, row: Sequence[object], max_input_len: int) -> list[int]:
    """Token ids of one request's prompt. No special tokens are added: the chat template the
    chatbot applied already contains the ones the model expects (e.g. Llama 3's BOS)."""
    ids = tokenizer.encode("".join(_text(v) for v in row), add_special_tokens=False)
    if not ids:
        raise ValueError("the prompt is empty")
    if len(ids) > max_input_len:
        raise ValueError(
            f"the prompt has {len(ids)} tokens; the engine accepts at most {max_input_len}"
        )
    return ids


def stop_words_list(tokenizer: Tokenizer, words: Sequence[object]) -> npt.NDArray[np.int32]:
    """TensorRT-LLM's word list: row 0 the concatenated token ids, row 1 the end offset of
    each word, both padded (ids with 0, offsets with -1) to at least one column."""
    flat: list[int] = []
    ends: list[int] = []
    for word in words:
        text = _text(word)
        if not text:
            continue
        flat.extend(tokenizer.encode(text, add_special_tokens=False))
        ends.append(len(flat))
    width = max(1, len(flat))
    result = np.zeros((2, width), dtype=np.int32)
    result[0, : len(flat)] = flat
    result[1, :] = -1
    result[1, : len(ends)] = ends
    return result


def special_ids(tokenizer: Tokenizer) -> tuple[int, int]:
    """(end_id, pad_id): the model's EOS, and its pad token or EOS when it has none."""
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token")
    pad = tokenizer.pad_token_id
    return tokenizer.eos_token_id, tokenizer.eos_token_id if pad is None else pad


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        from transformers import AutoTokenizer

        parameters = json.loads(args["model_config"])["parameters"]
        folder = parameters["tokenizer_dir"]["string_value"]
        self.max_input_len = int(parameters["max_input_len"]["string_value"])
        self.tokenizer: Tokenizer = AutoTokenizer.from_pretrained(folder)
        self.end_id, self.pad_id = special_ids(self.tokenizer)

    def execute(self, requests: list[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            try:
                tensors = self._one(pb_utils, request)
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except ValueError as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
        return responses

    def _one(self, pb_utils: Any, request: Any) -> list[Any]:
        query = pb_utils.get_input_tensor_by_name(request, "QUERY").as_numpy()
        output_len = pb_utils.get_input_tensor_by_name(request, "REQUEST_OUTPUT_LEN").as_numpy()
        stop = pb_utils.get_input_tensor_by_name(request, "STOP_WORDS_DICT")
        stop_rows = stop.as_numpy() if stop is not None else [[] for _ in range(len(query))]
        if len(query) != 1:
            raise ValueError("send one prompt per request (batch dimension 1)")
        ids = prompt_ids(self.tokenizer, list(query[0]), self.max_input_len)
        words = stop_words_list(self.tokenizer, list(stop_rows[0]))

        def int32(name: str, value: object) -> Any:
            return pb_utils.Tensor(name, np.asarray(value, dtype=np.int32))

        return [
            int32("INPUT_ID", [ids]),
            int32("REQUEST_INPUT_LEN", [[len(ids)]]),
            int32("REQUEST_OUTPUT_LEN", output_len),
            int32("STOP_WORDS_IDS", [words]),
            int32("OUT_END_ID", [[self.end_id]]),
            int32("OUT_PAD_ID", [[self.pad_id]]),
        ]
