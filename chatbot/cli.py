"""The ``chatbot`` command (typer + rich). Errors become a readable message and exit code 1."""

from __future__ import annotations

import json
import logging
import signal
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from chatbot.errors import EXPECTED_ERRORS
from chatbot.settings import Settings
from ingest.embeddings import Embedder

# Libraries log progress chatter at INFO/DEBUG; the CLI shows its own progress.
for _name in ("bm25s", "sentence_transformers", "optimum", "transformers", "onnxruntime"):
    logging.getLogger(_name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", category=FutureWarning)

app = typer.Typer(help="Guarded FAQ chatbot.", no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except ValidationError as exc:
        _fail(f"invalid settings: {exc}")
    except EXPECTED_ERRORS as exc:
        _fail(str(exc))


def _settings(index_dir: Path | None = None) -> Settings:
    with _errors():
        settings = Settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    return settings


def _embedder_factory(settings: Settings) -> Callable[[], Embedder]:
    def make() -> Embedder:
        with err.status("loading the embedding model…"):
            return Embedder(settings.embedding())

    return make


def _ingest(
    settings: Settings, paths: list[Path], *, full: bool, dry_run: bool, quiet: bool
) -> int:
    from chatbot.ingesting import ingest_paths

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    )
    task = progress.add_task("embedding chunks", total=0)
    with _errors(), progress:
        summary = ingest_paths(
            settings,
            paths,
            embedder=_embedder_factory(settings),
            full=full,
            dry_run=dry_run,
            on_embed_start=lambda n: progress.update(task, total=n),
            on_embedded=lambda n: progress.advance(task, n),
        )
    report = summary.to_json()
    if quiet:
        out.print_json(json.dumps(report)) if out.is_terminal else print(json.dumps(report))
    else:
        _print_summary(report)
    return 1 if report["failed"] else 0


def _print_summary(report: dict[str, object]) -> None:
    table = Table(title="Ingest summary", show_header=True)
    for name in ("added", "updated", "unchanged", "removed", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(str(report[n]) for n in ("added", "updated", "unchanged", "removed", "failed")))
    out.print(table)
    chunks = report["chunks"]
    assert isinstance(chunks, dict)
    out.print(
        f"chunks: {chunks['total']} ({chunks['embedded']} embedded, {chunks['reused']} "
        f"reused) · {report['seconds']} s · {report['docs_per_second']} docs/s"
    )
    documents = report["documents"]
    assert isinstance(documents, list)
    for doc in documents:
        if doc["error"]:
            err.print(f"[red]failed[/] {doc['source']}: {doc['error']}", highlight=False)
        for warning in doc["warnings"]:
            err.print(f"[yellow]warning[/] {doc['source']}: {warning}", highlight=False)
        for chunk_id, reason in doc["flagged"].items():
            err.print(
                f"[yellow]flagged[/] {chunk_id}: text aimed at the assistant ({reason}); "
                "it is kept out of prompts",
                highlight=False,
            )
    _print_review(report)
    if report["dry_run"]:
        out.print("dry run: nothing was written")
    elif report["published"]:
        out.print(f"serving index version [bold]{report['version']}[/]")
    else:
        out.print(f"no changes; still serving {report['version']}")


def _print_review(report: dict[str, object]) -> None:
    """What the admin should check: the FAQ's own questions the input rails would refuse."""
    derived = report.get("derived")
    review = derived.get("review") if isinstance(derived, dict) else None
    if not isinstance(review, dict):
        return
    if isinstance(derived, dict) and derived.get("topics"):
        out.print("topics: " + ", ".join(str(t) for t in derived["topics"]), highlight=False)
    refused = review["refused"]
    if not refused:
        out.print(f"all {review['faq_questions']} FAQ questions pass the input rails")
        return
    err.print(
        f"[yellow]{refused} of your {review['faq_questions']} FAQ questions would be refused[/] "
        "by the attack patterns; check their wording:",
        highlight=False,
    )
    for row in review["refused_examples"]:
        err.print(f"  {row['id']}: {row['question']!r} ({row['reason']})", highlight=False)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FAQ files or folders (the whole corpus).")],
    index_dir: Annotated[
        Path | None, typer.Option(help="Index folder (CHATBOT_INDEX_DIR).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-embed everything.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
) -> None:
    """Ingest FAQ documents (CSV/JSON/JSONL pairs, Markdown, text, HTML, PDF) into the index."""
    raise typer.Exit(
        _ingest(_settings(index_dir), paths, full=full, dry_run=dry_run, quiet=as_json)
    )


def _search(settings: Settings, query: str, k: int | None, as_json: bool) -> None:
    from ingest.search import Retriever

    with _errors():
        with err.status("loading the embedding model…"):
            retriever = Retriever(
                settings.index_dir, Embedder(settings.embedding()), settings.search()
            )
        result = retriever.search(query, k)
    if as_json:
        print(
            json.dumps(
                {
                    "query": query,
                    "index_version": result.index_version,
                    "relevant": result.relevant,
                    "hits": [
                        {
                            "id": h.chunk.id,
                            "title": h.chunk.title,
                            "source": h.chunk.source,
                            "url": h.chunk.url,
                            "score": round(h.score, 5),
                            "dense_score": round(h.dense_score, 4),
                            "lexical_score": round(h.lexical_score, 4),
                        }
                        for h in result.hits
                    ],
                }
            )
        )
        return
    if not result.relevant:
        out.print("Nothing relevant in the FAQ for that question.")
        return
    table = Table(title=f"Top {len(result.hits)} for: {query}")
    for column in ("#", "title", "source", "cosine", "bm25"):
        table.add_column(column)
    for rank, hit in enumerate(result.hits, 1):
        table.add_row(
            str(rank),
            hit.chunk.title,
            hit.chunk.source,
            f"{hit.dense_score:.3f}",
            f"{hit.lexical_score:.2f}",
        )
    out.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="A customer question.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Number of hits.")] = None,
    index_dir: Annotated[Path | None, typer.Option(help="Index folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hybrid (dense + BM25) search over the served index."""
    if not query.strip():
        _fail("the query is empty")
    _search(_settings(index_dir), query, k, as_json)


def _ensure_index(settings: Settings) -> None:
    from ingest.store import current_version

    if current_version(settings.index_dir) is None:
        err.print(f"no index in {settings.index_dir}: ingesting {settings.data_dir}")
        code = _ingest(settings, [settings.data_dir], full=False, dry_run=False, quiet=False)
        if code:
            raise typer.Exit(code)


HostOption = Annotated[str | None, typer.Option(help="Address to bind (default CHATBOT_HOST).")]
PortOption = Annotated[
    int | None, typer.Option(min=1, max=65535, help="Port (default CHATBOT_PORT).")
]


def _bind(settings: Settings, host: str | None, port: int | None) -> Settings:
    update = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    return settings.model_copy(update=update)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
def up(host: HostOption = None, port: PortOption = None) -> None:
    """The whole stack on one machine: ingest the sample FAQ on first run, start the embedded
    engine and the API with the demo page; Ctrl-C stops both."""
    from rich.logging import RichHandler

    from chatbot.serving import engine_for, serve_api

    settings = _bind(_settings(), host, port)
    _ensure_index(settings)
    url = f"http://{settings.host}:{settings.port}/"
    # The engine's supervisor tells of crashes and restarts through logging.
    engine_log = logging.getLogger("engines.embedded")
    engine_log.addHandler(RichHandler(console=err, show_path=False))
    engine_log.setLevel(logging.INFO)
    with _errors():
        with err.status("starting the engine (Triton) and loading the model…"):
            engine = engine_for(settings)
            started = engine.__enter__()
        try:
            where = "embedded" if started else "already running"
            err.print(f"engine ready at {settings.triton_url} ({where}); starting the API…")
            # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal; turn
            # it into an exception so the engine below is stopped too.
            signal.signal(signal.SIGTERM, _interrupt)
            serve_api(settings, on_ready=lambda: out.print(f"Chatbot ready: open {url}"))
        except KeyboardInterrupt:
            pass
        finally:
            engine.__exit__(None, None, None)
            err.print("stopped")


@app.command()
def api(host: HostOption = None, port: PortOption = None) -> None:
    """The API alone, against CHATBOT_TRITON_URL and CHATBOT_REDIS_URL."""
    from chatbot.serving import serve_api

    settings = _bind(_settings(), host, port)
    url = f"http://{settings.host}:{settings.port}/"
    with _errors():
        serve_api(settings, on_ready=lambda: out.print(f"API ready on {url}"))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The customer's question.")],
    session_id: Annotated[str | None, typer.Option(help="Continue this session.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole result as JSON.")
    ] = False,
) -> None:
    """One turn from the terminal (needs a running engine: `chatbot engine serve`)."""
    import asyncio

    from chatbot.serving import ask_once

    settings = _settings()
    with _errors():
        result = asyncio.run(ask_once(settings, question, session_id))
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    out.print(result.answer, markup=False, highlight=False)
    for c in result.citations:
        out.print(f"  [{c['score']:.2f}] {c['title']} ({c['url'] or c['source']})", markup=False)
    err.print(f"session {result.session_id} · answered by {result.answered_by}", highlight=False)


engine_app = typer.Typer(
    help="Generation engines: the embedded Triton server; TensorRT-LLM model repositories.",
    no_args_is_help=True,
)
app.add_typer(engine_app, name="engine")


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
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Serve both request dialects (models tensorrt_llm and ensemble) until SIGTERM/Ctrl-C;
    restart Triton whenever it dies."""
    import threading

    from rich.logging import RichHandler

    from engines.embedded.server import EmbeddedTriton

    settings = _settings()
    if model is not None and not model.exists():
        _fail(f"{model} does not exist")
    if device not in {"auto", "cpu", "cuda"}:
        _fail(f"unknown device {device!r} (auto, cpu or cuda)")
    server = EmbeddedTriton(
        model,
        grpc_port=grpc_port,
        http_port=http_port,
        metrics_port=metrics_port,
        host=host,
        device=device,
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
    with _errors(), err.status("starting Triton (loading the model)…"):
        server.start()
    out.print(
        f"Triton ready: gRPC {server.grpc_url}, HTTP {server.http_url} "
        "(models tensorrt_llm and ensemble)"
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

    with _errors():
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
