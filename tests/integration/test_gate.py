"""The regression gate and the admin's FAQ file in every ingest, through the chatbot's ingest
(``chatbot.ingesting.ingest_paths``, the CLI's and the admin route's code) with the real
model and real FAISS/BM25 indexes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatbot.ingesting import ingest_paths
from chatbot.settings import Settings
from ingest.embeddings import Embedder
from ingest.gate import GoldenFileError
from ingest.pipeline import IngestSummary
from ingest.store import current_version, load_version
from tests.integration.conftest import REPO

# Three sample questions with other answers: the bot may now answer them with the copy.
DUPLICATES = (
    "id,question,answer,category\n"
    'adm-1,"How do I open a current account?",Visit a branch.,accounts\n'
    'adm-2,"How do I open a savings account?",Visit a branch.,accounts\n'
    'adm-3,"How do I close my account?",Write to us.,accounts\n'
)
PETS = (
    "id,question,answer,category\n"
    "adm-9,Do you offer pet insurance?,Yes: Northwind Pet Cover starts at 6 pounds a month.,"
    "insurance\n"
)


class Admin:
    """Settings of one private index, the admin's FAQ file and golden file beside it."""

    def __init__(self, settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
        self.embedder = embedder
        self.faq_file = tmp_path / "admin" / "admin-faq.csv"
        self.faq_file.parent.mkdir()
        self.settings = settings.model_copy(
            update={"index_dir": tmp_path / "index", "admin_faq_file": self.faq_file}
        )

    def ingest(self, corpus: Path, *, force: bool = False, **changes: Any) -> IngestSummary:
        settings = self.settings.model_copy(update=changes)
        return ingest_paths(
            settings, [corpus], full=False, dry_run=False, force=force, embedder=self.model
        )

    def model(self) -> Embedder:
        return self.embedder

    @property
    def versions(self) -> list[str]:
        index_dir = self.settings.index_dir
        return sorted(p.name for p in index_dir.iterdir() if (p / "manifest.json").is_file())


@pytest.fixture
def admin(settings: Settings, embedder: Embedder, tmp_path: Path) -> Admin:
    return Admin(settings, embedder, tmp_path)


def test_duplicate_questions_are_refused_until_forced(admin: Admin, corpus: Path) -> None:
    first = admin.ingest(corpus)
    assert first.published and first.gate is not None
    assert (first.gate.passed, first.gate.recall_at_1_live, first.gate.compared) == (True, None, 0)
    assert first.gate.new_only > 60 and first.gate.recall_at_1_new == 1.0
    served, on_disk = current_version(admin.settings.index_dir), admin.versions

    admin.faq_file.write_text(DUPLICATES)
    refused = admin.ingest(corpus)
    assert not refused.published and refused.gate is not None
    assert current_version(admin.settings.index_dir) == served
    assert admin.versions == on_disk  # the refused version was removed
    assert refused.version == served
    report = refused.to_json()
    gate = report["gate"]
    assert not gate["passed"] and not gate["forced"]
    assert gate["recall_at_1_live"] == 1.0
    assert gate["recall_at_1_live"] - gate["recall_at_1_new"] > gate["max_drop"] == 0.02
    assert gate["compared"] == first.gate.new_only
    assert gate["new_only"] == 3
    expected = {r["expected"] for r in gate["regressions"]}
    assert expected == {f"faq/faq/accounts.csv#acc-00{i}" for i in (1, 2, 3)}
    assert {r["got"] for r in gate["regressions"]} == {f"admin-faq.csv#adm-{i}" for i in (1, 2, 3)}
    assert report["not_published"].startswith("recall@1 fell from 1.00 to 0.9")
    assert "(more than 0.02)" in report["not_published"]

    forced = admin.ingest(corpus, force=True)
    assert forced.published and forced.gate is not None
    assert forced.gate.forced and not forced.gate.passed and forced.not_published is None
    assert current_version(admin.settings.index_dir) == forced.version != served
    sources = {c.source for c in load_version(admin.settings.index_dir).chunks}
    assert "admin-faq.csv" in sources


def test_an_added_entry_passes_and_the_admin_file_is_always_ingested(
    admin: Admin, corpus: Path
) -> None:
    first = admin.ingest(corpus)
    assert first.gate is not None
    admin.faq_file.write_text(PETS)
    added = admin.ingest(corpus)
    assert added.published and added.gate is not None and added.gate.passed
    assert added.gate.recall_at_1_new == added.gate.recall_at_1_live == 1.0
    assert (added.gate.compared, added.gate.new_only) == (first.gate.new_only, 1)
    assert {d.source: d.status for d in added.documents}["admin-faq.csv"] == "added"
    # An ingest of other paths keeps the admin's answers.
    again = admin.ingest(corpus / "faq")
    assert again.published
    assert {d.source: d.status for d in again.documents}["admin-faq.csv"] == "unchanged"
    assert "admin-faq.csv#adm-9" in {c.id for c in load_version(admin.settings.index_dir).chunks}
    # Given by name, or inside a folder given, it is read once.
    for given in (admin.faq_file, admin.faq_file.parent):
        twice = ingest_paths(
            admin.settings, [corpus, given], full=False, dry_run=False, embedder=admin.model
        )
        assert twice.chunks_total == added.chunks_total
        read = [d.source for d in twice.documents if d.status != "removed"]
        assert sum(s.endswith("admin-faq.csv") for s in read) == 1


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_the_admin_golden_file_counts(
    admin: Admin, corpus: Path, tmp_path: Path, suffix: str
) -> None:
    rows = [
        # Expected by the FAQ row's id, or by its question (any case and punctuation).
        ("my card has been stolen, what should I do", "card-001"),
        (
            "how can I freeze my debit card in the app for a while",
            "how do i freeze my card temporarily",
        ),
        ("can I pay off my personal loan early", "Can I repay my loan early?"),
        ("is there a branch on wheels", "no-such-entry"),
    ]
    golden = tmp_path / f"golden.{suffix}"
    if suffix == "csv":
        golden.write_text("question,expected\n" + "".join(f'"{q}","{e}"\n' for q, e in rows))
    else:
        golden.write_text(
            "".join(json.dumps({"question": q, "expected": e}) + "\n" for q, e in rows)
        )
    first = admin.ingest(corpus, golden_file=golden)
    assert first.gate is not None
    faq_questions = first.derived["faq_questions"]
    assert (first.gate.new_only, first.gate.unmatched) == (faq_questions + 3, 1)

    # A new entry that takes one golden question's first place; every regression counts.
    admin.faq_file.write_text(
        "id,question,answer\n"
        "adm-5,Can I pay off my personal loan early?,Only after the first year.\n"
    )
    refused = admin.ingest(corpus, golden_file=golden, gate_max_drop=0.0)
    assert not refused.published and refused.gate is not None
    regressions = [(r.question, r.got) for r in refused.gate.regressions]
    assert ("can I pay off my personal loan early", "admin-faq.csv#adm-5") in regressions


def test_a_bad_golden_file_stops_the_ingest_before_anything_is_written(
    admin: Admin, corpus: Path, tmp_path: Path
) -> None:
    admin.ingest(corpus)
    served, on_disk = current_version(admin.settings.index_dir), admin.versions
    admin.faq_file.write_text(PETS)
    golden = tmp_path / "golden.jsonl"
    golden.write_text('{"question": "lost card"}\n')
    with pytest.raises(GoldenFileError, match="line 1: expected is missing"):
        admin.ingest(corpus, golden_file=golden)
    with pytest.raises(GoldenFileError, match="does not exist"):
        admin.ingest(corpus, golden_file=tmp_path / "missing.csv")
    assert current_version(admin.settings.index_dir) == served
    assert admin.versions == on_disk


def _cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "CHATBOT_INDEX_DIR": str(tmp_path / "index"),
        "CHATBOT_CACHE_DIR": str(REPO / ".chatbot" / "cache"),
        "CHATBOT_ADMIN_FAQ_FILE": str(tmp_path / "admin-faq.csv"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "chatbot", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=600,
    )


def test_cli_reports_the_gate_and_exits_3_when_it_refuses(tmp_path: Path) -> None:
    first = _cli("ingest", "data", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "gate: recall@1 1.000" in first.stdout
    (tmp_path / "admin-faq.csv").write_text(DUPLICATES)

    refused = _cli("ingest", "data", "--json", tmp_path=tmp_path)
    assert refused.returncode == 3, refused.stderr
    report = json.loads(refused.stdout)
    assert not report["published"] and not report["gate"]["passed"]
    assert len(report["gate"]["regressions"]) == 3
    assert "not published: recall@1 fell from 1.00" in " ".join(refused.stderr.split())

    human = _cli("ingest", "data", tmp_path=tmp_path)
    assert human.returncode == 3
    said, warned = (" ".join(text.split()) for text in (human.stdout, human.stderr))  # unwrapped
    assert "gate refused: recall@1 1.000 ->" in said
    assert "--force publishes it anyway" in warned
    assert "expected data/faq/accounts.csv#acc-001, got admin-faq.csv#adm-1" in warned

    golden = tmp_path / "golden.txt"
    golden.write_text("question,expected\n")
    bad = _cli("ingest", "data", tmp_path=tmp_path, CHATBOT_GOLDEN_FILE=str(golden))
    assert bad.returncode == 1 and "must be .csv or .jsonl" in " ".join(bad.stderr.split())
    assert "Traceback" not in bad.stderr

    forced = _cli("ingest", "data", "--force", "--json", tmp_path=tmp_path)
    assert forced.returncode == 0, forced.stderr
    report = json.loads(forced.stdout)
    assert report["published"] and report["gate"]["forced"]
    assert report["not_published"] is None


def test_the_admin_file_alone_is_published_beside_the_served_documents(
    admin: Admin, corpus: Path
) -> None:
    first = admin.ingest(corpus)
    admin.faq_file.write_text(PETS)
    alone = ingest_paths(
        admin.settings,
        [admin.faq_file],
        full=False,
        dry_run=False,
        keep_unlisted=True,
        embedder=admin.model,
    )
    assert alone.published and alone.gate is not None and alone.gate.passed
    statuses = {d.source: d.status for d in alone.documents}
    assert statuses.pop("admin-faq.csv") == "added"
    assert set(statuses.values()) == {"unchanged"} and len(statuses) == 5
    assert alone.chunks_total == first.chunks_total + 1
    assert alone.chunks_embedded == 1
    # Without keep_unlisted, the paths are the whole corpus.
    only = ingest_paths(admin.settings, [admin.faq_file], full=False, dry_run=True)
    assert only.count("removed") == 5

    # The admin's last entry deleted: no file, and the served admin document goes.
    admin.faq_file.unlink()
    gone = ingest_paths(
        admin.settings,
        [],
        full=False,
        dry_run=False,
        keep_unlisted=True,
        remove=("admin-faq.csv",),
        embedder=admin.model,
    )
    assert gone.published
    statuses = {d.source: d.status for d in gone.documents}
    assert statuses.pop("admin-faq.csv") == "removed"
    assert set(statuses.values()) == {"unchanged"} and len(statuses) == 5
    assert gone.chunks_total == first.chunks_total and gone.chunks_embedded == 0
