"""Entry point that ``bench/garak_scan.py`` runs with garak's own Python instead of
``python -m garak``: the same command line, with one change to garak's REST generator.

garak 0.17.1's ``RestGenerator`` lets a ``requests`` read timeout escape, and one slow turn
then ends the whole run (seen here: a turn over 300 s on two shared CPU cores). This wrapper
turns a timeout into a missing output for that attempt (the detectors score it as None, the
report counts it under ``nones``, ``garak_scan.py`` reports it) and logs it. Everything else
keeps garak's own handling: 429 and 5xx retried with backoff, other 4xx and a refused
connection (API down) end the run.

Run: <garak venv>/bin/python bench/garak/run_garak.py --config ... (garak's arguments)
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any


def _tolerate_request_errors() -> None:
    requests = importlib.import_module("requests")
    rest = importlib.import_module("garak.generators.rest")
    original: Callable[..., list[Any]] = rest.RestGenerator._call_model

    @functools.wraps(original)
    def call_model(self: Any, prompt: Any, generations_this_call: int = 1) -> list[Any]:
        try:
            return original(self, prompt, generations_this_call)
        except requests.exceptions.Timeout as exc:
            logging.error("REST request failed, attempt skipped: %r", exc)
            print(f"\n[garak_scan] request failed, attempt skipped: {exc}", file=sys.stderr)
            return [None] * generations_this_call

    rest.RestGenerator._call_model = call_model


def main() -> None:
    _tolerate_request_errors()
    cli = importlib.import_module("garak.cli")
    cli.main(sys.argv[1:])


if __name__ == "__main__":
    main()
