"""Continuous batching for the embedded engine.

One scheduler thread owns the model. New sequences are prefilled one at a time (each with
its own KV cache), then joined to the running batch; every decode step feeds the last token
of all running sequences in one forward pass. Sequences leave the batch as soon as they
finish or are cancelled, and waiting ones join at the next step, so a short request never
waits for a long one to end.

KV caches of different lengths share one tensor per layer by left padding: each row keeps
its own count of padded positions, masked out by the attention mask, and gets explicit
position ids. Hand-written because transformers' ``generate`` batches only requests that
start together, and no library on PyPI does continuous batching for a CPU PyTorch model.
"""

from __future__ import annotations

import atexit
import queue
import threading
from typing import TYPE_CHECKING, Any, Protocol

from engines.sampling import GenerationParams, Step, Stops, sample

if TYPE_CHECKING:
    from collections.abc import Callable


class LanguageModel(Protocol):
    """What decoding needs of ``engines.lm.CausalLM`` (a Protocol, so the two modules do not
    import each other)."""

    model: Any
    tokenizer: Any
    device: str
    context_window: int
    eos_ids: frozenset[int]


class Sequence:
    """One request's decoding state; the scheduler pushes its steps to ``out``."""

    def __init__(
        self,
        lm: LanguageModel,
        ids: list[int],
        params: GenerationParams,
        cancelled: Callable[[], bool],
    ) -> None:
        import torch

        self.lm = lm
        self.ids = ids
        self.params = params
        self.is_cancelled = cancelled
        self.abandoned = False  # the caller stopped reading
        self.out: queue.Queue[Step | BaseException] = queue.Queue()
        self.budget = min(params.max_tokens, lm.context_window - len(ids))
        self.generator = torch.Generator(device=lm.device)
        seed = params.seed if params.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
        self.generator.manual_seed(seed)
        self.stops = Stops(params.stop)
        self.generated: list[int] = []
        self.text = ""
        self.emitted = 0
        self.position = len(ids)  # position of the next token fed to the model

    def cancelled(self) -> bool:
        return self.abandoned or self.is_cancelled()

    def push(self, logits: Any) -> bool:
        """Sample the next token from ``logits``; True when the sequence has finished."""
        token = sample(logits, self.params, self.generator)
        if token in self.lm.eos_ids:
            return self.finish("stop")
        self.generated.append(token)
        text = self.lm.tokenizer.decode(self.generated, skip_special_tokens=True)
        if not text.endswith("\ufffd"):  # else an incomplete UTF-8 sequence: wait
            self.text = text
            hit = self.stops.find(text, self.emitted)
            if hit is not None:
                self.text = text[:hit]
                return self.finish("stop")
            end = self.stops.safe_end(text)
            if end > self.emitted:
                self.out.put(Step(text[self.emitted : end]))
                self.emitted = end
        if len(self.generated) >= self.budget:
            return self.finish("length")
        return False

    def finish(self, reason: str) -> bool:
        self.out.put(Step(self.text[self.emitted :].replace("\ufffd", ""), reason))
        return True


