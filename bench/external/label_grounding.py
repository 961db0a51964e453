"""Helper for hand-labelling engine sentences: prints answers in seeded order.

Usage: python bench/external/label_grounding.py START COUNT
  (positions in the shuffled order). Prints question, the 3 chunk texts and
  numbered sentences. Reads only the data files, never rails/.
"""

import hashlib
import json
import random
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parents[2] / ".chatbot/external/bankfaq"


def load():
    rows = [json.loads(l) for l in open(BASE / "engine-outputs-dev.jsonl")]
    ver = (BASE / "index/CURRENT").read_text().strip()
    chunks = {}
    for l in open(BASE / "index" / ver / "chunks.jsonl"):
        c = json.loads(l)
        chunks[c["id"]] = c["text"]
    order = list(range(len(rows)))
    random.Random(20261207).shuffle(order)
    return rows, chunks, order


def qsha(q):
    return hashlib.sha256(q.encode("utf-8")).hexdigest()[:16]


if __name__ == "__main__":
    rows, chunks, order = load()
    start, count = int(sys.argv[1]), int(sys.argv[2])
    for pos in range(start, min(start + count, len(order))):
        ai = order[pos]
        r = rows[ai]
        print("=" * 100)
        print(f"POS {pos}  ANSWER_INDEX {ai}  kind={r['kind']}")
        print("QUESTION:", r["question"])
        for cid in r["chunk_ids"]:
            print(f"--- CHUNK {cid}\n{chunks[cid]}")
        print("--- SENTENCES")
        for i, s in enumerate(r["sentences"]):
            print(f"  [{i}] {s}")
