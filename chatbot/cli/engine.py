"""``chatbot engine``: serve the embedded Triton engine; prepare TensorRT-LLM repositories."""

from __future__ import annotations

import logging
import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from chatbot.cli.common import err, errors, fail, load_settings, out

engine_app = typer.Typer(
    help="Generation engines: the embedded Triton server; TensorRT-LLM model repositories.",
    no_args_is_help=True,
)


@engine_app.command("serve")
def engine_serve(
    model: Annotated[
        Path | None,
        typer.Option(
            help="A .gguf file or Hugging Face causal-LM folder (default: SmolLM2-135M-Instruct)."
        ),
    ] = None,
    grpc_port: Annotated[int, typer.Option(min=1, max=65535)] = 8001,
    http_port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    metrics_port: Annotated[int, typer.Option(min=1, max=65535)] = 8002,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    device: Annotated[
        str, typer.Option(help="auto (cuda when PyTorch can use a GPU), cpu or cuda.")
    ] = "auto",
) -> None:
    """Serve both request dialects (models tensorrt_llm and ensemble) until SIGTERM/Ctrl-C;
    restart Triton whenever it dies."""
    import threading

    from rich.logging import RichHandler

    from engines.device import DEVICES, Facts, engine_device
    from engines.embedded.server import EmbeddedTriton

    settings = load_settings()
    if model is not None and not model.exists():
        fail(f"{model} does not exist")
    if device not in DEVICES:
        fail(f"unknown device {device!r} (auto, cpu or cuda)")
    # Before anything starts: what stands in the way of the device, as one readable error.
    with errors(), err.status("checking the device (PyTorch, numpy)…"):
        chosen = engine_device(device, Facts.probe(torch=device != "cpu"))
    if chosen.note:
        err.print(f"[yellow]note:[/] {chosen.note}", highlight=False)
    server = EmbeddedTriton(
        model,
        grpc_port=grpc_port,
        http_port=http_port,
        metrics_port=metrics_port,
        host=host,
        device=chosen.kind,
        cache_dir=settings.cache_dir / "lm",
        supervise=True,
    )
    # The supervisor tells of crashes and restarts through logging.
    engine_log = logging.getLogger("engines.embedded")
    engine_log.addHandler(RichHandler(console=err, show_path=False))
    engine_log.setLevel(logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with errors(), err.status("starting Triton (loading the model)…"):
        server.start()
    out.print(
        f"Triton ready: gRPC {server.grpc_url}, HTTP {server.http_url} "
        f"(models tensorrt_llm and ensemble), generating on {chosen}",
        highlight=False,
    )
    try:
        while not stop.wait(1.0):
            pass  # the supervisor thread restarts Triton when it dies
    finally:
        server.stop()
        err.print("Triton stopped")


class _Quantization(StrEnum):
    none = "none"
    fp8 = "fp8"
    int4_awq = "int4_awq"


@engine_app.command("prepare")
def engine_prepare(
    checkpoint: Annotated[Path, typer.Argument(help="Hugging Face checkpoint folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model repository to write.")],
    engine: Annotated[
        bool, typer.Option("--engine", help="Compiled engine + ensemble (TensorRT-LLM <= 1.2).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written and run.")
    ] = False,
    tp: Annotated[int, typer.Option("--tp", min=1, help="Tensor parallel size.")] = 1,
    pp: Annotated[int, typer.Option("--pp", min=1, help="Pipeline parallel size.")] = 1,
    gpus: Annotated[
        int | None, typer.Option(min=1, help="GPUs Triton will have (checks tp x pp).")
    ] = None,
    max_batch_size: Annotated[int, typer.Option(min=1)] = 64,
    max_seq_len: Annotated[
        int | None, typer.Option(min=16, help="Default: the model's, at most 8192.")
    ] = None,
    kv_cache_fraction: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Free GPU memory given to the KV cache.")
    ] = 0.9,
    quantization: Annotated[
        _Quantization, typer.Option(help="Through TensorRT Model Optimizer.")
    ] = _Quantization.none,
    served_checkpoint: Annotated[
        Path | None, typer.Option(help="The checkpoint's path inside the Triton container.")
    ] = None,
    served_repo: Annotated[
        Path | None, typer.Option(help="The repository's path inside the Triton container.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output.")] = False,
) -> None:
    """Prepare a Triton model repository for TensorRT-LLM from a Hugging Face checkpoint:
    llmapi (PyTorch backend) by default, compiled engine + inflight_batcher_llm with --engine."""
    from engines.trtllm import PrepareSettings, describe, prepare

    with errors():
        settings = PrepareSettings.model_validate(
            {
                "checkpoint_dir": checkpoint,
                "output_dir": output,
                "engine": engine,
                "tp_size": tp,
                "pp_size": pp,
                "gpus": gpus,
                "max_batch_size": max_batch_size,
                "max_seq_len": max_seq_len,
                "kv_cache_free_gpu_memory_fraction": kv_cache_fraction,
                "quantization": quantization.value,
                "served_checkpoint_dir": served_checkpoint,
                "served_output_dir": served_repo,
                "force": force,
            }
        )
        result = prepare(settings, dry_run=dry_run)
    out.print(describe(result.plan), markup=False, highlight=False, soft_wrap=True)
    where = result.plan.settings.output_dir
    if dry_run:
        out.print("dry run: nothing was written")
    elif result.built:
        out.print(f"built and wrote {where}")
    elif result.plan.commands:
        out.print(
            f"wrote {where}; run {where / 'build.sh'} where TensorRT-LLM is installed",
            soft_wrap=True,
        )
    else:
        out.print(f"wrote {where}")
