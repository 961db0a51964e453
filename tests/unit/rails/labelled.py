"""The rails' labelled sets (the train exemplars and the bench splits), for the tests that
check a rule against every labelled text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
EXEMPLARS = REPO / "rails" / "exemplars"
SPLITS = REPO / "bench" / "data" / "rails"


def rows(*paths: Path) -> list[dict[str, Any]]:
    """Every row of these JSONL files."""
    return [
        json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()
    ]


def texts(row: dict[str, Any]) -> list[str]:
    """A message's text, or a conversation's turns and the turns read together."""
    return [*row["turns"], " ".join(row["turns"])] if "turns" in row else [row["text"]]
