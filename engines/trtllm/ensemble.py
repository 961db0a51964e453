"""The compiled-engine repository (``--engine``): TensorRT-LLM's ``inflight_batcher_llm`` layout.

    preprocessing   python   text_input -> input_ids (HF tokenizer), stop words -> id lists
    tensorrt_llm    tensorrtllm backend, the engine built by trtllm-build in tensorrt_llm/1/
    postprocessing  python   output_ids -> text_output
    ensemble        platform ensemble wiring the three, with the ensemble dialect's signature

The ensemble's own inputs/outputs come from ``engines.contract.ENSEMBLE``; the tensors between
steps keep TensorRT-LLM's names (``input_ids``, ``request_output_len``, ``output_ids``…) so
the engine model matches its backend's documented inputs.
"""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from engines.contract import ENSEMBLE
from engines.trtllm import pbtxt
from engines.trtllm.settings import PrepareSettings

PRE, ENGINE, POST = "preprocessing", "tensorrt_llm", "postprocessing"
ENGINE_VERSION_DIR = f"{ENGINE}/1"
"""trtllm-build writes ``rank<N>.engine`` + ``config.json`` here (``gpt_model_path``)."""

_P = ENSEMBLE.params
# Ensemble input -> preprocessing input
PRE_INPUTS = {ENSEMBLE.prompt: "QUERY", _P["max_tokens"].name: "REQUEST_OUTPUT_LEN"}
PRE_OPTIONAL = {_P["stop"].name: "STOP_WORDS_DICT"}
# preprocessing output -> tensorrt_llm input (the intermediate tensor is named "_" + output)
PRE_TO_ENGINE = {
    "INPUT_ID": "input_ids",
    "REQUEST_INPUT_LEN": "input_lengths",
    "REQUEST_OUTPUT_LEN": "request_output_len",
    "STOP_WORDS_IDS": "stop_words_list",
    "OUT_END_ID": "end_id",
    "OUT_PAD_ID": "pad_id",
}
# Ensemble input passed straight to tensorrt_llm
DIRECT = {
    ENSEMBLE.streaming: "streaming",
    _P["temperature"].name: "temperature",
    _P["top_p"].name: "runtime_top_p",
    _P["top_k"].name: "runtime_top_k",
    _P["seed"].name: "seed",
}
ENGINE_TO_POST = {"output_ids": "TOKENS_BATCH", "sequence_length": "SEQUENCE_LENGTH"}
POST_OUTPUT = "OUTPUT"


def _python_model(name: str, settings: PrepareSettings) -> mc.ModelConfig:
    config = mc.ModelConfig(name=name, backend="python", max_batch_size=settings.max_batch_size)
    pbtxt.cpu_instance(config)
    pbtxt.parameters(config, {"tokenizer_dir": str(settings.served_checkpoint)})
    return config


def preprocessing(settings: PrepareSettings) -> mc.ModelConfig:
    config = _python_model(PRE, settings)
    add = config.input.add
    pbtxt.tensor(add(), "QUERY", "BYTES", (-1,), optional=False)
    pbtxt.tensor(add(), "REQUEST_OUTPUT_LEN", "INT32", (1,), optional=False)
    pbtxt.tensor(add(), "STOP_WORDS_DICT", "BYTES", (-1,), optional=True)
    out = config.output.add
    pbtxt.tensor(out(), "INPUT_ID", "INT32", (-1,))
    pbtxt.tensor(out(), "REQUEST_INPUT_LEN", "INT32", (1,))
    pbtxt.tensor(out(), "REQUEST_OUTPUT_LEN", "INT32", (1,))
    pbtxt.tensor(out(), "STOP_WORDS_IDS", "INT32", (2, -1))
    pbtxt.tensor(out(), "OUT_END_ID", "INT32", (1,))
    pbtxt.tensor(out(), "OUT_PAD_ID", "INT32", (1,))
    pbtxt.parameters(config, {"max_input_len": str(settings.max_input_len)})
    return config


