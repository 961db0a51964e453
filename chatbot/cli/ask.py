"""``chatbot ask``: one turn from the terminal, against a running engine."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from chatbot.cli.common import err, errors, load_settings, out


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

    settings = load_settings()
    with errors():
        result = asyncio.run(ask_once(settings, question, session_id))
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    out.print(result.answer, markup=False, highlight=False)
    for c in result.citations:
        out.print(f"  [{c['score']:.2f}] {c['title']} ({c['url'] or c['source']})", markup=False)
    err.print(f"session {result.session_id} · answered by {result.answered_by}", highlight=False)
