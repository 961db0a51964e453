from __future__ import annotations

import importlib.util
from collections import Counter
from types import ModuleType

from tests.unit.rails.labelled import SPLITS, rows


def _make_variants() -> ModuleType:
    """``bench/data/rails/make_variants.py``, a script outside any package."""
    spec = importlib.util.spec_from_file_location("make_variants", SPLITS / "make_variants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_records_are_current_and_files_sorted() -> None:
    """The obfuscated families are generated from their base sentences; a hand-written record
    added out of order or an edited base sentence shows up here."""
    assert _make_variants().main(["--check"]) == 0


def test_ids_are_unique_and_name_their_split_and_family() -> None:
    for split, path in _make_variants().FILES.items():
        records = rows(path)
        assert [i for i, n in Counter(r["id"] for r in records).items() if n > 1] == []
        assert all(r["id"].startswith(f"{split}-{r['family']}-") for r in records)
