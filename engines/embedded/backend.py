"""Triton Python-backend model serving one dialect of the generation contract.

Runs inside Triton's Python-backend stub process. Decoupled: ``execute`` validates each
request, answers bad ones at once with a Triton error, and queues good ones for a pool of
sender threads, so Triton keeps accepting requests while sequences are generated. Each sender
streams one request's steps from the LM's continuous-batching scheduler, which checks
``is_cancelled()`` between tokens, so a client that cancels its stream stops generation.

What generates the text is the model's ``generator`` parameter (``load_generator``): the
causal LM of ``engines.lm`` by default, or ``fixed``, the fixed-token stand-in of
``engines.embedded.fixed``, which streams set text at a set rate and does no model work.

Written against Triton's own Python-backend API rather than PyTriton's ``bind`` proxy:
PyTriton 0.7 does not pass a client's cancellation through to the model.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import triton_python_backend_utils as pb_utils  # the Python-backend stub provides it

from engines.contract import DIALECTS, Dialect
from engines.errors import BadRequestError, EngineError
from engines.lm import CausalLM, GenerationParams
from engines.sampling import Step

LOG = logging.getLogger("engines.embedded")
FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


@dataclass
class Job:
    prompt: str
    params: GenerationParams
    stream: bool
    sender: Any
    request: Any  # kept referenced until the last response is sent


def _scalar(request: Any, name: str) -> Any:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return None
    array = tensor.as_numpy().reshape(-1)
    if array.size != 1:
        raise BadRequestError(f"{name} must hold exactly one value, got {array.size}")
    return array[0]


def _strings(request: Any, name: str) -> list[str]:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return []
    try:
        return [bytes(v).decode("utf-8") for v in tensor.as_numpy().reshape(-1)]
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"{name} must be UTF-8 text") from exc


class TokenGenerator(Protocol):
    """What the model serves: ``engines.lm.CausalLM``, or a stand-in with its interface."""

    @property
    def max_batch(self) -> int:
        """Sequences generated at once (the model keeps twice as many sender threads)."""
        ...

    def check_prompt(self, prompt: str) -> object:
        """Raise BadRequestError for a prompt that cannot be served."""
        ...

    def generate(
        self, prompt: str, params: GenerationParams, cancelled: Callable[[], bool]
    ) -> Iterator[Step]:
        """Text deltas; the last step carries ``stop``, ``length`` or ``cancelled``."""
        ...

    def close(self) -> None: ...


def load_generator(parameters: dict[str, str]) -> TokenGenerator:
    """The generator the model config's parameters name (``generator``, default ``lm``)."""
    kind = parameters.get("generator", "lm")
    if kind == "fixed":
        from engines.embedded.fixed import FixedTokens

        return FixedTokens.from_parameters(parameters)
    if kind != "lm":
        raise RuntimeError(f"unknown generator {kind!r} in the model config")
    model = parameters.get("model_path") or None
    return CausalLM(
        Path(model) if model else None,
        parameters.get("device", "auto"),
        Path(parameters["cache_dir"]),
        max_batch=int(parameters.get("max_batch", "8")),
    )


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        if int(np.__version__.split(".")[0]) >= 2:
            # The stub of pytriton 0.7 (Triton 2.51) is built against numpy 1: under numpy 2 it
            # misreads BYTES inputs and aborts on the first request. Say so at load time.
            raise RuntimeError(
                f"the Triton Python-backend stub needs numpy<2, found {np.__version__}"
            )
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.dialect: Dialect = DIALECTS[parameters["dialect"]]
        self.lm = load_generator(parameters)
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        # Twice the batch size: a full batch streams while the next requests are queued.
        self.workers = [
            threading.Thread(target=self._work, name=f"sender-{i}", daemon=True)
            for i in range(2 * self.lm.max_batch)
        ]
        for worker in self.workers:
            worker.start()

    def _parse(self, request: Any) -> Job:
        dialect = self.dialect
        if dialect.max_batch_size:
            prompt_tensor = pb_utils.get_input_tensor_by_name(request, dialect.prompt)
            if prompt_tensor is not None and prompt_tensor.as_numpy().shape[0] != 1:
                raise BadRequestError("send one prompt per request (batch size 1)")
        prompts = _strings(request, dialect.prompt)
        if len(prompts) != 1:
            raise BadRequestError(f"{dialect.prompt} must hold exactly one prompt")
        p = dialect.params
        values: dict[str, Any] = {}
        for key, cast in (
            ("max_tokens", int),
            ("temperature", float),
            ("top_p", float),
            ("top_k", int),
            ("seed", int),
        ):
            value = _scalar(request, p[key].name)
            if value is not None:
                values[key] = cast(value)
        values["stop"] = tuple(_strings(request, p["stop"].name))
        params = GenerationParams(**values).validate()
        self.lm.check_prompt(prompts[0])
        stream = _scalar(request, dialect.streaming)
        return Job(prompts[0], params, bool(stream), request.get_response_sender(), request)

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            try:
                self.jobs.put(self._parse(request))
            except EngineError as exc:
                self._fail(request.get_response_sender(), str(exc))
        return

    def _response(self, text: str, finish: str | None) -> Any:
        shape = (1, 1) if self.dialect.max_batch_size else (1,)
        tensors = [
            pb_utils.Tensor(
                "text_output", np.array([text.encode("utf-8")], dtype=np.object_).reshape(shape)
            )
        ]
        if any(o.name == "finish_reason" for o in self.dialect.outputs):
            tensors.append(
                pb_utils.Tensor(
                    "finish_reason", np.array([(finish or "").encode()], dtype=np.object_)
                )
            )
        return pb_utils.InferenceResponse(output_tensors=tensors)

    @staticmethod
    def _fail(sender: Any, message: str) -> None:
        sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError(message)), flags=FINAL)

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                self._serve(job)
            except EngineError as exc:
                self._fail(job.sender, str(exc))
            except Exception as exc:  # keep serving; the client gets the reason
                LOG.exception("generation failed")
                self._fail(job.sender, f"generation failed: {exc}")

    def _serve(self, job: Job) -> None:
        sender = job.sender
        if sender.is_cancelled():
            sender.send(flags=FINAL)
            return
        parts: list[str] = []
        for step in self.lm.generate(job.prompt, job.params, cancelled=sender.is_cancelled):
            if step.finish_reason == "cancelled":
                sender.send(flags=FINAL)
                return
            if not job.stream:
                parts.append(step.text)
                if step.finish_reason is None:
                    continue
                step.text = "".join(parts)
            final = step.finish_reason is not None
            sender.send(self._response(step.text, step.finish_reason), flags=FINAL if final else 0)

    def finalize(self) -> None:
        for _ in self.workers:
            self.jobs.put(None)
        self.lm.close()
