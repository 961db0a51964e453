"""What customers of a bank that deploys its own FAQ get back: ``python bench/answers.py``.

The corpora are public FAQ and query sets nobody on the team wrote (``bench/external/``:
``python bench/external/prepare.py`` builds them under ``.chatbot/external``): each corpus's
FAQ is ingested as a bank would ingest it, and its queries are asked as customers asked them.
Queries come in kinds: ``answerable`` (real users' wordings of a question the FAQ answers),
``faq_question`` (the FAQ's own questions, word for word), ``unanswerable`` (on-topic questions
the FAQ does not answer) and ``banking77`` (real bank customers' messages, for false refusals).

Three parts, each printed side by side for the policy of today (the baseline commit
``BASELINE``, run from a git worktree of it) and the working tree's:

1. retrieval recall@1/@5 of the expected entry (``answerable`` and ``faq_question``);
2. the end-to-end replies of the whole pipeline (retrieval, NeMo Guardrails, the embedded
   Triton engine, the output rails) for a seeded sample of each kind of the ``--split``
   (``bench/answers_worker.py`` runs each policy in its own process against one engine):
   genuine questions refused; answerable questions with the right FAQ content shown (the
   expected entry's answer as written, or a model answer that passed the output rails and
   cites it); wrong facts shown (a curated answer from another entry, or a shown model answer
   with a number or name the expected entry lacks, or any shown model answer to an unanswerable
   question); unanswerable questions that get an abstention or a human; curated coverage and
   precision; and each outcome's share and precision;
3. the claim check on labelled sentences the embedded engine wrote about the development
   split (``bench/external/grounding-<corpus>.jsonl``, when present): precision and recall of
   the rail for unsupported sentences.

``--calibrate`` prints the answer policy's threshold grid on the development split instead
(retrieval scores only, no generation): the settings' defaults come from it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chatbot import policy  # noqa: E402
from chatbot.ingesting import ingest_paths  # noqa: E402
from chatbot.serving import engine_for, free_ports  # noqa: E402
from chatbot.settings import Settings  # noqa: E402
from ingest.embeddings import Embedder  # noqa: E402
from ingest.search import Hit, Retriever  # noqa: E402
from ingest.store import IndexVersion, current_version  # noqa: E402
from rails import grounding  # noqa: E402

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


# --- retrieval ---------------------------------------------------------------------------


class _TitlesHidden(Retriever):
    """The served version as today's code reads it: without the title vectors."""

    @property
    def index(self) -> IndexVersion:
        version = super().index
        return replace(version, titles=None, title_dense=None)


def recall(
    retriever: Retriever, queries: Iterable[dict[str, Any]], kinds: frozenset[str]
) -> tuple[float, float, int, float]:
    """Recall@1, recall@5, questions, and the mean search time in ms (query vectors cached)."""
    at1 = at5 = n = 0
    seconds = 0.0
    for q in queries:
        if q["kind"] not in kinds or not q["expected"]:
            continue
        retriever.embedder.encode_query(q["text"])
        start = time.perf_counter()
        result = retriever.search(q["text"], k=5)
        seconds += time.perf_counter() - start
        ranked = [entry_of(h.chunk.id) for h in result.hits]
        n += 1
        at1 += bool(ranked[:1]) and ranked[0] in q["expected"]
        at5 += any(r in q["expected"] for r in ranked[:5])
    return (at1 / n if n else 0.0, at5 / n if n else 0.0, n, 1000 * seconds / max(n, 1))


# --- calibration -------------------------------------------------------------------------


