"""The support team's loop: questions the FAQ did not answer, grouped into gaps, and the
FAQ entries the admin writes for them.

Gaps are read from the turn log: turns that abstained, fell back (retracted or withheld), were
followed by a request for a person, or were rated down, clustered on the question vectors the
log stored (:mod:`chatbot.gaps`). An admin's entry lives in the durable store and, for the
ingest, in one CSV file (``Settings.admin_faq_file``) that every ingest includes; publishing
it is an ordinary incremental ingest of that file, through the regression gate.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from chatbot.gaps import Gap, GapReason, GapTurn, cluster, decode_vector
from chatbot.store import DurableStore, FaqEntry, GapCandidate
from ingest.config import FaqColumns

ADMIN_SOURCE_PREFIX = "admin-"
"""Ids of admin entries start so, which keeps them apart from the bank's own FAQ ids."""


def reason(candidate: GapCandidate) -> GapReason:
    """Why the turn counts as unanswered (the first that applies)."""
    rails = candidate.rails
    if candidate.handed_off:
        return GapReason.HANDOFF
    if rails.get("retracted"):
        return GapReason.RETRACTED
    if rails.get("withheld") and candidate.answered_by == "fallback":
        return GapReason.WITHHELD
    if candidate.answered_by == "abstain":
        return GapReason.ABSTAIN
    if candidate.thumbs_down:
        return GapReason.THUMBS_DOWN
    return GapReason.WITHHELD  # a fallback the rails chose without saying which


def gap_turns(candidates: Sequence[GapCandidate]) -> list[GapTurn]:
    return [
        GapTurn(
            message_id=c.message_id,
            question=c.question,
            created_at=c.created_at,
            reason=reason(c),
            vector=decode_vector(c.query_vector),
        )
        for c in candidates
    ]


async def find_gaps(
    store: DurableStore,
    similarity: float,
    *,
    answered: bool = False,
    since: datetime | None = None,
) -> tuple[list[Gap], dict[str, str], int]:
    """The gaps (open, or those an admin answered), each answered gap's entry id, and how
    many turns were clustered. Clustering runs in a worker thread."""
    candidates = await store.gap_candidates(since=since, answered=answered)
    turns = gap_turns(candidates)
    gaps = await asyncio.to_thread(cluster, turns, similarity)
    entries: dict[str, str] = {}
    if answered:
        by_message = {c.message_id: c.gap_answer for c in candidates}
        for gap in gaps:
            votes = Counter(e for m in gap.message_ids if (e := by_message[m]) is not None)
            if votes:
                entries[gap.id] = votes.most_common(1)[0][0]
    return gaps, entries, len(turns)


def render_csv(entries: Sequence[FaqEntry], columns: FaqColumns) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([columns.id, columns.question, columns.answer, columns.category])
    for entry in entries:
        writer.writerow([entry.id, entry.question, entry.answer, entry.category or ""])
    return buffer.getvalue()


def write_admin_faq(path: Path, entries: Sequence[FaqEntry], columns: FaqColumns) -> None:
    """Write the admin FAQ file atomically (the ingest never reads half a file); no entries:
    no file, so the ingest removes the document."""
    if not entries:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(render_csv(entries, columns))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
