"""Writes the embedded engine's Triton model repository: one Python-backend model per dialect.

``config.pbtxt`` files are built as Triton ``ModelConfig`` protobuf messages (the schema that
``tritonclient`` ships) from the contract in ``engines.contract``, so names, datatypes and
shapes have one source.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from engines.contract import DIALECTS, Dialect, TensorSpec

TRITON_TYPES = {
    "BYTES": mc.TYPE_STRING,
    "BOOL": mc.TYPE_BOOL,
    "INT32": mc.TYPE_INT32,
    "UINT64": mc.TYPE_UINT64,
    "FP32": mc.TYPE_FP32,
}

MODEL_PY = '''"""Triton loads this file; the model lives in the engines package."""
from engines.embedded.backend import TritonPythonModel

__all__ = ["TritonPythonModel"]
'''


def _tensor(message: mc.ModelInput | mc.ModelOutput, spec: TensorSpec) -> None:
    message.name = spec.name
    message.data_type = TRITON_TYPES[spec.datatype]
    message.dims.extend(spec.dims)


def model_config(dialect: Dialect, parameters: dict[str, str]) -> mc.ModelConfig:
    config = mc.ModelConfig(
        name=dialect.model, backend="python", max_batch_size=dialect.max_batch_size
    )
    config.model_transaction_policy.decoupled = True
    for spec in dialect.inputs:
        message = config.input.add()
        _tensor(message, spec)
        message.optional = spec.optional
    for spec in dialect.outputs:
        _tensor(config.output.add(), spec)
    group = config.instance_group.add()
    group.count = 1
    group.kind = mc.ModelInstanceGroup.KIND_CPU
    for key, value in {"dialect": dialect.name, **parameters}.items():
        config.parameters[key].string_value = value
    return config


def write_repository(
    root: Path, model_path: Path | None, device: str, cache_dir: Path, max_batch: int = 8
) -> Path:
    """The causal LM's repository (``model_path``: a Hugging Face folder, or none: the default)."""
    parameters = {
        "model_path": str(model_path or ""),
        "device": device,
        "cache_dir": str(cache_dir.resolve()),
        "max_batch": str(max_batch),
    }
    return write_models(root, parameters)


def write_models(root: Path, parameters: dict[str, str]) -> Path:
    """Both dialects' models, each configured with ``parameters``: what the backend's
    ``load_generator`` reads (``generator`` names the stand-in to serve instead of the LM)."""
    for dialect in DIALECTS.values():
        folder = root / dialect.model
        (folder / "1").mkdir(parents=True, exist_ok=True)
        text = text_format.MessageToString(model_config(dialect, parameters))
        (folder / "config.pbtxt").write_text(text, encoding="utf-8")
        (folder / "1" / "model.py").write_text(MODEL_PY, encoding="utf-8")
    return root
