"""The ``chatbot`` command (typer + rich). Errors become a readable message and exit code 1.

One module per command group, registered here in the order ``chatbot --help`` lists them;
the console script (``chatbot.cli:app``) and ``python -m chatbot`` both use ``app``.
"""

from __future__ import annotations

import logging
import warnings

import typer

from chatbot.cli import ask, engine, index, serve

# Libraries log progress chatter at INFO/DEBUG; the CLI shows its own progress.
for _name in ("bm25s", "sentence_transformers", "optimum", "transformers", "onnxruntime"):
    logging.getLogger(_name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", category=FutureWarning)

app = typer.Typer(help="Guarded FAQ chatbot.", no_args_is_help=True, add_completion=False)
for _command in (index.ingest, index.search, serve.up, serve.api, ask.ask):
    app.command()(_command)
app.add_typer(engine.engine_app, name="engine")

__all__ = ["app"]
