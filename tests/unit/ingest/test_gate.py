"""The regression gate's logic on small real FAISS/BM25 versions with hand-made vectors; the
same gate with the real model runs in ``tests/integration/test_gate.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest.gate import (
    GateConfig,
    GateResult,
    GoldenFileError,
    GoldenQuestion,
    Regression,
    Vector,
    normalise,
    read_golden,
    run_gate,
)
from ingest.models import Chunk, sha256_hex
from ingest.store import IndexVersion, load_version, write_version

DIM = 4
FREEZE = "How do I freeze my card?"
LIMIT = "What is the contactless limit?"


def _unit(*values: float) -> Vector:
    vector = np.asarray(values, dtype=np.float32)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _faq(entry: str, question: str, answer: str, source: str = "faq.csv") -> Chunk:
    text = f"{question}\n{answer}"
    return Chunk(
        id=f"{source}#{entry}",
        source=source,
        title=question,
        text=text,
        hash=sha256_hex(text),
        kind="faq",
        answer=answer,
    )


def _version(index_dir: Path, rows: list[tuple[Chunk, Vector]]) -> IndexVersion:
    chunks = [c for c, _ in rows]
    vectors = np.stack([v for _, v in rows])
    manifest = write_version(
        index_dir,
        chunks,
        vectors,
        {
            "embedding_id": "test",
            "embedding_model": "test",
            "dimension": DIM,
            "counts": {"documents": 1, "chunks": len(chunks)},
            "documents": {"faq.csv": {"hash": "x", "chunks": len(chunks)}},
        },
        ann_threshold=1000,
        titles=vectors,
    )
    return load_version(index_dir, manifest.version)


FREEZE_ROW = (_faq("f1", FREEZE, "Tap Freeze card in the app."), _unit(1, 0, 0, 0))
LIMIT_ROW = (_faq("l1", LIMIT, "The limit is 100 pounds."), _unit(0, 1, 0, 0))
CONFIG = GateConfig(max_drop=0.02, curated=0.9)


def test_first_publish_passes_with_the_new_versions_figure(tmp_path: Path) -> None:
    new = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW])
    result = run_gate(new, None, CONFIG)
    assert (result.passed, result.recall_at_1_new, result.recall_at_1_live) == (True, 1.0, None)
    assert (result.compared, result.new_only, result.regressions) == (0, 2, ())
    assert result.reason is None


def test_a_twin_question_with_another_answer_is_a_regression(tmp_path: Path) -> None:
    live = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW])
    # The same question, worded with other case and punctuation, another answer: its vector
    # sits a little off the original's, as another batch of the real model puts it.
    twin = _faq("f2", "how do I freeze my card", "Call us.", source="admin.csv")
    new = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW, (twin, _unit(1, 0, 0, 0.1))])
    result = run_gate(new, live, CONFIG)
    assert not result.passed and not result.forced
    assert (result.recall_at_1_live, result.recall_at_1_new, result.compared) == (1.0, 0.5, 2)
    assert result.regressions == (Regression(FREEZE, "faq.csv#f1", "admin.csv#f2"),)
    assert result.new_only == 1  # the twin itself, which the served version lacks
    assert result.reason == (
        "recall@1 fell from 1.00 to 0.50 (more than 0.02) on 2 golden questions"
    )
    forced = run_gate(new, live, CONFIG, force=True)
    assert not forced.passed and forced.forced


def test_a_copy_with_the_same_answer_is_no_regression(tmp_path: Path) -> None:
    live = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW])
    copy = _faq("f9", FREEZE, "Tap Freeze card in the app.", source="other.csv")
    new = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW, (copy, _unit(1, 0, 0, 0.1))])
    result = run_gate(new, live, CONFIG)
    assert result.passed and result.recall_at_1_new == 1.0 and not result.regressions


def test_a_drop_within_the_margin_passes(tmp_path: Path) -> None:
    live = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW])
    twin = _faq("f2", FREEZE, "Call us.", source="admin.csv")
    new = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW, (twin, _unit(1, 0, 0, 0.1))])
    assert run_gate(new, live, GateConfig(max_drop=0.5, curated=0.9)).passed
    assert not run_gate(new, live, GateConfig(max_drop=0.49, curated=0.9)).passed


def test_admin_golden_questions_match_by_faq_id_or_question(tmp_path: Path) -> None:
    live = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW])
    # The limit entry's vectors move away from a paraphrase of its question, which now finds
    # the freeze entry first.
    moved = (_faq("l1", LIMIT, "The limit is 100 pounds."), _unit(0, 0.6, 1, 0))
    new = _version(tmp_path, [FREEZE_ROW, moved])
    asked = {"how much can I tap": _unit(0.5, 0.6, 0, 0)}
    admin = [
        GoldenQuestion("how much can I tap", "l1", "admin"),  # the FAQ row's own id
        GoldenQuestion("block my card", "how do i freeze my card", "admin"),  # its question
        GoldenQuestion("what about mortgages", "m-404", "admin"),  # in neither version
    ]
    vectors = {"block my card": _unit(1, 0, 0.2, 0), **asked}
    result = run_gate(new, live, CONFIG, admin=admin, encode=vectors.__getitem__)
    assert result.unmatched == 1
    assert result.compared == 4 and result.recall_at_1_live == 1.0
    assert result.recall_at_1_new == 0.75
    assert result.regressions == (Regression("how much can I tap", "l1", "faq.csv#f1"),)


def test_admin_golden_questions_need_an_encoder(tmp_path: Path) -> None:
    new = _version(tmp_path, [FREEZE_ROW, LIMIT_ROW])
    with pytest.raises(ValueError, match="no encoder"):
        run_gate(new, None, CONFIG, admin=[GoldenQuestion("q", "l1", "admin")])


def test_flagged_entries_are_neither_golden_nor_answered(tmp_path: Path) -> None:
    flagged = (
        Chunk(**{**FREEZE_ROW[0].to_json(), "flagged": "instructions"}),
        FREEZE_ROW[1],
    )
    new = _version(tmp_path, [flagged, LIMIT_ROW])
    result = run_gate(new, None, CONFIG)
    assert result.new_only == 1


def test_gate_result_json() -> None:
    result = GateResult(
        passed=False,
        forced=True,
        recall_at_1_new=0.9,
        recall_at_1_live=0.98,
        compared=50,
        max_drop=0.02,
        new_only=2,
        recall_at_1_new_only=0.5,
        live_version="v1",
        regressions=(Regression("q", "e", None),),
    )
    data = result.to_json()
    assert data["drop"] == pytest.approx(0.08)
    assert data["regressions"] == [{"question": "q", "expected": "e", "got": None}]
    assert {k: data[k] for k in ("passed", "forced", "compared", "new_only")} == {
        "passed": False,
        "forced": True,
        "compared": 50,
        "new_only": 2,
    }
    assert json.loads(json.dumps(data)) == data
    assert (
        result.reason == "recall@1 fell from 0.98 to 0.90 (more than 0.02) on 50 golden questions"
    )


def test_normalise_ignores_case_spacing_and_punctuation() -> None:
    assert normalise("  How do I FREEZE my card? ") == normalise("how do i freeze my card")
    assert normalise("How do I freeze my card?") != normalise("How do I unfreeze my card?")


def test_golden_csv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "golden.csv"
    csv_file.write_text('Question,Expected\n"block my card, now",acc-001\n')
    assert read_golden(csv_file) == [GoldenQuestion("block my card, now", "acc-001", "admin")]
    jsonl = tmp_path / "golden.jsonl"
    jsonl.write_text(
        json.dumps({"question": "lost card", "expected": "How do I freeze my card?"}) + "\n\n"
    )
    assert read_golden(jsonl) == [GoldenQuestion("lost card", FREEZE, "admin")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("golden.csv", "question,answer\nq,a\n", "must name the columns question and expected"),
        ("golden.csv", "question,expected\nq,\n", "line 2: expected is missing"),
        ("golden.jsonl", '{"question": "q", "expected": "e"}\n{broken\n', "line 2: invalid JSON"),
        ("golden.jsonl", '["q", "e"]\n', "line 1: not a JSON object"),
        ("golden.jsonl", '{"question": "q", "expected": 7}\n', "line 1: expected is missing"),
        ("golden.txt", "q,e\n", "must be .csv or .jsonl"),
        ("golden.csv", b"\xff\xfe\x00bad", "unreadable"),
    ],
)
def test_bad_golden_files_are_named_errors(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(GoldenFileError, match=message) as caught:
        read_golden(path)
    assert str(path) in str(caught.value)


def test_a_missing_golden_file_is_named() -> None:
    with pytest.raises(GoldenFileError, match="does not exist"):
        read_golden(Path("/nonexistent/golden.csv"))
