"""Small builders for Triton ``ModelConfig`` messages (the protobuf schema ``tritonclient``
ships), shared by both layouts so every ``config.pbtxt`` is produced by the same code."""

from __future__ import annotations

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from engines.contract import Datatype, Dialect, TensorSpec
from engines.embedded.repository import TRITON_TYPES


def tensor(
    message: mc.ModelInput | mc.ModelOutput,
    name: str,
    datatype: Datatype,
    dims: tuple[int, ...],
    *,
    optional: bool | None = None,
    scalar: bool = False,
) -> None:
    """Fill one input/output; ``scalar`` reshapes ``[1]`` to ``[]`` as TensorRT-LLM's backend
    expects for per-request scalars."""
    message.name = name
    message.data_type = TRITON_TYPES[datatype]
    message.dims.extend(dims)
    if optional is not None:
        assert isinstance(message, mc.ModelInput)
        message.optional = optional
    if scalar:
        message.reshape.SetInParent()


def contract_inputs(config: mc.ModelConfig, specs: tuple[TensorSpec, ...]) -> None:
    for spec in specs:
        tensor(config.input.add(), spec.name, spec.datatype, spec.dims, optional=spec.optional)


def contract_outputs(config: mc.ModelConfig, dialect: Dialect) -> None:
    for spec in dialect.outputs:
        tensor(config.output.add(), spec.name, spec.datatype, spec.dims)


def cpu_instance(config: mc.ModelConfig, count: int = 1) -> None:
    group = config.instance_group.add()
    group.count = count
    group.kind = mc.ModelInstanceGroup.KIND_CPU


def parameters(config: mc.ModelConfig, values: dict[str, str]) -> None:
    for key, value in values.items():
        config.parameters[key].string_value = value


def render(config: mc.ModelConfig) -> str:
    text: str = text_format.MessageToString(config)
    return text