def _to_layers(cache: Any) -> list[tuple[Any, Any]]:
    """Per-layer (keys, values) of a transformers ``DynamicCache`` (4.5x and 5.x alike)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def _to_cache(layers: list[tuple[Any, Any]]) -> Any:
    from transformers import DynamicCache

    cache = DynamicCache()
    for index, (keys, values) in enumerate(layers):
        cache.update(keys, values, index)
    return cache


class _Batch:
    """The running sequences and their KV caches, left-padded to one length."""

    def __init__(self) -> None:
        self.seqs: list[Sequence] = []
        self.layers: list[tuple[Any, Any]] = []
        self.pads: list[int] = []
        self.length = 0

    @staticmethod
    def _left_pad(layers: list[tuple[Any, Any]], n: int) -> list[tuple[Any, Any]]:
        from torch.nn.functional import pad

        return [(pad(k, (0, 0, n, 0)), pad(v, (0, 0, n, 0))) for k, v in layers] if n else layers

    def add(self, seq: Sequence, layers: list[tuple[Any, Any]]) -> None:
        import torch

        n = layers[0][0].shape[2]
        if not self.seqs:
            self.seqs, self.layers, self.pads, self.length = [seq], layers, [0], n
            return
        if n > self.length:
            self.layers = self._left_pad(self.layers, n - self.length)
            self.pads = [p + n - self.length for p in self.pads]
            self.length = n
        layers = self._left_pad(layers, self.length - n)
        self.layers = [
            (torch.cat([k, k1]), torch.cat([v, v1]))
            for (k, v), (k1, v1) in zip(self.layers, layers, strict=True)
        ]
        self.seqs.append(seq)
        self.pads.append(self.length - n)

    def keep(self, rows: list[int]) -> None:
        import torch

        if len(rows) == len(self.seqs):
            return
        self.seqs = [self.seqs[i] for i in rows]
        self.pads = [self.pads[i] for i in rows]
        if not rows:
            self.layers, self.length = [], 0
            return
        index = torch.tensor(rows, device=self.layers[0][0].device)
        trim = min(self.pads)  # columns that are padding in every remaining row
        self.layers = [
            (k.index_select(0, index)[:, :, trim:], v.index_select(0, index)[:, :, trim:])
            for k, v in self.layers
        ]
        self.pads = [p - trim for p in self.pads]
        self.length -= trim

    def step(self, model: Any, device: str) -> Any:
        """One decode step for every row; returns the next-token logits, one row each."""
        import torch

        last = [s.generated[-1] for s in self.seqs]
        input_ids = torch.tensor([[t] for t in last], device=device)
        mask = torch.ones((len(self.seqs), self.length + 1), dtype=torch.long, device=device)
        for row, pad in enumerate(self.pads):
            mask[row, :pad] = 0
        positions = torch.tensor([[s.position] for s in self.seqs], device=device)
        cache = _to_cache(self.layers)
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        )
        self.layers = _to_layers(out.past_key_values)
        self.length += 1
        for s in self.seqs:
            s.position += 1
        return out.logits[:, -1]


class Scheduler:
    """Owns the model in one thread; ``submit`` from any thread."""

    def __init__(self, lm: LanguageModel, max_batch: int) -> None:
        self.lm = lm
        self.max_batch = max(1, max_batch)
        self._waiting: list[Sequence] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lm-scheduler", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # stop decoding before the interpreter tears torch down

    def submit(self, seq: Sequence) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError("the generation scheduler is closed")
            self._waiting.append(seq)
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def _prefill(self, seq: Sequence) -> list[tuple[Any, Any]] | None:
        import torch

        out = self.lm.model(
            input_ids=torch.tensor([seq.ids], device=self.lm.device), use_cache=True
        )
        if seq.push(out.logits[0, -1]):
            return None
        return _to_layers(out.past_key_values)

    def _run(self) -> None:
        import torch

        batch = _Batch()
        with torch.inference_mode():
            while True:
                with self._wake:
                    while not self._waiting and not batch.seqs and not self._closed:
                        self._wake.wait()
                    if self._closed:
                        return
                    room = self.max_batch - len(batch.seqs)
                    new, self._waiting = self._waiting[:room], self._waiting[room:]
                for seq in new:
                    if seq.cancelled():
                        seq.finish("cancelled")
                        continue
                    try:
                        layers = self._prefill(seq)
                    except Exception as exc:  # hand the failure to that request only
                        seq.out.put(exc)
                        continue
                    if layers is not None:
                        batch.add(seq, layers)
                if not batch.seqs:
                    continue
                try:
                    logits = batch.step(self.lm.model, self.lm.device)
                except Exception as exc:  # a failed step fails every running request
                    for seq in batch.seqs:
                        seq.out.put(exc)
                    batch = _Batch()
                    continue
                rows = []
                for row, seq in enumerate(batch.seqs):
                    if seq.cancelled():
                        seq.finish("cancelled")
                    elif not seq.push(logits[row]):
                        rows.append(row)
                batch.keep(rows)
