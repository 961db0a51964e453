"""The one settings object of ``chatbot engine prepare``.

Every value that ends up in a generated file or command comes from a :class:`PrepareSettings`
(completed with what the checkpoint says, see :meth:`PrepareSettings.resolve`), so
``config.pbtxt``, ``model.yaml`` and the ``trtllm-build`` argv cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engines.errors import PrepareError
from engines.trtllm.checkpoint import CheckpointInfo

Quantization = Literal["none", "fp8", "int4_awq"]

DEFAULT_SEQ_CAP = 8192
"""Default ``max_seq_len`` cap: FAQ prompts (a few retrieved chunks + a short history) stay
far below Llama-3.1's 128k context, and a smaller limit leaves more GPU memory to the KV cache
of concurrent requests. ``--max-seq-len`` raises it up to ``max_position_embeddings``."""

DEFAULT_MAX_NUM_TOKENS = 8192
"""TensorRT-LLM's own default for tokens scheduled per iteration (BuildConfig, LLM API)."""

EXAMPLES_DIR = Path("/app/tensorrt_llm/examples")
"""Where the TensorRT-LLM release container keeps its ``examples`` (conversion scripts)."""


class PrepareSettings(BaseModel):
    """What the repository needs; ``None`` values are filled from the checkpoint by
    :meth:`resolve`. ``served_*`` are the paths Triton sees (inside its container) when they
    differ from the paths on the machine that prepares the repository."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkpoint_dir: Path
    output_dir: Path
    engine: bool = False
    """Compiled-engine ``inflight_batcher_llm`` repository instead of the llmapi one."""
    tp_size: int = Field(default=1, ge=1, le=64)
    pp_size: int = Field(default=1, ge=1, le=64)
    gpus: int | None = Field(default=None, ge=1, le=1024)
    """GPUs available to Triton; when given, ``tp_size * pp_size`` must fit."""
    max_batch_size: int = Field(default=64, ge=1, le=4096)
    max_seq_len: int | None = Field(default=None, ge=16)
    max_input_len: int | None = Field(default=None, ge=8)
    """Engine mode: longest prompt the engine accepts (default: ``max_seq_len`` less the room
    for an answer)."""
    max_num_tokens: int | None = Field(default=None, ge=16)
    kv_cache_free_gpu_memory_fraction: float = Field(default=0.9, gt=0.0, lt=1.0)
    enable_kv_cache_reuse: bool = True
    """Every chatbot prompt starts with the same system prompt: reusing its KV blocks saves
    prefill time on each turn."""
    quantization: Quantization = "none"
    decoupled: bool = True
    """Streaming: each response carries the newly generated text (``engines.contract``)."""
    dtype: Literal["auto", "float16", "bfloat16"] = "auto"
    examples_dir: Path = EXAMPLES_DIR
    served_checkpoint_dir: Path | None = None
    served_output_dir: Path | None = None
    force: bool = False

    @property
    def world_size(self) -> int:
        return self.tp_size * self.pp_size

    def resolve(self, info: CheckpointInfo) -> PrepareSettings:
        """Fill the defaults that depend on the checkpoint and refuse combinations that
        cannot work. Raises :class:`PrepareError` with the reason."""
        if self.gpus is not None and self.world_size > self.gpus:
            raise PrepareError(
                f"tensor parallel {self.tp_size} x pipeline parallel {self.pp_size} needs "
                f"{self.world_size} GPUs, but --gpus is {self.gpus}"
            )
        if info.num_attention_heads % self.tp_size:
            raise PrepareError(
                f"--tp {self.tp_size} does not divide the model's "
                f"{info.num_attention_heads} attention heads"
            )
        if info.num_hidden_layers < self.pp_size:
            raise PrepareError(
                f"--pp {self.pp_size} is more than the model's {info.num_hidden_layers} layers"
            )
        limit = info.max_position_embeddings
        seq = self.max_seq_len or min(limit, DEFAULT_SEQ_CAP)
        if seq > limit:
            raise PrepareError(
                f"--max-seq-len {seq} is above the model's max_position_embeddings {limit}"
            )
        max_input = self.max_input_len or seq - min(1024, seq // 2)
        if max_input >= seq:
            raise PrepareError(
                f"max_input_len {max_input} leaves no room to generate within max_seq_len {seq}"
            )
        num_tokens = self.max_num_tokens or max(DEFAULT_MAX_NUM_TOKENS, max_input)
        if self.engine and num_tokens < max_input:
            raise PrepareError(
                f"max_num_tokens {num_tokens} is below max_input_len {max_input}: a full "
                "prompt could not be scheduled in one step"
            )
        dtype = info.dtype if self.dtype == "auto" else self.dtype
        return self.model_copy(
            update={
                "max_seq_len": seq,
                "max_input_len": max_input,
                "max_num_tokens": num_tokens,
                "dtype": dtype,
                "checkpoint_dir": self.checkpoint_dir.resolve(),
                "output_dir": self.output_dir.resolve(),
            }
        )

    # Paths as Triton sees them (the generated files point there).
    @property
    def served_checkpoint(self) -> Path:
        return self.served_checkpoint_dir or self.checkpoint_dir

    @property
    def served_output(self) -> Path:
        return self.served_output_dir or self.output_dir
