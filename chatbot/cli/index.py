"""``chatbot ingest`` and ``chatbot search``: building the index and querying it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from chatbot.cli.common import embedder_factory, err, errors, fail, load_settings, out
from chatbot.settings import Settings
from ingest.embeddings import Embedder

GATE_REFUSED = 3
"""Exit code of an ingest whose new version the regression gate kept from going live."""


def run_ingest(
    settings: Settings,
    paths: list[Path],
    *,
    full: bool,
    dry_run: bool,
    quiet: bool,
    force: bool = False,
) -> int:
    """Ingest and report; the exit code (``GATE_REFUSED`` if the gate kept the version from
    going live, else 1 if a document failed). Shared with ``chatbot up``, which ingests the
    sample FAQ on first run."""
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
    with errors(), progress:
        summary = ingest_paths(
            settings,
            paths,
            embedder=embedder_factory(settings),
            full=full,
            dry_run=dry_run,
            force=force,
            on_embed_start=lambda n: progress.update(task, total=n),
            on_embedded=lambda n: progress.advance(task, n),
        )
    report = summary.to_json()
    if quiet:
        out.print_json(json.dumps(report)) if out.is_terminal else print(json.dumps(report))
    else:
        _print_summary(report)
    if report["not_published"]:
        if quiet:  # stdout holds the JSON alone; the human summary said it already
            err.print(f"[bold red]not published:[/] {report['not_published']}", highlight=False)
        return GATE_REFUSED
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
    _print_gate(report)
    if report["dry_run"]:
        out.print("dry run: nothing was written")
    elif report["published"]:
        out.print(f"serving index version [bold]{report['version']}[/]")
    elif report["not_published"]:
        err.print(
            f"[bold red]not published:[/] {report['not_published']}; still serving "
            f"{report['version']} (--force publishes it anyway)",
            highlight=False,
        )
    else:
        out.print(f"no changes; still serving {report['version']}")


def _figure(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


def _print_gate(report: dict[str, object]) -> None:
    """The regression gate's figures: recall@1 of the golden questions, new against served."""
    gate = report.get("gate")
    if not isinstance(gate, dict):
        return
    if gate["recall_at_1_live"] is None:
        out.print(
            f"gate: recall@1 {_figure(gate['recall_at_1_new'])} on {gate['new_only']} golden "
            "questions (first version: nothing to compare)",
            highlight=False,
        )
    else:
        verdict = "passed" if gate["passed"] else "forced" if gate["forced"] else "refused"
        out.print(
            f"gate {verdict}: recall@1 {_figure(gate['recall_at_1_live'])} -> "
            f"{_figure(gate['recall_at_1_new'])} on {gate['compared']} golden questions "
            f"(max drop {gate['max_drop']}); {gate['new_only']} new only "
            f"(recall@1 {_figure(gate['recall_at_1_new_only'])})",
            highlight=False,
        )
    if gate["unmatched"]:
        err.print(
            f"[yellow]{gate['unmatched']} golden questions[/] expect an entry the new version "
            "does not have",
            highlight=False,
        )
    regressions = gate["regressions"]
    assert isinstance(regressions, list)
    for row in regressions:
        # FAQ text may hold square brackets, which rich would read as markup.
        got = escape(row["got"] or "nothing relevant")
        err.print(
            f"  {escape(repr(row['question']))}: expected {escape(row['expected'])}, got {got}",
            highlight=False,
        )


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


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FAQ files or folders (the whole corpus).")],
    index_dir: Annotated[
        Path | None, typer.Option(help="Index folder (CHATBOT_INDEX_DIR).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-embed everything.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Publish even if the regression gate refuses the version."),
    ] = False,
) -> None:
    """Ingest FAQ documents (CSV/JSON/JSONL pairs, Markdown, text, HTML, PDF) into the index.

    The admin's FAQ file (CHATBOT_ADMIN_FAQ_FILE) is always ingested too. Before a new version
    goes live, the regression gate compares its recall@1 on the golden questions (every FAQ
    question, plus CHATBOT_GOLDEN_FILE) with the served version's. Exit codes: 0 published or
    nothing to do, 1 an error or a document that failed, 3 the gate refused the version
    (recall@1 fell by more than CHATBOT_GATE_MAX_DROP; nothing published).
    """
    raise typer.Exit(
        run_ingest(
            load_settings(index_dir),
            paths,
            full=full,
            dry_run=dry_run,
            quiet=as_json,
            force=force,
        )
    )


def _search(settings: Settings, query: str, k: int | None, as_json: bool) -> None:
    from ingest.search import Retriever

    with errors():
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


def search(
    query: Annotated[str, typer.Argument(help="A customer question.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Number of hits.")] = None,
    index_dir: Annotated[Path | None, typer.Option(help="Index folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hybrid (dense + BM25) search over the served index."""
    if not query.strip():
        fail("the query is empty")
    _search(load_settings(index_dir), query, k, as_json)
