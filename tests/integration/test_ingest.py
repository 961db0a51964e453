"""Ingest the sample FAQ with the real model into real FAISS/BM25 indexes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatbot.settings import Settings
from ingest import store
from ingest.embeddings import Embedder
from ingest.errors import NothingToIngestError
from ingest.search import Retriever
from ingest.store import current_version, load_version
from tests.integration.conftest import DATA, REPO, CountingEmbedder, Ingest

PARAPHRASES = json.loads((Path(__file__).parent / "paraphrases.json").read_text())


def _retriever(index_dir: Path, settings: Settings, embedder: Embedder) -> Retriever:
    return Retriever(index_dir, embedder, settings.search())


def test_sample_faq_ingests_completely(ingest: Ingest) -> None:
    summary = ingest(DATA)
    report = summary.to_json()
    assert (report["added"], report["failed"]) == (5, 0)
    assert all(not d["warnings"] for d in report["documents"])
    manifest = load_version(ingest.index_dir).manifest
    assert manifest.dimension == 384
    assert manifest.counts["documents"] == 5
    chunks = load_version(ingest.index_dir).chunks
    faq_entries = sum(1 for c in chunks if c.kind == "faq")
    assert faq_entries >= 60
    assert set(manifest.documents) == {
        "data/faq/accounts.csv",
        "data/faq/cards.json",
        "data/faq/loans.md",
        "data/guides/security-and-fraud.md",
        "data/guides/opening-hours.txt",
    }


def test_paraphrased_questions_find_their_entry(
    ingest: Ingest, settings: Settings, embedder: Embedder
) -> None:
    ingest(DATA)
    retriever = _retriever(ingest.index_dir, settings, embedder)
    ranks = []
    for case in PARAPHRASES:
        result = retriever.search(case["query"], k=5)
        titles = [hit.chunk.title for hit in result.hits]
        assert case["expected"] in titles, (case, titles)
        ranks.append(titles.index(case["expected"]) + 1)
        top = result.hits[0]
        assert top.index_version == result.index_version
        assert top.chunk.id and top.chunk.source
    assert sum(r == 1 for r in ranks) >= 0.9 * len(ranks), ranks


def test_off_topic_question_finds_nothing_relevant(
    ingest: Ingest, settings: Settings, embedder: Embedder
) -> None:
    ingest(DATA)
    retriever = _retriever(ingest.index_dir, settings, embedder)
    assert not retriever.search("recipe for banana bread").relevant
    assert retriever.search("how do I freeze my card").relevant


def test_index_from_another_int8_format_is_served_with_a_warning(
    ingest: Ingest,
    settings: Settings,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ingest(DATA)
    retriever = _retriever(ingest.index_dir, settings, embedder)
    assert retriever.search("how do I freeze my card").relevant
    assert not [r for r in caplog.records if "re-ingest" in r.getMessage()]
    other = embedder.id.replace(embedder.variant, "onnx-int8-another-format")
    monkeypatch.setattr(Embedder, "id", property(lambda _: other))
    retriever = _retriever(ingest.index_dir, settings, embedder)
    assert retriever.search("how do I freeze my card").relevant
    warned = [r.getMessage() for r in caplog.records if "re-ingest" in r.getMessage()]
    assert len(warned) == 1 and other in warned[0]


def test_a_query_vector_is_remembered(embedder: Embedder) -> None:
    text = "Can I freeze my card from the app? (query cache)"
    assert embedder.cached_query(text) is None
    vector = embedder.encode_query(text)
    assert embedder.cached_query(text) is vector
    assert embedder.encode_query(text) is vector
    assert not vector.flags.writeable  # shared between turns: nobody may change it


def test_incremental_ingest_embeds_only_what_changed(
    ingest: Ingest, corpus: Path, embedder: Embedder, settings: Settings
) -> None:
    first = ingest(corpus)
    loans = corpus / "faq" / "loans.md"
    loans.write_text(
        loans.read_text() + "\n## Can I pay my loan by cheque?\nNo, we stopped "
        "accepting cheques for loan repayments in 2025.\n"
    )
    (corpus / "guides" / "opening-hours.txt").unlink()
    (corpus / "faq" / "extra.jsonl").write_text(
        json.dumps(
            {
                "question": "Do you have a mobile branch van?",
                "answer": "Yes, it visits rural villages every Tuesday.",
            }
        )
        + "\n"
    )
    counter = CountingEmbedder(embedder)
    second = ingest(corpus, counter=counter)

    statuses = {d.source: d.status for d in second.documents}
    assert statuses["faq/faq/loans.md"] == "updated"
    assert statuses["faq/guides/opening-hours.txt"] == "removed"
    assert statuses["faq/faq/extra.jsonl"] == "added"
    assert statuses["faq/faq/cards.json"] == "unchanged"
    # The new chunks, and their titles (the FAQ questions, matched against customers' own).
    assert sorted(counter.embedded) == [
        "Can I pay my loan by cheque?",
        "Can I pay my loan by cheque?\nNo, we stopped accepting cheques for loan repayments "
        "in 2025.",
        "Do you have a mobile branch van?",
        "Do you have a mobile branch van?\nYes, it visits rural villages every Tuesday.",
    ]
    assert (second.chunks_embedded, second.previous_version) == (2, first.version)
    retriever = _retriever(ingest.index_dir, settings, embedder)
    top = retriever.search("is there a bank on wheels").hits[0]
    assert top.chunk.source == "faq/faq/extra.jsonl"
    assert all(
        h.chunk.source != "faq/guides/opening-hours.txt"
        for h in retriever.search("branch opening hours on saturday", k=20).hits
    )

    # Nothing changed: no new version, nothing embedded.
    third = ingest(corpus, counter=CountingEmbedder(embedder))
    assert (third.published, third.version) == (False, second.version)
    # --full re-embeds everything.
    counter = CountingEmbedder(embedder)
    full = ingest(corpus, counter=counter, full=True)
    assert full.published and len(counter.embedded) == 2 * full.chunks_total  # and titles


def test_corrupt_file_keeps_previous_chunks(
    ingest: Ingest, corpus: Path, settings: Settings, embedder: Embedder
) -> None:
    ingest(corpus)
    (corpus / "faq" / "cards.json").write_bytes(b'[{"question": "broken')
    summary = ingest(corpus)
    [cards] = [d for d in summary.documents if d.source == "faq/faq/cards.json"]
    assert cards.status == "failed"
    assert "invalid JSON" in (cards.error or "")
    assert "kept the 26 chunks" in (cards.error or "")
    retriever = _retriever(ingest.index_dir, settings, embedder)
    top = retriever.search("what is the contactless limit").hits[0]
    assert top.chunk.source == "faq/faq/cards.json"


def test_malformed_rows_are_reported(ingest: Ingest, tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "faq.csv").write_text("question,answer\nGood?,Yes.\nBad?\n,orphan answer\n")
    (folder / "faq.jsonl").write_text('{"question": "Ok?", "answer": "ok"}\n{broken\n')
    summary = ingest(folder)
    docs = {d.source: d for d in summary.documents}
    assert docs["rows/faq.csv"].status == "added"
    assert docs["rows/faq.csv"].warnings == [
        "line 3: skipped, missing answer",
        "line 4: skipped, missing question",
    ]
    assert docs["rows/faq.jsonl"].warnings[0].startswith("line 2: skipped, invalid JSON")
    assert summary.chunks_total == 2


def test_failed_ingest_leaves_served_index_untouched(
    ingest: Ingest, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = ingest(corpus).version
    index_dir = ingest.index_dir

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(NothingToIngestError):
        ingest(bad)
    assert current_version(index_dir) == served

    # A crash while the new version is being written (after embedding).
    (corpus / "faq" / "new.txt").write_text("A brand new document about safe deposit boxes.")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.LexicalIndex, "build", crash)
    with pytest.raises(OSError, match="disk full"):
        ingest(corpus)
    assert current_version(index_dir) == served
    assert any(p.name.startswith(".building-") for p in index_dir.iterdir())
    assert load_version(index_dir).version == served

    # A crash between a complete write and the pointer switch.
    monkeypatch.undo()
    import ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "switch_current", crash)
    with pytest.raises(OSError, match="disk full"):
        ingest(corpus)
    assert current_version(index_dir) == served
    monkeypatch.undo()

    # The next ingest cleans up and publishes.
    summary = ingest(corpus)
    assert summary.published and current_version(index_dir) == summary.version
    assert not any(p.name.startswith(".building-") for p in index_dir.iterdir())


def _cli(*args: str, index_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CHATBOT_INDEX_DIR": str(index_dir),
        "CHATBOT_CACHE_DIR": str(REPO / ".chatbot" / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "chatbot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )


def test_cli_ingest_json_and_errors(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    done = _cli("ingest", "data", "--json", index_dir=index_dir)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["added"], report["failed"], report["published"]) == (5, 0, True)
    assert report["chunks"]["embedded"] == report["chunks"]["total"] > 60
    assert report["docs_per_second"] > 0

    dry = _cli("ingest", "data", "--dry-run", "--json", index_dir=index_dir)
    assert dry.returncode == 0
    assert json.loads(dry.stdout)["unchanged"] == 5

    missing = _cli("ingest", "no/such/folder", index_dir=index_dir)
    assert missing.returncode == 1
    assert "no readable document" in missing.stderr

    found = _cli("search", "my card was stolen", "--json", index_dir=index_dir)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["source"].startswith("data/faq/cards")

    empty = _cli("search", "  ", index_dir=index_dir)
    assert empty.returncode == 1 and "empty" in empty.stderr


def test_killed_ingest_leaves_served_version_readable(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    assert _cli("ingest", "data", index_dir=index_dir).returncode == 0
    served = current_version(index_dir)
    big = tmp_path / "big"
    big.mkdir()
    rows = [
        {
            "question": f"Question {i} about branch {i} services?",
            "answer": f"Branch {i} offers counter service number {i * 7} on weekdays.",
        }
        for i in range(6000)
    ]
    (big / "many.json").write_text(json.dumps(rows))
    env = {
        **os.environ,
        "CHATBOT_INDEX_DIR": str(index_dir),
        "CHATBOT_CACHE_DIR": str(REPO / ".chatbot" / "cache"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatbot", "ingest", str(big)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)  # model loaded, embedding under way
    assert proc.poll() is None, "ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert current_version(index_dir) == served
    assert load_version(index_dir).version == served


def test_embedding_threads_stop_spinning_after_a_run(embedder: Embedder) -> None:
    """ONNX Runtime's threads must not keep a core busy after an embedding (the rails and
    retrieval run next): the session carries the option, and the run still embeds."""
    session = embedder._model[0].auto_model.session
    assert (
        session.get_session_options().get_session_config_entry("session.force_spinning_stop") == "1"
    )
    assert embedder.encode(["How do I freeze my card?"]).shape == (1, embedder.dim)