def calibrate(corpus: Corpus, settings: Settings, embedder: Embedder) -> None:
    """The policy's outcomes on the development split for a grid of thresholds, from
    retrieval alone. Per kind of question: answerable (customers' wordings) and FAQ questions
    shown the right entry as written (curated or faq_entry), shown a wrong one (as curated,
    or as the closest entry), left to the model, abstained; unanswerable ones that abstain,
    are shown an entry, or go to the model."""
    retriever = Retriever(corpus.index_dir, embedder, settings.search())
    queries = corpus.queries("dev")
    rows: list[tuple[dict[str, Any], list[Hit]]] = []
    for q in queries:
        if q["kind"] in {"answerable", "faq_question", "unanswerable"}:
            hits = retriever.search(q["text"]).hits[: settings.context_chunks]
            rows.append((q, hits))
    n = Counter(q["kind"] for q, _ in rows)
    print(f"\n{corpus.name}, dev: {dict(n)}")
    print(
        f"{'cur.':>5} {'entry':>5} {'ans.':>5} | answerable: {'right':>5} {'wrC':>5} {'wrE':>5} "
        f"{'model':>5} {'abst':>5} | faq q.: {'right':>5} {'wrong':>5} | unanswerable: "
        f"{'abst':>5} {'entry':>5} {'model':>5}"
    )
    for cur in (0.85, 0.88, 0.9, 0.92):
        for entry in (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
            for answer in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65):
                if answer > entry:
                    continue
                t = policy.Thresholds(curated=cur, entry=entry, answer=answer)
                c: Counter[str] = Counter()
                for q, hits in rows:
                    d = policy.decide(hits, t)
                    kind = q["kind"]
                    c[f"{kind}:{d.outcome}"] += 1
                    if d.entry is not None and kind != "unanswerable":
                        ok = entry_of(d.entry.chunk.id) in q["expected"]
                        c[f"{kind}:right" if ok else f"{kind}:wrong_{d.outcome}"] += 1

                def r(key: str, kind: str, c: Counter[str] = c) -> str:
                    return f"{c[f'{kind}:{key}'] / max(n[kind], 1):>5.2f}"

                a, f, u = "answerable", "faq_question", "unanswerable"
                wrong_f = (c[f"{f}:wrong_curated"] + c[f"{f}:wrong_faq_entry"]) / max(n[f], 1)
                print(
                    f"{cur:>5.2f} {entry:>5.2f} {answer:>5.2f} | {'':>11} {r('right', a)} "
                    f"{r('wrong_curated', a)} {r('wrong_faq_entry', a)} {r('model', a)} "
                    f"{r('abstain', a)} | {'':>7} {r('right', f)} {wrong_f:>5.2f} | "
                    f"{'':>13} {r('abstain', u)} {r('faq_entry', u)} {r('model', u)}"
                )


async def sweep_on_topic(corpus: Corpus, settings: Settings, embedder: Embedder) -> None:
    """Refusals by the input rails against the on-topic threshold, on the development split:
    each message is checked once as not near the FAQ and once as near it, and its best
    relevance decides which verdict a threshold gives. Genuine messages refused (lower is
    better) and the project's labelled attacks and off-topic requests (validation split)
    that the rails would no longer refuse (lower is better)."""
    from bench.rails_eval import read as read_labelled
    from chatbot import prompt
    from chatbot.guard import Guardrails
    from rails import profile_path
    from rails.output import Policy
    from rails.pii import mask

    guard = Guardrails(profile_path("default"), embedder, Policy(system_prompt=prompt.SYSTEM))
    await guard.warm_up()
    retriever = Retriever(corpus.index_dir, embedder, settings.search())
    genuine = [q for q in corpus.queries("dev") if q["kind"] != "faq_question"]
    rng = random.Random(SEED)
    rng.shuffle(genuine)
    genuine = genuine[:1500]
    labelled = read_labelled("messages-validation.jsonl")
    others = [r for r in labelled if r["label"] in {"attack", "off_topic"}]
    rows: list[tuple[str, float, bool, bool]] = []
    for kind, text in [(q["kind"], q["text"]) for q in genuine] + [
        (r["label"], r["text"]) for r in others
    ]:
        masked = mask(text).text
        hits = retriever.search(masked).hits
        best = hits[0].relevance if hits else 0.0
        far = (await guard.check_input(masked)).blocked is not None
        near = (await guard.check_input(masked, near_faq=True)).blocked is not None
        rows.append((kind, best, far, near))
    print(f"\n{corpus.name}, dev: input-rail refusals by on-topic threshold")
    kinds = sorted({k for k, *_ in rows})
    print(f"{'on_topic':>8} " + " ".join(f"{k:>14}" for k in kinds))
    for threshold in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 2.0):
        cells = []
        for kind in kinds:
            mine = [(b, f, n) for k, b, f, n in rows if k == kind]
            refused = sum(n if b >= threshold else f for b, f, n in mine)
            cells.append(f"{refused:>6}/{len(mine):<7}")
        label = "off" if threshold > 1 else f"{threshold:.2f}"
        print(f"{label:>8} " + " ".join(cells))


# --- end to end --------------------------------------------------------------------------


def baseline_tree() -> Path:
    """A git worktree of ``BASELINE`` (made once, outside the repository's tree)."""
    path = Path(tempfile.gettempdir()) / f"chatbot-baseline-{BASELINE}"
    if not (path / "chatbot").is_dir():
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), BASELINE],
            check=True,
        )
    return path


