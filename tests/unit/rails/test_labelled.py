from __future__ import annotations

import subprocess
import sys
from collections import Counter

from tests.unit.rails.labelled import EXEMPLARS, REPO, SPLITS, rows


def test_generated_records_are_current_and_files_sorted() -> None:
    """The obfuscated families are generated from their base sentences; a hand-written record
    added out of order or an edited base sentence shows up here."""
    script = SPLITS / "make_variants.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_ids_are_unique_and_name_their_split_and_family() -> None:
    files = {
        "train": EXEMPLARS / "messages.jsonl",
        "validation": SPLITS / "messages-validation.jsonl",
        "test": SPLITS / "messages-test.jsonl",
    }
    for split, path in files.items():
        records = rows(path)
        assert [i for i, n in Counter(r["id"] for r in records).items() if n > 1] == []
        assert all(r["id"].startswith(f"{split}-{r['family']}-") for r in records)
