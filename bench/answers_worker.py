"""One policy's turns for ``bench/answers.py``: ``python bench/answers_worker.py JOB.json``.

Runs in its own process so that the policy of today can be measured from a checkout of the
baseline commit (``--src``) beside the working tree's: the job names the source folder, which
goes first on ``sys.path`` before anything of the chatbot is imported. Only interfaces both
versions share are used: ``Settings``, ``Services.open`` and ``ChatPipeline.run``. Each turn
runs the whole pipeline (retrieval, NeMo Guardrails, the Triton engine the job names, the
output rails) in a fresh session; the replies are written as JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any


async def _run(job: dict[str, Any]) -> None:
    import chatbot
    from chatbot.services import Services
    from chatbot.settings import Settings

    # The policy measured is the one in job["src"], not an installed copy.
    assert Path(chatbot.__file__).resolve().is_relative_to(Path(job["src"]).resolve())

    settings = Settings(
        index_dir=Path(job["index_dir"]),
        cache_dir=Path(job["cache_dir"]),
        triton_url=job["triton_url"],
        **job.get("settings", {}),
    )
    queries: list[dict[str, Any]] = job["queries"]
    gate = asyncio.Semaphore(int(job.get("concurrency", 4)))
    done = 0

    async with Services.open(settings) as services:

        async def one(query: dict[str, Any]) -> dict[str, Any]:
            nonlocal done
            async with gate:
                # A genuine customer message is judged by whether the rails refuse it: one
                # token is enough to run the turn past them.
                cap = 1 if query.get("rails_only") else None
                result = await services.pipeline.run(query["text"], max_tokens=cap)
            done += 1
            if done % 50 == 0:
                print(f"  {job['label']}: {done}/{len(queries)}", flush=True)
            g = result.guardrails
            return {
                "i": query["i"],
                "answered_by": str(result.answered_by),
                "refused": bool(g.get("blocked")) and not g.get("retracted"),
                "reason": g.get("reason"),
                "retracted": bool(g.get("retracted")),
                "withheld": g.get("withheld"),
                "suggested": g.get("suggested"),
                "citations": [c["id"] for c in result.citations],
                "answer": result.answer,
            }

        rows = await asyncio.gather(*(one(q) for q in queries))
    with Path(job["out"]).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    sys.path.insert(0, job["src"])
    asyncio.run(_run(job))


if __name__ == "__main__":
    main()
