"""The regression gate: a new index version goes live only if it answers the golden questions
about as well as the served one.

Golden questions are every FAQ question of the new version (its own entry expected) and the
rows of the admin's golden file (``question`` and ``expected``: an FAQ id or question text).
recall@1 is the share of them whose first answer, ranked as the chatbot ranks
(:class:`ingest.search.Retriever` over the hits the answer policy reads, its curated rule
first), is an expected entry. Both versions are measured on the questions whose expected
entry exists in both; ``passed`` means recall@1 fell by at most ``max_drop``.

An FAQ question's query vector is its title vector computed at ingest (the same model's
vector of the same text), so only the admin's golden questions are embedded here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ingest.config import SearchConfig
from ingest.dense import set_nprobe
from ingest.errors import DocumentLoadError
from ingest.models import Chunk
from ingest.search import Hit, Retriever
from ingest.store import IndexVersion

MAX_REGRESSIONS = 20
Vector = npt.NDArray[np.float32]
Origin = Literal["faq", "admin"]


class GoldenFileError(DocumentLoadError):
    """The admin's golden file is missing, unreadable or malformed (nothing is published)."""


@dataclass(frozen=True)
class GateConfig:
    max_drop: float = 0.02
    golden_file: Path | None = None
    search: SearchConfig = field(default_factory=SearchConfig)
    depth: int | None = None
    """How many of the search's hits the answer policy reads (the chatbot's context_chunks)."""
    curated: float | None = None
    """Title cosine at which the policy answers with that FAQ entry whatever ranks first."""


@dataclass(frozen=True)
class GoldenQuestion:
    question: str
    expected: str
    """A chunk id (FAQ questions) or what the admin wrote: an FAQ id or question text."""
    origin: Origin
    answer: str | None = None
    """The entry's answer (FAQ questions): a copy with the same question and answer counts."""
    vector: Vector | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Regression:
    question: str
    expected: str
    got: str | None
    """The chunk id answered instead (None: nothing relevant)."""


@dataclass(frozen=True)
class GateResult:
    passed: bool
    forced: bool
    """Refused, and published anyway (``--force``)."""
    recall_at_1_new: float | None
    """The new version on the compared questions (first publish: on all its golden ones)."""
    recall_at_1_live: float | None
    """The served version on the same questions; None when nothing was served."""
    compared: int
    max_drop: float
    new_only: int = 0
    """Golden questions whose expected entry only the new version has."""
    recall_at_1_new_only: float | None = None
    unmatched: int = 0
    """Admin golden rows whose expected entry the new version does not have."""
    live_version: str | None = None
    regressions: tuple[Regression, ...] = ()
    """Compared questions the served version answers right and the new one wrong (some)."""

    @property
    def drop(self) -> float:
        if self.recall_at_1_live is None or self.recall_at_1_new is None:
            return 0.0
        return self.recall_at_1_live - self.recall_at_1_new

    @property
    def reason(self) -> str | None:
        """Why the version is not published; None when the gate passed."""
        if self.passed:
            return None
        return (
            f"recall@1 fell from {self.recall_at_1_live:.2f} to {self.recall_at_1_new:.2f} "
            f"(more than {self.max_drop:g}) on {self.compared} golden questions"
        )

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "passed": self.passed,
            "forced": self.forced,
            "recall_at_1_new": rounded(self.recall_at_1_new),
            "recall_at_1_live": rounded(self.recall_at_1_live),
            "drop": round(self.drop, 4),
            "max_drop": self.max_drop,
            "compared": self.compared,
            "new_only": self.new_only,
            "recall_at_1_new_only": rounded(self.recall_at_1_new_only),
            "unmatched": self.unmatched,
            "live_version": self.live_version,
            "regressions": [
                {"question": r.question, "expected": r.expected, "got": r.got}
                for r in self.regressions
            ],
        }