def run_policy(
    label: str,
    src: Path,
    corpus: Corpus,
    queries: list[dict[str, Any]],
    triton_url: str,
    settings: Settings,
    concurrency: int,
) -> dict[int, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="answers-") as tmp:
        job = {
            "label": f"{corpus.name}/{label}",
            "src": str(src),
            "index_dir": str(corpus.index_dir),
            "cache_dir": str(settings.cache_dir.resolve()),
            "triton_url": triton_url,
            "concurrency": concurrency,
            "out": str(Path(tmp) / "out.jsonl"),
            "queries": [
                {"i": q["i"], "text": q["text"], "rails_only": q["kind"] == "banking77"}
                for q in queries
            ],
        }
        (Path(tmp) / "job.json").write_text(json.dumps(job), encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(src)}
        subprocess.run(
            [
                sys.executable,
                str(REPO / "bench" / "answers_worker.py"),
                str(Path(tmp) / "job.json"),
            ],
            check=True,
            env=env,
            cwd=src,
        )
        return {row["i"]: row for row in read_jsonl(Path(tmp) / "out.jsonl")}


def normalised(row: dict[str, Any]) -> dict[str, Any]:
    """Today's code kept ``answered_by: model`` on an answer the output rails retracted; it is
    a fallback (the FAQ's text and a human) in both versions' replies."""
    if row["retracted"] and row["answered_by"] == "model":
        return {**row, "answered_by": "fallback"}
    return row


def shown_entry(row: dict[str, Any]) -> str | None:
    """The FAQ entry whose answer the reply shows as written, if any."""
    if row["answered_by"] in {"curated", "faq_entry"}:
        return entry_of(row["citations"][0]) if row["citations"] else None
    if row["answered_by"] == "fallback" and row.get("suggested"):
        return entry_of(row["suggested"])
    return None


def wrong_model_facts(answer: str, expected_text: str, question: str) -> bool:
    """A number or a name in the answer that the expected entry does not carry."""
    known = expected_text + "\n" + question
    return bool(grounding.numbers(answer) - grounding.numbers(known)) or any(
        name not in known.lower() for name in grounding.names(answer)
    )


