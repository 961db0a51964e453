"""What every command shares: the two consoles, the error-to-exit-code rule, settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from chatbot.errors import EXPECTED_ERRORS
from chatbot.settings import Settings
from ingest.embeddings import Embedder

# Results go to stdout (scripts pipe them); progress, warnings and errors to stderr.
out = Console()
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """One readable line and exit code 1: the CLI's answer to every expected error."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def errors() -> Iterator[None]:
    """Expected errors (bad settings, missing index, unreachable engine) end in ``fail``
    instead of a traceback."""
    try:
        yield
    except ValidationError as exc:
        fail(f"invalid settings: {exc}")
    except EXPECTED_ERRORS as exc:
        fail(str(exc))


def load_settings(index_dir: Path | None = None) -> Settings:
    """Settings from the environment, with the ``--index-dir`` option winning when given."""
    with errors():
        settings = Settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    return settings


def embedder_factory(settings: Settings) -> Callable[[], Embedder]:
    """Loads the embedding model only when needed (a no-change ingest never does)."""

    def make() -> Embedder:
        with err.status("loading the embedding model…"):
            return Embedder(settings.embedding())

    return make