def normalise(text: str) -> str:
    """Case, spacing and punctuation aside: "How do I freeze my card?" == "how do i freeze
    my card"."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def _golden_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GoldenFileError(f"golden file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldenFileError(f"golden file {path} is unreadable: {exc}") from exc
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
        if not {"question", "expected"} <= fields:
            raise GoldenFileError(
                f"golden file {path}: the header must name the columns question and expected"
            )
        try:
            return [
                (reader.line_num, {(k or "").strip().lower(): v for k, v in row.items()})
                for row in reader
            ]
        except csv.Error as exc:
            raise GoldenFileError(f"golden file {path}: {exc}") from exc
    if suffix in {".jsonl", ".ndjson"}:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldenFileError(
                    f"golden file {path}, line {n}: invalid JSON ({exc.msg})"
                ) from exc
            if not isinstance(row, dict):
                raise GoldenFileError(f"golden file {path}, line {n}: not a JSON object")
            rows.append((n, row))
        return rows
    raise GoldenFileError(f"golden file {path}: must be .csv or .jsonl, not {suffix or 'none'}")


def read_golden(path: Path) -> list[GoldenQuestion]:
    """The admin's golden questions; a :class:`GoldenFileError` names the first bad line."""
    golden = []
    for n, row in _golden_rows(path):
        question, expected = row.get("question"), row.get("expected")
        for name, value in (("question", question), ("expected", expected)):
            if not isinstance(value, str) or not value.strip():
                raise GoldenFileError(f"golden file {path}, line {n}: {name} is missing")
        assert isinstance(question, str) and isinstance(expected, str)
        golden.append(GoldenQuestion(question.strip(), expected.strip(), "admin"))
    return golden


def faq_golden(version: IndexVersion) -> list[GoldenQuestion]:
    """Each FAQ entry's own question, with its title vector as the query vector."""
    return [
        GoldenQuestion(
            chunk.title,
            chunk.id,
            "faq",
            chunk.answer,
            None if version.titles is None else np.asarray(version.titles[row]),
        )
        for row, chunk in enumerate(version.chunks)
        if chunk.kind == "faq" and chunk.answer and not chunk.flagged
    ]


class _Given:
    """Stands in for the embedder: the next query's vector, already computed."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vector: Vector | None = None

    def encode_query(self, text: str) -> Vector:
        assert self.vector is not None
        return self.vector


class _Pinned(Retriever):
    """The chatbot's search over one loaded version (the new one is not served yet)."""

    def __init__(self, version: IndexVersion, config: SearchConfig) -> None:
        self.given = _Given(version.manifest.dimension)
        super().__init__(version.path.parent, self.given, config)  # type: ignore[arg-type]
        set_nprobe(version.dense, config.nprobe)
        if version.title_dense is not None:
            set_nprobe(version.title_dense, config.nprobe)
        self._pinned = version

    @property
    def index(self) -> IndexVersion:
        return self._pinned

    def hits(self, question: str, vector: Vector, depth: int | None) -> list[Hit]:
        self.given.vector = vector
        hits = self.search(question).hits[:depth]
        return [h for h in hits if not h.chunk.flagged]  # the retrieval rail drops these