def score(
    corpus: Corpus, queries: list[dict[str, Any]], replies: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    c: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for q in queries:
        row = normalised(replies[q["i"]])
        kind = q["kind"]
        c[f"{kind}_n"] += 1
        c[f"{kind}_refused"] += row["refused"]
        if kind == "banking77" or row["refused"]:
            continue
        by = row["answered_by"]
        model_shown = by == "model"
        entry = shown_entry(row)
        if kind == "unanswerable":
            c["un_abstain_or_human"] += by in {"abstain", "fallback"}
            c["un_shown"] += by not in {"abstain", "fallback", "rails"}
            c["un_wrong"] += model_shown or by == "curated"
            outcomes["unanswerable"][by] += 1
            continue
        expected = set(q["expected"])
        right = (entry in expected) or (
            model_shown
            and any(entry_of(cid) in expected for cid in row["citations"])
            and not wrong_model_facts(
                row["answer"], " ".join(corpus.answers.get(e, "") for e in expected), q["text"]
            )
        )
        c["right"] += right
        c["answers_n"] += 1
        c["shown"] += by not in {"abstain", "rails"}
        outcomes["answerable"][by] += 1
        outcomes["answerable_right"][by] += right
        if by == "curated":
            c["curated"] += 1
            c["curated_right"] += right
            c["wrong"] += not right
        elif model_shown:
            c["wrong"] += wrong_model_facts(
                row["answer"], " ".join(corpus.answers.get(e, "") for e in expected), q["text"]
            )
        elif entry is not None and entry not in expected:
            c["wrong_entry_offered"] += 1
    return {"c": c, "outcomes": outcomes}


def pct(a: float, b: float) -> str:
    return f"{100 * a / b:5.1f} %" if b else "    -  "


def report(name: str, results: dict[str, dict[str, Any]]) -> None:
    labels = list(results)
    print(f"\n{name}: end to end ({' vs '.join(labels)})")
    width = 44

    def line(title: str, get: Any) -> None:
        cells = "".join(f"{get(results[label]['c']):>22}" for label in labels)
        print(f"  {title:<{width}}{cells}")

    print(f"  {'':<{width}}" + "".join(f"{label:>22}" for label in labels))
    genuine = ("answerable", "faq_question", "unanswerable", "banking77")
    line(
        "genuine questions refused (all kinds)",
        lambda c: pct(sum(c[f"{k}_refused"] for k in genuine), sum(c[f"{k}_n"] for k in genuine)),
    )
    for k in genuine:
        line(f"  {k} refused", lambda c, k=k: f"{c[f'{k}_refused']}/{c[f'{k}_n']}")
    answerable = lambda c: c["answerable_n"] + c["faq_question_n"]  # noqa: E731
    line("right FAQ content shown (answerable + FAQ q.)", lambda c: pct(c["right"], answerable(c)))
    line(
        "wrong facts shown (of answers shown)",
        lambda c: pct(c["wrong"] + c["un_wrong"], c["shown"] + c["un_shown"]),
    )
    line(
        "wrong FAQ entry offered as the closest",
        lambda c: pct(c["wrong_entry_offered"], c["shown"]),
    )
    line(
        "unanswerable -> abstention or a human",
        lambda c: pct(c["un_abstain_or_human"], c["unanswerable_n"]),
    )
    line("curated coverage (answerable + FAQ q.)", lambda c: pct(c["curated"], answerable(c)))
    line("curated precision", lambda c: pct(c["curated_right"], c["curated"]))
    for label in labels:
        out = results[label]["outcomes"]
        shares = ", ".join(
            f"{by} {n} ({out['answerable_right'][by]} right)"
            for by, n in out["answerable"].most_common()
        )
        print(f"  {label}: answerable outcomes: {shares}")
        print(
            f"  {label}: unanswerable outcomes: "
            + ", ".join(f"{by} {n}" for by, n in out["unanswerable"].most_common())
        )


# --- the claim check on labelled engine outputs ------------------------------------------


def _baseline_grounding() -> Any:
    """``rails/grounding.py`` as it was at ``BASELINE`` (today's lexical check over all chunks
    together), loaded under its own name beside the working tree's."""
    path = baseline_tree() / "rails" / "grounding.py"
    spec = importlib.util.spec_from_file_location("baseline_grounding", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def claim_check(corpus: Corpus, embedder: Embedder, calibrate: bool = False) -> None:
    """The output rail's claim check on sentences the embedded engine wrote for development
    questions (``bench/external/engine_outputs.py``), each read and labelled by hand
    (``supported``, ``unsupported``, or ``no_claim``: courtesy, an offer of a human, the
    question repeated, markup), side by side with today's check. The answers are split in two
    by position: the even ones calibrate (``--calibrate`` prints the grid of the extractive
    threshold there), the odd ones are reported. Precision and recall are for catching
    ``unsupported`` sentences; the time is per sentence (vectors cached by a first pass, so
    the figures compare the checks, not the embedding model)."""
    path = REPO / "bench" / "external" / f"grounding-{corpus.name}.jsonl"
    if not path.is_file():
        print(f"\n{corpus.name}: no labelled engine outputs ({path.name}); claim check skipped")
        return
    chunks = _chunk_texts(corpus)
    questions = {
        hashlib.sha256(q["text"].encode()).hexdigest()[:16]: q["text"]
        for q in corpus.queries("dev")
    }
    rows = read_jsonl(path)
    for row in rows:
        row["context"] = [chunks[cid] for cid in row["chunk_ids"] if cid in chunks]
        row["question"] = questions.get(row["question_sha"], "")
    fit = [r for r in rows if r["answer_index"] % 2 == 0]
    held = [r for r in rows if r["answer_index"] % 2 == 1]
    if calibrate:
        print(f"\n{corpus.name}: extractive threshold on the calibration half ({len(fit)})")
        for value in (0.0, 0.3, 0.5, 0.7):
            for semantic in (0.7, 0.75, 0.8, 0.85, 1.01):
                t = grounding.Thresholds(extractive=value, semantic=semantic)
                c = _claim_counts(grounding, fit, embedder, t)
                print(f"  extractive {value:.1f} semantic {semantic:.2f}  " + _claim_line(c, fit))
        return
    print(
        f"\n{corpus.name}: claim check on {len(held)} hand-labelled sentences the engine wrote "
        f"(the held-out half of {len(rows)}: {dict(Counter(r['label'] for r in held))})"
    )
    for label, module in (("today", _baseline_grounding()), ("new", grounding)):
        _claim_counts(module, held, embedder)  # warm the embedder's cache
        start = time.perf_counter()
        c = _claim_counts(module, held, embedder)
        us = 1e6 * (time.perf_counter() - start) / max(len(held), 1)
        print(f"  {label:<6} " + _claim_line(c, held) + f"  {us:.0f} us/sentence")


def _claim_counts(
    module: Any, rows: list[dict[str, Any]], embedder: Embedder, thresholds: Any = None
) -> Counter[str]:
    c: Counter[str] = Counter()
    for row in rows:
        checks = module.check(
            row["sentence"], row["context"], embedder, thresholds, question=row["question"]
        )
        flagged = not module.grounded(checks)
        bad = row["label"] == "unsupported"
        c["tp" if flagged and bad else "fp" if flagged else "fn" if bad else "tn"] += 1
        c[f"{row['label']}:{'flagged' if flagged else 'passed'}"] += 1
    return c


def _claim_line(c: Counter[str], rows: list[dict[str, Any]]) -> str:
    labels = Counter(r["label"] for r in rows)
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return (
        f"precision {tp / max(tp + fp, 1):.3f}  recall {tp / max(tp + fn, 1):.3f}  "
        f"supported flagged {c['supported:flagged']}/{labels['supported']}  "
        f"no-claim flagged {c['no_claim:flagged']}/{labels['no_claim']}  "
        f"unsupported passed {fn}/{labels['unsupported']} "
        f"({100 * fn / max(len(rows), 1):.1f} % of sentences)"
    )


def _chunk_texts(corpus: Corpus) -> dict[str, str]:
    version = current_version(corpus.index_dir)
    assert version is not None
    texts = {}
    with (corpus.index_dir / version / "chunks.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            chunk = json.loads(line)
            texts[chunk["id"]] = chunk["text"]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="*", default=list(CORPORA))
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--claims", action="store_true", help="with --calibrate: claims only")
    parser.add_argument("--no-e2e", action="store_true", help="recall and claim check only")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--rescore", action="store_true", help="score the replies the last run saved"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the sample sizes")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    settings = Settings()
    embedder = Embedder(settings.embedding())
    corpora = [Corpus.prepare(name, settings) for name in args.corpus]
    if args.calibrate:
        for corpus in corpora:
            claim_check(corpus, embedder, calibrate=True)
            if args.claims:
                continue
            calibrate(corpus, settings, embedder)
            asyncio.run(sweep_on_topic(corpus, settings, embedder))
        return
    for corpus in corpora:
        queries = corpus.queries(args.split)
        print(f"\n{corpus.name}, {args.split}: retrieval recall of the expected entry")
        for kinds in ({"answerable"}, {"faq_question"}):
            for label, cls in (("today", _TitlesHidden), ("new", Retriever)):
                retriever = cls(corpus.index_dir, embedder, settings.search())
                r1, r5, n, ms = recall(retriever, queries, frozenset(kinds))
                print(
                    f"  {label:<6} {'/'.join(kinds):<13} recall@1 {r1:.3f}  recall@5 {r5:.3f}  "
                    f"({n} questions; search {ms:.2f} ms)"
                )
        claim_check(corpus, embedder)
    if args.no_e2e:
        return
    sizes = {k: int(v * args.scale) for k, v in SAMPLE.items()}
    grpc, http, metrics = free_ports(3)
    triton_url = f"127.0.0.1:{grpc}"
    engine_settings = settings.model_copy(
        update={"triton_url": triton_url, "engine_http_port": http, "engine_metrics_port": metrics}
    )
    today = baseline_tree()
    with engine_for(engine_settings):
        for corpus in corpora:
            picked = sample(corpus.queries(args.split), sizes)
            kinds = dict(Counter(q["kind"] for q in picked))
            print(f"\n{corpus.name}: {len(picked)} queries end to end ({kinds})")
            results = {}
            for label, src in ((f"today ({BASELINE})", today), ("new", REPO)):
                saved = EXTERNAL / corpus.name / f"replies-{label.split()[0]}-{args.split}.jsonl"
                if args.rescore:
                    replies = {row["i"]: row for row in read_jsonl(saved)}
                else:
                    replies = run_policy(
                        label, src, corpus, picked, triton_url, settings, args.concurrency
                    )
                    saved.write_text(
                        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in replies.values()),
                        encoding="utf-8",
                    )
                results[label] = score(corpus, picked, replies)
            report(corpus.name, results)
    print(f"\nbenchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
