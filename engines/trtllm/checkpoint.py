"""What a Hugging Face checkpoint folder says about itself (``config.json`` + tokenizer files).

Only the few facts the repository needs are read, so a folder with ``config.json`` and a
tokenizer is enough (weights are checked by TensorRT-LLM when it loads them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engines.errors import PrepareError

SUPPORTED_ARCHITECTURES: dict[str, str] = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen",
}
"""Causal LMs both paths serve, mapped to the folder of TensorRT-LLM's
``examples/models/core/<folder>/convert_checkpoint.py`` (Mistral converts with Llama's)."""

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")

_DTYPES: dict[str, Literal["float16", "bfloat16"]] = {
    "bfloat16": "bfloat16",
    "float16": "float16",
    "float32": "float16",  # TensorRT-LLM serves float32 checkpoints in half precision
}


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    architecture: str
    family: str
    max_position_embeddings: int
    num_attention_heads: int
    num_hidden_layers: int
    dtype: Literal["float16", "bfloat16"]
    tokenizer_files: tuple[str, ...]


def _int(config: dict[str, object], key: str, path: Path) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PrepareError(f"{path}: '{key}' is missing or not a positive integer")
    return value


def inspect_checkpoint(folder: Path) -> CheckpointInfo:
    """Read ``folder/config.json``; raise :class:`PrepareError` when the folder is not a
    supported causal-LM checkpoint with a tokenizer."""
    if not folder.is_dir():
        raise PrepareError(f"checkpoint folder {folder} does not exist")
    path = folder / "config.json"
    if not path.is_file():
        raise PrepareError(f"{folder} has no config.json: not a Hugging Face checkpoint")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PrepareError(f"cannot read {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise PrepareError(f"{path} is not a JSON object")
    architectures = config.get("architectures") or []
    known = [a for a in architectures if a in SUPPORTED_ARCHITECTURES]
    if not known:
        raise PrepareError(
            f"unsupported architecture {architectures or 'none'} in {path}; supported: "
            + ", ".join(SUPPORTED_ARCHITECTURES)
        )
    tokenizer = tuple(name for name in TOKENIZER_FILES if (folder / name).is_file())
    if not tokenizer:
        raise PrepareError(
            f"{folder} has no tokenizer ({', '.join(TOKENIZER_FILES)}); TensorRT-LLM and the "
            "pre/post-processing models load it from the checkpoint folder"
        )
    raw_dtype = config.get("torch_dtype") or config.get("dtype") or "bfloat16"
    return CheckpointInfo(
        path=folder.resolve(),
        architecture=known[0],
        family=SUPPORTED_ARCHITECTURES[known[0]],
        max_position_embeddings=_int(config, "max_position_embeddings", path),
        num_attention_heads=_int(config, "num_attention_heads", path),
        num_hidden_layers=_int(config, "num_hidden_layers", path),
        dtype=_DTYPES.get(str(raw_dtype), "bfloat16"),
        tokenizer_files=tokenizer,
    )
