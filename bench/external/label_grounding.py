"""Prints engine answers for hand-labelling, in the labelling's seeded order:
``python bench/external/label_grounding.py START COUNT``.

For each answer of ``.chatbot/external/bankfaq/engine-outputs-dev.jsonl``: the question, the
three chunks the engine was given and the numbered sentences. It reads only the data files,
never ``rails/``, so the labels do not lean on the check they measure.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

BASE = Path(__file__).resolve().parents[2] / ".chatbot/external/bankfaq"


def _lines(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main() -> None:
    rows = _lines(BASE / "engine-outputs-dev.jsonl")
    version = (BASE / "index" / "CURRENT").read_text().strip()
    chunks = {c["id"]: c["text"] for c in _lines(BASE / "index" / version / "chunks.jsonl")}
    order = list(range(len(rows)))
    random.Random(20261207).shuffle(order)
    start, count = int(sys.argv[1]), int(sys.argv[2])
    for pos in range(start, min(start + count, len(order))):
        row = rows[order[pos]]
        print("=" * 100)
        print(f"POS {pos}  ANSWER_INDEX {order[pos]}  kind={row['kind']}")
        print("QUESTION:", row["question"])
        for cid in row["chunk_ids"]:
            print(f"--- CHUNK {cid}\n{chunks[cid]}")
        print("--- SENTENCES")
        for i, sentence in enumerate(row["sentences"]):
            print(f"  [{i}] {sentence}")


if __name__ == "__main__":
    main()