class _Judge:
    """Answers "is the entry this version answers with an expected one?" for one version."""

    def __init__(self, version: IndexVersion, config: GateConfig) -> None:
        self.version = version
        self.config = config
        self.search = _Pinned(version, config.search)
        self.by_question: dict[str, list[Chunk]] = {}
        for chunk in version.chunks:
            if chunk.kind == "faq":
                self.by_question.setdefault(normalise(chunk.title), []).append(chunk)
        self.ids = {c.id for c in version.chunks}

    def expected(self, golden: GoldenQuestion) -> set[str]:
        if golden.origin == "faq":
            key, answer = normalise(golden.question), normalise(golden.answer or "")
            found = {golden.expected} & self.ids
            found |= {
                c.id for c in self.by_question.get(key, []) if normalise(c.answer or "") == answer
            }
            return found
        wanted = golden.expected
        found = {c.id for c in self.version.chunks if c.id == wanted or c.id.endswith("#" + wanted)}
        return found | {c.id for c in self.by_question.get(normalise(wanted), [])}

    def answered(self, golden: GoldenQuestion, vector: Vector) -> Chunk | None:
        """What the answer policy picks: the FAQ entry whose question says the same (the
        curated rule of ``chatbot.policy.decide``), else the first hit."""
        hits = self.search.hits(golden.question, vector, self.config.depth)
        entries = [h for h in hits if h.chunk.kind == "faq" and h.chunk.answer]
        same = max(entries, key=lambda h: h.title_score, default=None)
        curated = self.config.curated
        if same is not None and curated is not None and same.title_score >= curated:
            return same.chunk
        return hits[0].chunk if hits else None

    def verdict(self, golden: GoldenQuestion, vector: Vector, expected: set[str]) -> str | None:
        """None when right, else the chunk id answered instead ("" for nothing relevant)."""
        chunk = self.answered(golden, vector)
        if chunk is None:
            return ""
        if chunk.id not in expected:
            return chunk.id
        # Two entries with one question and different answers: which one the bot shows turns
        # on float noise of their vectors, so the customer may get either; count it as wrong.
        for twin in self.by_question.get(normalise(chunk.title), []):
            if twin.id not in expected and normalise(twin.answer or "") != normalise(
                chunk.answer or ""
            ):
                return twin.id
        return None


def _share(right: int, total: int) -> float | None:
    return right / total if total else None


def run_gate(
    new: IndexVersion,
    live: IndexVersion | None,
    config: GateConfig,
    *,
    admin: Sequence[GoldenQuestion] = (),
    encode: Callable[[str], Vector] | None = None,
    force: bool = False,
) -> GateResult:
    """Measure ``new`` against ``live`` (the served version, if any). ``encode`` embeds the
    admin's golden questions (``Embedder.encode_query``, as a chat turn embeds a message); FAQ
    questions reuse their title vectors."""
    golden = faq_golden(new) + list(admin)
    if live is not None and live.manifest.dimension != new.manifest.dimension:
        live = None  # another model's vectors cannot be searched with this one's queries
    judge_new = _Judge(new, config)
    judge_live = _Judge(live, config) if live is not None else None

    compared = right_new = right_live = new_only = right_new_only = unmatched = 0
    regressions: list[Regression] = []
    for g in golden:
        expected_new = judge_new.expected(g)
        if not expected_new:
            unmatched += 1
            continue
        if g.vector is not None:
            vector = g.vector
        elif encode is not None:
            vector = encode(g.question)
        else:
            raise ValueError(f"golden question {g.question!r} has no vector and no encoder")
        got_new = judge_new.verdict(g, vector, expected_new)
        expected_live = judge_live.expected(g) if judge_live is not None else set()
        if judge_live is None or not expected_live:
            new_only += 1
            right_new_only += got_new is None
            continue
        compared += 1
        right_new += got_new is None
        was_right = judge_live.verdict(g, vector, expected_live) is None
        right_live += was_right
        if was_right and got_new is not None and len(regressions) < MAX_REGRESSIONS:
            regressions.append(Regression(g.question, g.expected, got_new or None))

    if judge_live is None:
        # First publish: nothing to compare with; report the new version's own figure.
        recall_new = _share(right_new_only, new_only)
        return GateResult(
            passed=True,
            forced=False,
            recall_at_1_new=recall_new,
            recall_at_1_live=None,
            compared=0,
            max_drop=config.max_drop,
            new_only=new_only,
            recall_at_1_new_only=recall_new,
            unmatched=unmatched,
        )
    recall_new, recall_live = _share(right_new, compared), _share(right_live, compared)
    # A small tolerance: a drop of exactly max_drop passes despite float rounding.
    passed = compared == 0 or (recall_live or 0.0) - (recall_new or 0.0) <= config.max_drop + 1e-9
    return GateResult(
        passed=passed,
        forced=force and not passed,
        recall_at_1_new=recall_new,
        recall_at_1_live=recall_live,
        compared=compared,
        max_drop=config.max_drop,
        new_only=new_only,
        recall_at_1_new_only=_share(right_new_only, new_only),
        unmatched=unmatched,
        live_version=live.version if live is not None else None,
        regressions=tuple(regressions),
    )
