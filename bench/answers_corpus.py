"""The corpora of ``bench/answers.py``: the prepared public FAQs and their query splits under
``.chatbot/external``, the seeded sample, and the baseline commit's tree beside the working
tree's."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.ingesting import ingest_paths
from chatbot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BASELINE = "eb91dc3"
"""The last commit before the evidence-graded policy: the policy of today."""
EXTERNAL = REPO / ".chatbot" / "external"
CORPORA = ("insuranceqa", "bankfaq")
KINDS = ("answerable", "faq_question", "unanswerable", "banking77")
SAMPLE = {"answerable": 150, "faq_question": 80, "unanswerable": 120, "banking77": 300}
"""Queries per kind in the end-to-end run (seeded); every query in recall and --calibrate."""
SEED = 20261207


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def entry_of(chunk_id: str | None) -> str | None:
    """The FAQ entry id of a chunk id (``faq/faq.csv#<id>``)."""
    return chunk_id.rsplit("#", 1)[-1] if chunk_id and "#" in chunk_id else None


@dataclass
class Corpus:
    name: str
    index_dir: Path
    answers: dict[str, str]
    """FAQ entry id -> answer text."""

    @classmethod
    def prepare(cls, name: str, settings: Settings) -> Corpus:
        """The corpus's FAQ ingested with the working tree's code, as a bank would (kept
        between runs; an ingest with nothing changed publishes nothing)."""
        root = EXTERNAL / name
        if not (root / "faq").is_dir():
            raise SystemExit(f"{root / 'faq'} is missing: run python bench/external/prepare.py")
        index_dir = root / "index"
        summary = ingest_paths(
            settings.model_copy(update={"index_dir": index_dir}),
            [root / "faq"],
            full=False,
            dry_run=False,
        )
        review = summary.derived.get("review")
        if summary.published and review:
            print(
                f"{name}: ingested {summary.chunks_total} chunks; FAQ questions the input rails "
                f"would refuse at publish: {review['refused']}/{review['faq_questions']}"
            )
        answers = {}
        with (root / "faq" / "faq.csv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                answers[row["id"]] = row["answer"]
        return cls(name, index_dir, answers)

    def queries(self, split: str) -> list[dict[str, Any]]:
        rows = read_jsonl(EXTERNAL / self.name / f"queries-{split}.jsonl")
        return [{**row, "i": i} for i, row in enumerate(rows)]


def sample(queries: Sequence[dict[str, Any]], sizes: dict[str, int]) -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    out: list[dict[str, Any]] = []
    for kind in KINDS:
        rows = [q for q in queries if q["kind"] == kind]
        rng.shuffle(rows)
        out += rows[: sizes.get(kind, 0)]
    return out


def baseline_tree() -> Path:
    """A git worktree of ``BASELINE`` (made once, outside the repository's tree)."""
    path = Path(tempfile.gettempdir()) / f"chatbot-baseline-{BASELINE}"
    if not (path / "chatbot").is_dir():
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), BASELINE],
            check=True,
        )
    return path
