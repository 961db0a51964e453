"""``chatbot up`` (engine + API on one machine) and ``chatbot api`` (the API alone)."""

from __future__ import annotations

import logging
import os
import secrets
import signal
from pathlib import Path
from typing import Annotated

import typer

from chatbot.cli.common import err, errors, load_settings, out
from chatbot.cli.index import run_ingest
from chatbot.settings import Settings


def _ensure_index(settings: Settings) -> None:
    """A first ``chatbot up`` works with no setup: it ingests the sample FAQ."""
    from ingest.store import current_version

    if current_version(settings.index_dir) is None:
        err.print(f"no index in {settings.index_dir}: ingesting {settings.data_dir}")
        code = run_ingest(settings, [settings.data_dir], full=False, dry_run=False, quiet=False)
        if code:
            raise typer.Exit(code)


HostOption = Annotated[str | None, typer.Option(help="Address to bind (default CHATBOT_HOST).")]
PortOption = Annotated[
    int | None, typer.Option(min=1, max=65535, help="Port (default CHATBOT_PORT).")
]


def _bind(settings: Settings, host: str | None, port: int | None) -> Settings:
    update = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    return settings.model_copy(update=update)


def _console_key(settings: Settings) -> tuple[Settings, Path | None]:
    """The admin console needs an admin key: on a development machine with none set, ``up``
    makes one (kept, owner-only, next to the index) so the console works from the first run.
    Production never gets a generated key."""
    if settings.admin_keys or settings.environment == "production":
        return settings, None
    path = settings.index_dir.parent / "admin-key"
    key = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    if len(key) < 16:
        key = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
    return settings.model_copy(update={"admin_keys": [key]}), path


def _devices(settings: Settings) -> str:
    """Where the embedded engine and the embedding model will run, checked before anything
    starts (EngineError when they cannot). The engine runs with ``auto``; both use the
    PyTorch of this environment, which the engine's Triton stub shares."""
    from engines.device import Facts, choose_device, engine_device

    with err.status("checking the devices (PyTorch, numpy)…"):
        facts = Facts.probe()
    engine = engine_device("auto", facts)
    wanted = settings.embedding_device
    embeddings = choose_device(wanted, facts, what=f"CHATBOT_EMBEDDING_DEVICE={wanted}")
    # As ingest.embeddings.Embedder picks it: ONNX Runtime here runs on the CPU only.
    backend = settings.embedding_backend if embeddings.kind == "cpu" else "torch"
    for note in dict.fromkeys(d.note for d in (engine, embeddings) if d.note):
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    err.print(f"retrieval embeddings on {embeddings}, {backend} backend", highlight=False)
    return str(engine)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def up(host: HostOption = None, port: PortOption = None) -> None:
    """The whole stack on one machine: ingest the sample FAQ on first run, start the embedded
    engine and the API with the demo page; Ctrl-C stops both."""
    from rich.logging import RichHandler

    from chatbot.serving import engine_for, serve_api

    settings, key_file = _console_key(_bind(load_settings(), host, port))
    with errors():
        engine_on = _devices(settings)
    _ensure_index(settings)
    url = f"http://{settings.host}:{settings.port}/"
    console = f"admin console: {url}admin/"
    if key_file is not None:
        console += f" (sign in with the key in {key_file})"
    # The engine's supervisor tells of crashes and restarts through logging.
    engine_log = logging.getLogger("engines.embedded")
    engine_log.addHandler(RichHandler(console=err, show_path=False))
    engine_log.setLevel(logging.INFO)
    with errors():
        with err.status("starting the engine (Triton) and loading the model…"):
            engine = engine_for(settings)
            started = engine.__enter__()
        try:
            where = f"embedded, generating on {engine_on}" if started else "already running"
            err.print(
                f"engine ready at {settings.triton_url} ({where}); starting the API…",
                highlight=False,
            )
            # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal; turn
            # it into an exception so the engine below is stopped too.
            signal.signal(signal.SIGTERM, _interrupt)
            serve_api(settings, on_ready=lambda: out.print(f"Chatbot ready: open {url}\n{console}"))
        except KeyboardInterrupt:
            pass
        finally:
            engine.__exit__(None, None, None)
            err.print("stopped")


def api(host: HostOption = None, port: PortOption = None) -> None:
    """The API alone, against CHATBOT_TRITON_URL and CHATBOT_REDIS_URL."""
    from chatbot.serving import serve_api

    settings = _bind(load_settings(), host, port)
    url = f"http://{settings.host}:{settings.port}/"
    with errors():
        serve_api(settings, on_ready=lambda: out.print(f"API ready on {url}"))