def tensorrt_llm(settings: PrepareSettings) -> mc.ModelConfig:
    config = mc.ModelConfig(
        name=ENGINE, backend="tensorrtllm", max_batch_size=settings.max_batch_size
    )
    config.model_transaction_policy.decoupled = settings.decoupled
    config.dynamic_batching.SetInParent()
    add = config.input.add
    pbtxt.tensor(add(), "input_ids", "INT32", (-1,), optional=False)
    config.input[-1].allow_ragged_batch = True
    for name in ("input_lengths", "request_output_len"):
        pbtxt.tensor(add(), name, "INT32", (1,), optional=False, scalar=True)
    for name in ("end_id", "pad_id", "runtime_top_k"):
        pbtxt.tensor(add(), name, "INT32", (1,), optional=True, scalar=True)
    pbtxt.tensor(add(), "stop_words_list", "INT32", (2, -1), optional=True)
    config.input[-1].allow_ragged_batch = True
    for name in ("temperature", "runtime_top_p"):
        pbtxt.tensor(add(), name, "FP32", (1,), optional=True, scalar=True)
    pbtxt.tensor(add(), "seed", "UINT64", (1,), optional=True, scalar=True)
    pbtxt.tensor(add(), "streaming", "BOOL", (1,), optional=True, scalar=True)
    pbtxt.tensor(config.output.add(), "output_ids", "INT32", (-1, -1))
    pbtxt.tensor(config.output.add(), "sequence_length", "INT32", (-1,))
    pbtxt.cpu_instance(config)
    pbtxt.parameters(
        config,
        {
            "gpt_model_type": "inflight_fused_batching",
            "gpt_model_path": str(settings.served_output / ENGINE_VERSION_DIR),
            "max_beam_width": "1",
            "kv_cache_free_gpu_mem_fraction": str(settings.kv_cache_free_gpu_memory_fraction),
            "enable_kv_cache_reuse": str(settings.enable_kv_cache_reuse).lower(),
            "enable_chunked_context": "true",
            # Responses carry generated tokens only: postprocessing detokenizes them as-is.
            "exclude_input_in_output": "true",
        },
    )
    return config


def postprocessing(settings: PrepareSettings) -> mc.ModelConfig:
    config = _python_model(POST, settings)
    pbtxt.tensor(config.input.add(), "TOKENS_BATCH", "INT32", (-1, -1), optional=False)
    pbtxt.tensor(config.input.add(), "SEQUENCE_LENGTH", "INT32", (-1,), optional=False)
    pbtxt.tensor(config.output.add(), POST_OUTPUT, "BYTES", (-1,))
    return config


def ensemble(settings: PrepareSettings) -> mc.ModelConfig:
    config = mc.ModelConfig(
        name=ENSEMBLE.model, platform="ensemble", max_batch_size=settings.max_batch_size
    )
    pbtxt.contract_inputs(config, ENSEMBLE.inputs)
    pbtxt.contract_outputs(config, ENSEMBLE)
    pre = config.ensemble_scheduling.step.add(model_name=PRE, model_version=-1)
    for outer, inner in {**PRE_INPUTS, **PRE_OPTIONAL}.items():
        pre.input_map[inner] = outer
    for output in PRE_TO_ENGINE:
        pre.output_map[output] = f"_{output}"
    engine = config.ensemble_scheduling.step.add(model_name=ENGINE, model_version=-1)
    for output, inner in PRE_TO_ENGINE.items():
        engine.input_map[inner] = f"_{output}"
    for outer, inner in DIRECT.items():
        engine.input_map[inner] = outer
    for output in ENGINE_TO_POST:
        engine.output_map[output] = f"_{output}"
    post = config.ensemble_scheduling.step.add(model_name=POST, model_version=-1)
    for output, inner in ENGINE_TO_POST.items():
        post.input_map[inner] = f"_{output}"
    post.output_map[POST_OUTPUT] = ENSEMBLE.outputs[0].name
    return config


def files(settings: PrepareSettings) -> dict[str, str]:
    from engines.trtllm.triton_models import postprocessing_source, preprocessing_source

    return {
        f"{PRE}/config.pbtxt": pbtxt.render(preprocessing(settings)),
        f"{PRE}/1/model.py": preprocessing_source(),
        f"{ENGINE}/config.pbtxt": pbtxt.render(tensorrt_llm(settings)),
        f"{POST}/config.pbtxt": pbtxt.render(postprocessing(settings)),
        f"{POST}/1/model.py": postprocessing_source(),
        f"{ENSEMBLE.model}/config.pbtxt": pbtxt.render(ensemble(settings)),
    }


DIRECTORIES = (ENGINE_VERSION_DIR, f"{ENSEMBLE.model}/1")
"""Version folders without a written file: Triton requires them (the engine lands in the
first; an ensemble has no files but still needs a version)."""
