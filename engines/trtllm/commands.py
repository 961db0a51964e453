"""The build steps as data: argv lists printed by ``--dry-run``, written to ``build.sh`` and,
where the tools exist, run by ``prepare``.

- engine mode: Hugging Face checkpoint -> TensorRT-LLM checkpoint (``convert_checkpoint.py``,
  or ModelOpt's ``quantize.py`` for FP8/INT4-AWQ) -> ``trtllm-build`` into ``tensorrt_llm/1``;
- llmapi mode: nothing to build; with ``--quantization`` ModelOpt's ``quantize.py`` exports a
  quantized Hugging Face checkpoint that the PyTorch backend loads directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from engines.trtllm import ensemble, llmapi
from engines.trtllm.checkpoint import CheckpointInfo
from engines.trtllm.settings import PrepareSettings

Argv = tuple[str, ...]

CALIBRATION_SAMPLES = 512
"""ModelOpt's default calibration set size (``quantize.py --calib_size``)."""


def work_dir(root: Path) -> Path:
    """The intermediate TensorRT-LLM checkpoint: next to the repository, not inside it (Triton
    would take every folder of the repository for a model). Removed after the build."""
    return root.with_name(f"{root.name}.trtllm-checkpoint")


def _quantize(settings: PrepareSettings, output: Path, *, hf: bool) -> Argv:
    argv = [
        "python3",
        str(settings.examples_dir / "quantization" / "quantize.py"),
        "--model_dir",
        str(settings.checkpoint_dir),
        "--dtype",
        str(settings.dtype),
        "--qformat",
        settings.quantization,
        "--calib_size",
        str(CALIBRATION_SAMPLES),
        "--output_dir",
        str(output),
    ]
    if settings.quantization == "fp8":
        argv += ["--kv_cache_dtype", "fp8"]
    if hf:
        argv += ["--export_format", "hf"]
    else:
        argv += ["--tp_size", str(settings.tp_size), "--pp_size", str(settings.pp_size)]
    return tuple(argv)


def _convert(settings: PrepareSettings, info: CheckpointInfo, output: Path) -> Argv:
    script = settings.examples_dir / "models" / "core" / info.family / "convert_checkpoint.py"
    return (
        "python3",
        str(script),
        "--model_dir",
        str(settings.checkpoint_dir),
        "--output_dir",
        str(output),
        "--dtype",
        str(settings.dtype),
        "--tp_size",
        str(settings.tp_size),
        "--pp_size",
        str(settings.pp_size),
    )


def _build(settings: PrepareSettings, checkpoint: Path, engine_dir: Path) -> Argv:
    argv = [
        "trtllm-build",
        "--checkpoint_dir",
        str(checkpoint),
        "--output_dir",
        str(engine_dir),
        "--gemm_plugin",
        "auto",
        "--max_batch_size",
        str(settings.max_batch_size),
        "--max_input_len",
        str(settings.max_input_len),
        "--max_seq_len",
        str(settings.max_seq_len),
        "--max_num_tokens",
        str(settings.max_num_tokens),
        # paged KV cache (the non-deprecated spelling of --paged_kv_cache enable)
        "--kv_cache_type",
        "paged",
        # needed by KV-cache reuse and chunked context
        "--use_paged_context_fmha",
        "enable",
        "--remove_input_padding",
        "enable",
    ]
    if settings.quantization == "fp8":
        argv += ["--use_fp8_context_fmha", "enable"]
    return tuple(argv)


def commands(settings: PrepareSettings, info: CheckpointInfo, root: Path) -> tuple[Argv, ...]:
    """The steps for a repository written at ``root`` (the final folder in ``build.sh`` and
    the dry run, the staging folder when ``prepare`` runs them)."""
    if not settings.engine:
        if settings.quantization == "none":
            return ()
        return (_quantize(settings, root / llmapi.quantized_dir(settings), hf=True),)
    work = work_dir(root)
    first = (
        _convert(settings, info, work)
        if settings.quantization == "none"
        else _quantize(settings, work, hf=False)
    )
    return first, _build(settings, work, root / ensemble.ENGINE_VERSION_DIR)


def missing_tool(steps: tuple[Argv, ...]) -> str | None:
    """Why the steps cannot run here (``None`` when they can)."""
    for argv in steps:
        if shutil.which(argv[0]) is None:
            return f"{argv[0]} is not on PATH"
        if argv[0] == "python3" and not Path(argv[1]).is_file():
            return f"{argv[1]} does not exist"
    return None
