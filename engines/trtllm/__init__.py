"""Production generation: a Triton model repository for TensorRT-LLM (``chatbot engine prepare``).

Nothing here imports TensorRT-LLM: the repository is rendered from one settings object
(:class:`PrepareSettings`) and a Hugging Face checkpoint's ``config.json``, so it can be
prepared and checked on machines without a GPU. Two layouts, matching the two dialects of
``engines.contract``:

- ``llmapi`` (default): the ``tensorrt_llm`` Python model of current TensorRT-LLM (PyTorch
  backend), configured by ``tensorrt_llm/1/model.yaml``;
- ``engine`` (``--engine``, TensorRT-LLM <= 1.2): a compiled engine built by ``trtllm-build``
  behind the ``inflight_batcher_llm`` ensemble (preprocessing -> tensorrt_llm -> postprocessing).
"""

from __future__ import annotations

from engines.trtllm.checkpoint import CheckpointInfo, inspect_checkpoint
from engines.trtllm.repository import Plan, PrepareResult, describe, plan, prepare
from engines.trtllm.settings import PrepareSettings, Quantization

__all__ = [
    "CheckpointInfo",
    "Plan",
    "PrepareResult",
    "PrepareSettings",
    "Quantization",
    "describe",
    "inspect_checkpoint",
    "plan",
    "prepare",
]
