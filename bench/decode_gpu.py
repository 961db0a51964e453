#!/usr/bin/env python3
"""GPU decode benchmark for the SmolLM2-135M shape: ITL at c=1, total tokens/s at c=1, 8, 64.

A prototype benchmark informing issue 28 (a decode path that uses the GPU: a per-slot static
KV cache and CUDA-graph decode steps, on CUDA only; the CPU path stays as it is). The design
note it goes with is docs/gpu-decode.md. Its GPU paths (CUDA-graph capture and replay,
transformers' continuous batching with graphs or async batching, torch.compile through Triton)
have NOT yet run on a GPU: the script has only been checked on CPU, so no GPU figure exists yet.

Self-contained: torch and transformers only (tokenizers only with --tokenizer), no model files,
no network, nothing imported from the project. Builds a LlamaConfig of the SmolLM2-135M shape
(hidden 576, 30 layers, 9 heads, 3 KV heads, intermediate 1536, vocab 49152, tied embeddings)
with random weights (fp16 on CUDA, fp32 on CPU) and measures, side by side:

  hf-generate        plain ``model.generate`` (DynamicCache, eager), batch of c equal prompts
  ours-now           a replica of engines/batching.py's decode step (DynamicCache rebuilt every
                     step, left padding, per-row argmax().item(), prefill one request at a time)
  cb-*               transformers' continuous batching (generate_batch's manager):
                     cb-default (its own defaults), cb-graphs (use_cuda_graph=True, 5.x only),
                     cb-graphs-async (also use_async_batching=True, 5.x only)
  static-eager       prototype: per-slot static KV cache, own Llama decode step, no graphs
  static-graph       same step captured as CUDA graphs per (batch bucket, KV bucket)
  static-graph-sample  same with batched GPU sampling (temperature/top-k/top-p, per-slot seed)
  static-compile     same as static-graph with the pointwise parts torch.compile'd (optional)

ITL is the median interval between consecutive tokens of the single request at c=1; tok/s is
all generated tokens over the wall time from submitting c requests to the last token (prefill
included). Each row also reports how many leading greedy tokens match hf-generate's.

Every variant runs in try/except: an error is printed and the table says so. A time budget
(--budget, seconds) skips what would not fit. Prints a markdown table; --json writes the numbers.

GPU (one call on an H100; its image has torch 2.11 and transformers 5.17), from the repo root:
    python3 bench/decode_gpu.py --json OUT.json        (on the device machine: $OUT/decode.json)
CPU check (tiny config, few tokens):
    nice -n 10 .venv/bin/python bench/decode_gpu.py --device cpu --small
Optional realistic detokenisation cost: --tokenizer path/to/tokenizer.json (tokenizers'
DecodeStream); --variants a,b narrows the run.
"""

from __future__ import annotations

import argparse
import collections
import gc
import heapq
import itertools
import json
import math
import os
import platform
import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

T0 = time.perf_counter()

Result = dict[str, Any]
# Factories of per-request detokenisers: one fed a token at a time (DecodeStream), one fed the
# whole generated list every token (what engines/batching.py does).
StreamDetok = Callable[[], Callable[[int], object]]
FullDetok = Callable[[], Callable[[list[int]], object]]


def log(*a: object) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s]", *a, flush=True)


def now() -> float:
    return time.perf_counter()


def sync(dev: str) -> None:
    if dev == "cuda":
        torch.cuda.synchronize()


def median_ms(intervals: list[float]) -> float | None:
    return statistics.median(intervals) * 1e3 if intervals else None


def diffs(ts: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(ts)]


# --------------------------------------------------------------------------------------------
# Model


def build_model(args: argparse.Namespace) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    if args.small:
        shape = dict(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            vocab_size=1000,
        )
    else:
        shape = dict(
            hidden_size=576,
            num_hidden_layers=30,
            num_attention_heads=9,
            num_key_value_heads=3,
            intermediate_size=1536,
            vocab_size=49152,
        )
    cfg = LlamaConfig(
        **shape,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        rms_norm_eps=1e-5,
        hidden_act="silu",
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    dtype = torch.float16 if args.device == "cuda" else torch.float32
    model = model.to(device=args.device, dtype=dtype).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    gc_ = model.generation_config
    gc_.eos_token_id = None
    gc_.pad_token_id = 0
    gc_.do_sample = False
    for k in ("temperature", "top_p", "top_k"):
        if hasattr(gc_, k):
            setattr(gc_, k, None)
    return model


# --------------------------------------------------------------------------------------------
# (a) plain HF generate


def run_hf_generate(
    model: Any, prompts: list[list[int]], n_new: int, conc: int, dev: str, **_: Any
) -> Result:
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):  # type: ignore[misc]  # transformers is not type-checked here
        def __init__(self) -> None:
            self.t: list[float] = []

        def put(self, value: Any) -> None:
            self.t.append(now())

        def end(self) -> None:
            pass

    ids = torch.tensor(prompts[:conc], device=dev)
    clock = Clock() if conc == 1 else None
    sync(dev)
    t0 = now()
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n_new,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
            streamer=clock,
        )
    sync(dev)
    wall = now() - t0
    gen = out[:, ids.shape[1] :]
    res: Result = dict(tokens=int(gen.numel()), wall=wall, first=gen[0].tolist())
    if clock is not None and len(clock.t) > 2:
        res["itl"] = median_ms(diffs(clock.t[1:]))
        res["ttft"] = (clock.t[1] - t0) * 1e3
    return res


# --------------------------------------------------------------------------------------------
# (a2) replica of engines/batching.py (the current design)

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values)


class _ReplicaBatch:
    """Same operations per step as engines/batching.py: _Batch.add/keep/step."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.layers: KV = []
        self.pads: list[int] = []
        self.length = 0

    @staticmethod
    def _left_pad(layers: KV, n: int) -> KV:
        return (
            [(F.pad(k, (0, 0, n, 0)), F.pad(v, (0, 0, n, 0))) for k, v in layers] if n else layers
        )

    def add(self, row: dict[str, Any], layers: KV) -> None:
        n = int(layers[0][0].shape[2])
        if not self.rows:
            self.rows, self.layers, self.pads, self.length = [row], layers, [0], n
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
        self.rows.append(row)
        self.pads.append(self.length - n)

    def keep(self, keep: list[int]) -> None:
        if len(keep) == len(self.rows):
            return
        self.rows = [self.rows[i] for i in keep]
        self.pads = [self.pads[i] for i in keep]
        if not keep:
            self.layers, self.length = [], 0
            return
        index = torch.tensor(keep, device=self.layers[0][0].device)
        trim = min(self.pads)
        self.layers = [
            (k.index_select(0, index)[:, :, trim:], v.index_select(0, index)[:, :, trim:])
            for k, v in self.layers
        ]
        self.pads = [p - trim for p in self.pads]
        self.length -= trim

    def step(self, model: Any, dev: str) -> torch.Tensor:
        from transformers import DynamicCache

        input_ids = torch.tensor([[r["generated"][-1]] for r in self.rows], device=dev)
        mask = torch.ones((len(self.rows), self.length + 1), dtype=torch.long, device=dev)
        for row, pad in enumerate(self.pads):
            mask[row, :pad] = 0
        positions = torch.tensor([[r["position"]] for r in self.rows], device=dev)
        cache = DynamicCache()
        for i, (k, v) in enumerate(self.layers):
            cache.update(k, v, i)
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        )
        self.layers = [(lyr.keys, lyr.values) for lyr in out.past_key_values.layers]
        self.length += 1
        for r in self.rows:
            r["position"] += 1
        return out.logits[:, -1]


def run_replica(
    model: Any,
    prompts: list[list[int]],
    n_new: int,
    conc: int,
    dev: str,
    detok: FullDetok | None = None,
    **_: Any,
) -> Result:
    rows: list[dict[str, Any]] = [
        dict(ids=p, generated=[], position=len(p), times=[], ds=detok() if detok else None)
        for p in prompts[:conc]
    ]
    batch = _ReplicaBatch()
    sync(dev)
    t0 = now()

    def push(r: dict[str, Any], logits: torch.Tensor) -> bool:
        r["generated"].append(int(torch.argmax(logits).item()))
        r["times"].append(now())
        if r["ds"] is not None:
            r["ds"](r["generated"])  # the engine re-decodes the whole text every token
        return len(r["generated"]) >= n_new

    with torch.no_grad():
        for r in rows:  # prefill one at a time, as the engine does
            out = model(input_ids=torch.tensor([r["ids"]], device=dev), use_cache=True)
            if not push(r, out.logits[0, -1]):
                batch.add(r, [(lyr.keys, lyr.values) for lyr in out.past_key_values.layers])
        while batch.rows:
            logits = batch.step(model, dev)
            batch.keep([i for i, r in enumerate(batch.rows) if not push(r, logits[i])])
    wall = now() - t0
    res: Result = dict(
        tokens=sum(len(r["generated"]) for r in rows), wall=wall, first=rows[0]["generated"]
    )
    if conc == 1:
        res["itl"] = median_ms(diffs(rows[0]["times"]))
        res["ttft"] = (rows[0]["times"][0] - t0) * 1e3
    return res


# --------------------------------------------------------------------------------------------
# (b) transformers' continuous batching


def _cpu_memory(p: float = 1.0) -> int:
    """Stand-in for 4.57's PagedAttentionMemoryHandler.get_available_memory on CPU: 4 GiB."""
    return 4 << 30


class CBRunner:
    """One manager per configuration, reused across concurrencies (as a server would)."""

    def __init__(
        self,
        model: Any,
        prompts: list[list[int]],
        n_new: int,
        max_conc: int,
        dev: str,
        mode: str,
    ) -> None:
        import transformers
        from transformers import GenerationConfig

        self.model, self.dev, self.mode = model, dev, mode
        self.v5 = hasattr(transformers, "ContinuousBatchingConfig")
        self.orig_attn = model.config._attn_implementation
        plen = max(len(p) for p in prompts)
        block = 32 if dev == "cpu" else 256
        per_req = math.ceil((plen + n_new + 2) / block) + 1
        num_blocks = per_req * max_conc + 4
        max_batch_tokens = 256 if dev == "cpu" else 1024
        self.notes: list[str] = []
        self.mgr: Any
        if self.v5:
            from transformers import ContinuousBatchingConfig

            kw: dict[str, Any] = dict(
                block_size=block,
                num_blocks=num_blocks,
                max_batch_tokens=max_batch_tokens,
                max_requests_per_batch=max_conc,
                allow_block_sharing=False,
            )
            if mode in ("graphs", "graphs-async"):
                kw["use_cuda_graph"] = True
            if mode == "graphs-async":
                kw["use_async_batching"] = True
            cbc = ContinuousBatchingConfig(**kw)
            gen = GenerationConfig(max_new_tokens=n_new, do_sample=False, eos_token_id=-1)
            self.mgr = model.init_continuous_batching(
                generation_config=gen, continuous_batching_config=cbc
            )
            cfg = self.mgr.continuous_batching_config
            self.notes.append(
                f"attn={model.config._attn_implementation} graphs={cfg.use_cuda_graph} "
                f"async={cfg.use_async_batching} decode_fast_path={cfg.max_blocks_per_request > 0}"
            )
            t = now()
            self.mgr.warmup()
            self.notes.append(f"warmup {now() - t:.1f}s")
        else:
            if mode != "default":
                raise RuntimeError(
                    "transformers 4.x: use_cuda_graph raises NotImplementedError in CB"
                )
            from transformers.generation.continuous_batching import cache as cb_cache

            if dev == "cpu":  # 4.57 sizes the cache from CUDA memory only (total=None on CPU)
                cb_cache.PagedAttentionMemoryHandler.get_available_memory = staticmethod(
                    _cpu_memory
                )
                self.notes.append("4.x on CPU: patched get_available_memory")
            model.config._attn_implementation = "sdpa_paged"
            gen = GenerationConfig(
                max_new_tokens=n_new,
                do_sample=False,
                eos_token_id=-1,
                num_blocks=num_blocks,
                block_size=block,
                max_batch_tokens=max_batch_tokens,
                scheduler="fifo",
            )
            self.mgr = model.init_continuous_batching(generation_config=gen, streaming=True)
            self.notes.append("attn=sdpa_paged streaming(all requests)")
        self.mgr.start()
        self.round = 0

    def run(self, prompts: list[list[int]], n_new: int, conc: int, **_: Any) -> Result:
        self.round += 1
        sync(self.dev)
        t0 = now()
        ids = []
        for i in range(conc):
            rid = f"r{self.round}_{i}"
            if self.v5:
                self.mgr.add_request(
                    prompts[i], request_id=rid, max_new_tokens=n_new, record_timestamps=True
                )
            else:
                self.mgr.add_request(prompts[i], request_id=rid, max_new_tokens=n_new)
            ids.append(rid)
        done: dict[str, Any] = {}
        arrivals: collections.defaultdict[str, list[float]] = collections.defaultdict(list)
        deadline = t0 + 120
        while len(done) < conc:
            if now() > deadline:
                raise TimeoutError(f"continuous batching: {len(done)}/{conc} finished after 120 s")
            r = self.mgr.get_result(timeout=0.5)
            if r is None:
                if not self.mgr.is_running():
                    raise RuntimeError("continuous batching thread died (see log above)")
                continue
            arrivals[r.request_id].append(now())
            finished = (
                r.is_finished()
                if hasattr(r, "is_finished")
                else r.status.name in ("FINISHED", "FAILED")
            )
            if finished:
                if getattr(r, "error", None):
                    raise RuntimeError(f"request failed: {r.error}")
                done[r.request_id] = r
        wall = now() - t0
        first = done[ids[0]]
        res: Result = dict(
            tokens=sum(len(r.generated_tokens) for r in done.values()),
            wall=wall,
            first=list(first.generated_tokens),
        )
        if conc == 1:
            ts = getattr(first, "timestamps", None) or arrivals[ids[0]]
            res["itl"] = median_ms(diffs(ts))
            res["ttft"] = (ts[0] - t0) * 1e3
        return res

    def close(self) -> None:
        try:
            self.mgr.stop(block=True, timeout=10)
        except Exception as exc:
            log("cb stop:", exc)
        if hasattr(self.mgr, "destroy"):
            try:
                self.mgr.destroy()
            except Exception as exc:
                log("cb destroy:", exc)
        if self.model.config._attn_implementation != self.orig_attn:
            if hasattr(self.model, "set_attn_implementation"):
                try:
                    self.model.set_attn_implementation(self.orig_attn)
                except Exception:
                    self.model.config._attn_implementation = self.orig_attn
            else:
                self.model.config._attn_implementation = self.orig_attn
        self.mgr = None


# --------------------------------------------------------------------------------------------
# (c) static per-slot KV cache + CUDA-graph decode step (prototype)

_M1 = 0x9E3779B97F4A7C15 - (1 << 64)
_M2 = 0xBF58476D1CE4E5B9 - (1 << 64)
_M3 = 0x94D049BB133111EB - (1 << 64)


def _mix64(x: torch.Tensor) -> torch.Tensor:
    """splitmix64 finaliser on int64 (wrapping multiply; logical shifts emulated with masks)."""
    x = x ^ ((x >> 30) & ((1 << 34) - 1))
    x = x * _M2
    x = x ^ ((x >> 27) & ((1 << 37) - 1))
    x = x * _M3
    return x ^ ((x >> 31) & ((1 << 33) - 1))


def pow2_buckets(lo: int, hi: int) -> list[int]:
    out, b = [], lo
    while b < hi:
        out.append(b)
        b *= 2
    out.append(hi)
    return sorted(set(out))


class StaticLlama:
    """Llama decode with a static cache: K/V [layers, slots, kv_heads, max_len, head_dim].

    Slot s holds one sequence from position 0, so there is no left padding and no concatenation:
    a step writes K/V at (slot, pos[slot]) and attends over [:L] with the mask kpos <= pos[slot].
    The decode step reads its inputs from fixed device buffers (tok, pos) and writes its outputs
    back into them, so it can be captured as a CUDA graph per (batch bucket b, KV bucket L); the
    host only picks the graph, replays it and reads b token ids.
    """

    def __init__(
        self,
        model: Any,
        max_slots: int,
        max_len: int,
        kv_buckets: list[int],
        graphs: bool,
        compile_mode: str | None = None,
        fused_norm: bool = True,
    ) -> None:
        cfg = model.config
        assert cfg.hidden_act == "silu"
        self.dev = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.H: int = cfg.hidden_size
        self.Hq: int = cfg.num_attention_heads
        self.Hkv: int = cfg.num_key_value_heads
        self.D: int = getattr(cfg, "head_dim", None) or self.H // self.Hq
        self.rep = self.Hq // self.Hkv
        self.eps: float = cfg.rms_norm_eps
        self.S, self.Lmax = max_slots, max_len
        self.fused_norm = fused_norm and hasattr(F, "rms_norm")
        m = model.model
        self.embed = m.embed_tokens.weight.detach()
        # Per layer: input norm, fused qkv weight, qkv bias (or None), o-proj, post-attention
        # norm, fused gate/up weight, down-proj.
        self.layers: list[tuple[Any, ...]] = []
        for lyr in m.layers:
            a = lyr.self_attn
            qkv_w = (
                torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight], 0)
                .detach()
                .contiguous()
            )
            qkv_b = None
            if a.q_proj.bias is not None:
                qkv_b = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias], 0).detach()
            gu_w = (
                torch.cat([lyr.mlp.gate_proj.weight, lyr.mlp.up_proj.weight], 0)
                .detach()
                .contiguous()
            )
            self.layers.append(
                (
                    lyr.input_layernorm.weight.detach(),
                    qkv_w,
                    qkv_b,
                    a.o_proj.weight.detach(),
                    lyr.post_attention_layernorm.weight.detach(),
                    gu_w,
                    lyr.mlp.down_proj.weight.detach(),
                )
            )
        self.norm_w = m.norm.weight.detach()
        self.lm_head = model.lm_head.weight.detach()
        rot = m.rotary_emb
        inv_freq = rot.inv_freq.to(self.dev, torch.float32)
        scale = float(getattr(rot, "attention_scaling", 1.0))
        t = torch.arange(max_len, device=self.dev, dtype=torch.float32)
        emb = torch.cat([torch.outer(t, inv_freq)] * 2, -1)
        self.cos = (emb.cos() * scale).to(self.dtype)
        self.sin = (emb.sin() * scale).to(self.dtype)
        nl = len(self.layers)
        self.k = torch.zeros(
            nl, max_slots, self.Hkv, max_len, self.D, dtype=self.dtype, device=self.dev
        )
        self.v = torch.zeros_like(self.k)
        i64: dict[str, Any] = dict(dtype=torch.long, device=self.dev)
        self.tok = torch.zeros(max_slots, **i64)
        self.pos = torch.zeros(max_slots, **i64)
        self.out = torch.zeros(max_slots, **i64)
        self.rows = torch.arange(max_slots, **i64)
        self.kpos = torch.arange(max_len, **i64)
        self.vrank = torch.arange(cfg.vocab_size, **i64)
        self.temp = torch.zeros(max_slots, dtype=torch.float32, device=self.dev)
        self.topk = torch.zeros(max_slots, **i64)
        self.topp = torch.ones(max_slots, dtype=torch.float32, device=self.dev)
        self.seed = torch.zeros(max_slots, **i64)
        self.batch_buckets = pow2_buckets(1, max_slots)
        self.kv_buckets = sorted(b for b in kv_buckets if b <= max_len) or [max_len]
        self.graphs: dict[tuple[int, int, bool], Any] = {}
        self.use_graphs = graphs and self.dev.type == "cuda"
        self.pool = torch.cuda.graph_pool_handle() if self.use_graphs else None
        self._pre: Callable[..., Any] = self._pre_eager
        self._post: Callable[..., Any] = self._post_eager
        if compile_mode:
            self._pre = torch.compile(
                self._pre_eager, mode=compile_mode, dynamic=None, fullgraph=True
            )
            self._post = torch.compile(
                self._post_eager, mode=compile_mode, dynamic=None, fullgraph=True
            )
        self._last_prefill_logits: torch.Tensor | None = None

    # ---- building blocks
    def _norm(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.fused_norm:
            return F.rms_norm(x, (x.shape[-1],), w, self.eps)
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * xf.to(x.dtype)

    def _pre_eager(
        self,
        x: torch.Tensor,
        nw: torch.Tensor,
        qkv_w: torch.Tensor,
        qkv_b: torch.Tensor | None,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """norm -> fused qkv projection -> rotary on q and k together. x [B,T,H]."""
        h = self._norm(x, nw)
        qkv = F.linear(h, qkv_w, qkv_b)
        B, T, _ = qkv.shape
        qkv = qkv.view(B, T, self.Hq + 2 * self.Hkv, self.D)
        qk = qkv[:, :, : self.Hq + self.Hkv]
        half = self.D // 2
        rot = torch.cat((-qk[..., half:], qk[..., :half]), -1)
        qk = qk * cos + rot * sin
        return qk[:, :, : self.Hq], qk[:, :, self.Hq :], qkv[:, :, self.Hq + self.Hkv :]

    def _post_eager(
        self,
        x: torch.Tensor,
        o: torch.Tensor,
        o_w: torch.Tensor,
        n2w: torch.Tensor,
        gu_w: torch.Tensor,
        dn_w: torch.Tensor,
    ) -> torch.Tensor:
        """o projection + residual -> norm -> SwiGLU MLP + residual."""
        x = x + F.linear(o, o_w)
        gu = F.linear(self._norm(x, n2w), gu_w)
        g, u = gu.chunk(2, -1)
        return x + F.linear(F.silu(g) * u, dn_w)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self._norm(h, self.norm_w), self.lm_head)

    # ---- sampling on the GPU, one batched chain for all rows (graph-capturable)
    def _sample(
        self,
        logits: torch.Tensor,
        temp: torch.Tensor,
        topk: torch.Tensor,
        topp: torch.Tensor,
        seed: torch.Tensor,
        pos: torch.Tensor,
    ) -> torch.Tensor:
        V = logits.shape[-1]
        greedy = temp <= 0
        lf = logits.float() / torch.where(greedy, torch.ones_like(temp), temp)[:, None]
        sl, si = torch.sort(lf, dim=-1, descending=True)
        ranks = self.vrank[:V]
        keep = ranks[None, :] < torch.where(topk > 0, topk, torch.full_like(topk, V))[:, None]
        sl = sl.masked_fill(~keep, float("-inf"))
        p = torch.softmax(sl, -1)
        keep = keep & (((p.cumsum(-1) - p) <= topp[:, None]) | (topp[:, None] >= 1.0))
        sl = sl.masked_fill(~keep, float("-inf"))
        # Gumbel-max with counter-based noise: reproducible per (seed, position), independent
        # of the batch.
        base = _mix64(seed * _M1 + pos)
        x = _mix64(base[:, None] + ranks[None, :] * _M1)
        u = (((x >> 40) & 0xFFFFFF).float() + 0.5) * (1.0 / 16777216.0)
        choice = (sl - torch.log(-torch.log(u))).argmax(-1, keepdim=True)
        return torch.where(greedy, si[:, 0], si.gather(1, choice)[:, 0])

    # ---- decode step over slots [0, b), KV bucket L
    def _decode(self, b: int, L: int, sample: bool) -> None:
        tok, pos = self.tok[:b], self.pos[:b]
        x = F.embedding(tok, self.embed)[:, None]  # [b,1,H]
        cos = self.cos[pos][:, None, None, :]
        sin = self.sin[pos][:, None, None, :]
        mask = torch.zeros(b, L, dtype=self.dtype, device=self.dev)
        mask = mask.masked_fill_(self.kpos[:L][None, :] > pos[:, None], float("-inf"))
        mask = mask[:, None, None, :]
        rows = self.rows[:b]
        for li, (nw, qkv_w, qkv_b, o_w, n2w, gu_w, dn_w) in enumerate(self.layers):
            q, k, v = self._pre(x, nw, qkv_w, qkv_b, cos, sin)
            kc, vc = self.k[li], self.v[li]
            kc[rows, :, pos] = k[:, 0]
            vc[rows, :, pos] = v[:, 0]
            # GQA: query heads grouped per KV head
            qg = q[:, 0].reshape(b, self.Hkv, self.rep, self.D)
            o = F.scaled_dot_product_attention(qg, kc[:b, :, :L], vc[:b, :, :L], attn_mask=mask)
            x = self._post(x, o.reshape(b, 1, self.Hq * self.D), o_w, n2w, gu_w, dn_w)
        logits = self._logits(x[:, 0])
        if sample:
            nxt = self._sample(
                logits, self.temp[:b], self.topk[:b], self.topp[:b], self.seed[:b], pos
            )
        else:
            nxt = logits.argmax(-1)
        self.out[:b].copy_(nxt)
        self.tok[:b].copy_(nxt)
        self.pos[:b].copy_((pos + 1).clamp_(max=self.Lmax - 1))

    def capture_all(self, samples: tuple[bool, ...] = (False,)) -> float:
        """Capture every (b, L, sample) graph up front, before any request (state is scratch)."""
        t = now()
        for sample in samples:
            for L in self.kv_buckets:
                for b in self.batch_buckets:
                    self._capture(b, L, sample)
        self.tok.zero_()
        self.pos.zero_()
        return now() - t

    def _capture(self, b: int, L: int, sample: bool) -> None:
        key = (b, L, sample)
        if not self.use_graphs:
            self._decode(b, L, sample)  # still warms torch.compile when used without graphs
            return
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                self.tok.zero_()
                self.pos.zero_()
                self._decode(b, L, sample)
        torch.cuda.current_stream().wait_stream(s)
        self.tok.zero_()
        self.pos.zero_()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self.pool):
            self._decode(b, L, sample)
        self.graphs[key] = g

    def bucket(self, need_b: int, need_l: int) -> tuple[int, int]:
        b = next(x for x in self.batch_buckets if x >= need_b)
        L = next((x for x in self.kv_buckets if x >= need_l), None)
        if L is None:
            raise ValueError(f"sequence longer than the static cache ({need_l} > {self.Lmax})")
        return b, L

    def step(self, b: int, L: int, sample: bool) -> list[int]:
        g = self.graphs.get((b, L, sample))
        if g is not None:
            g.replay()
        else:
            self._decode(b, L, sample)
        toks: list[int] = self.out[:b].tolist()
        return toks

    # ---- prefill (eager): n requests in one forward, right-padded, each into its own slot
    def prefill(
        self, slots: list[int], prompts: list[list[int]], params: list[dict[str, Any]]
    ) -> list[int]:
        n, T = len(prompts), max(len(p) for p in prompts)
        ids = torch.tensor([p + [0] * (T - len(p)) for p in prompts], device=self.dev)
        lens = torch.tensor([len(p) for p in prompts], device=self.dev)
        sl = torch.tensor(slots, device=self.dev)
        pos = torch.arange(T, device=self.dev)[None, :].expand(n, T)
        x = F.embedding(ids, self.embed)
        cos, sin = self.cos[pos][:, :, None, :], self.sin[pos][:, :, None, :]
        causal = torch.zeros(T, T, dtype=self.dtype, device=self.dev)
        causal.masked_fill_(self.kpos[:T][None, :] > self.kpos[:T][:, None], float("-inf"))
        maskg = causal[None, None, None].expand(1, 1, self.rep, T, T).reshape(1, 1, self.rep * T, T)
        for li, (nw, qkv_w, qkv_b, o_w, n2w, gu_w, dn_w) in enumerate(self.layers):
            q, k, v = self._pre_eager(x, nw, qkv_w, qkv_b, cos, sin)
            # pads write positions >= len: overwritten before visible
            self.k[li][sl[:, None], :, pos] = k
            self.v[li][sl[:, None], :, pos] = v
            qg = q.transpose(1, 2).reshape(n, self.Hkv, self.rep * T, self.D)
            o = F.scaled_dot_product_attention(
                qg, k.transpose(1, 2), v.transpose(1, 2), attn_mask=maskg
            )
            o = o.reshape(n, self.Hq, T, self.D).transpose(1, 2).reshape(n, T, self.Hq * self.D)
            x = self._post_eager(x, o, o_w, n2w, gu_w, dn_w)
        last = x[torch.arange(n, device=self.dev), lens - 1]
        logits = self._logits(last)
        self.temp[sl] = torch.tensor(
            [p.get("temperature", 0.0) for p in params], dtype=torch.float32, device=self.dev
        )
        self.topk[sl] = torch.tensor([p.get("top_k", 0) for p in params], device=self.dev)
        self.topp[sl] = torch.tensor(
            [p.get("top_p", 1.0) for p in params], dtype=torch.float32, device=self.dev
        )
        self.seed[sl] = torch.tensor([p.get("seed", 0) for p in params], device=self.dev)
        if any(p.get("temperature", 0.0) > 0 for p in params):
            first = self._sample(
                logits, self.temp[sl], self.topk[sl], self.topp[sl], self.seed[sl], lens - 1
            )
        else:
            first = logits.argmax(-1)
        self.tok[sl] = first
        self.pos[sl] = lens
        self._last_prefill_logits = logits
        toks: list[int] = first.tolist()
        return toks


class ProtoEngine:
    """Continuous batching over StaticLlama slots: admit waiting requests into free slots
    (batched prefill) between decode steps; each step is one graph replay + one b-int readback."""

    def __init__(self, dec: StaticLlama, max_prefill_tokens: int = 8192) -> None:
        self.dec = dec
        self.max_prefill_tokens = max_prefill_tokens

    def run(
        self,
        prompts: list[list[int]],
        n_new: int,
        params: list[dict[str, Any]],
        detok: StreamDetok | None = None,
    ) -> tuple[list[dict[str, Any]], float]:
        dec = self.dec
        waiting = collections.deque(range(len(prompts)))
        free = list(range(dec.S))
        heapq.heapify(free)
        active: dict[int, dict[str, Any]] = {}
        reqs: list[dict[str, Any]] = [
            dict(tokens=[], times=[], ds=detok() if detok else None) for _ in prompts
        ]
        t0 = now()
        while waiting or active:
            if waiting and free:
                take: list[tuple[int, int]] = []
                budget = self.max_prefill_tokens
                while waiting and free and (not take or budget >= len(prompts[waiting[0]])):
                    r = waiting.popleft()
                    budget -= len(prompts[r])
                    take.append((heapq.heappop(free), r))
                firsts = dec.prefill(
                    [s for s, _ in take],
                    [prompts[r] for _, r in take],
                    [params[r] for _, r in take],
                )
                t = now()
                for (slot, r), tok in zip(take, firsts, strict=True):
                    st = reqs[r]
                    st.update(
                        slot=slot, pos=len(prompts[r]), sample=params[r].get("temperature", 0.0) > 0
                    )
                    st["tokens"].append(tok)
                    st["times"].append(t)
                    if st["ds"] is not None:
                        st["ds"](tok)
                    if len(st["tokens"]) >= n_new:
                        heapq.heappush(free, slot)
                    else:
                        active[slot] = st
                continue  # admit as many as fit before the next step
            b, L = dec.bucket(max(active) + 1, max(st["pos"] for st in active.values()) + 1)
            toks = dec.step(b, L, any(st["sample"] for st in active.values()))
            t = now()
            for slot in list(active):
                st = active[slot]
                tok = toks[slot]
                st["tokens"].append(tok)
                st["times"].append(t)
                st["pos"] += 1
                if st["ds"] is not None:
                    st["ds"](tok)
                if len(st["tokens"]) >= n_new:
                    del active[slot]
                    heapq.heappush(free, slot)
        return reqs, now() - t0


def run_static(
    engine: ProtoEngine,
    prompts: list[list[int]],
    n_new: int,
    conc: int,
    dev: str,
    sample: bool = False,
    detok: StreamDetok | None = None,
    **_: Any,
) -> Result:
    params: list[dict[str, Any]]
    if sample:
        params = [dict(temperature=0.7, top_p=0.9, top_k=50, seed=1000 + i) for i in range(conc)]
    else:
        params = [{} for _ in range(conc)]
    sync(dev)
    reqs, wall = engine.run(prompts[:conc], n_new, params, detok=detok)
    res: Result = dict(
        tokens=sum(len(r["tokens"]) for r in reqs), wall=wall, first=reqs[0]["tokens"]
    )
    if conc == 1:
        res["itl"] = median_ms(diffs(reqs[0]["times"]))
    return res


# --------------------------------------------------------------------------------------------


def check_static_against_hf(model: Any, dec: StaticLlama, prompt: list[int]) -> str:
    """Logits of the prototype's prefill against HF's forward (same weights)."""
    with torch.no_grad():
        ref = model(input_ids=torch.tensor([prompt], device=dec.dev)).logits[0, -1].float()
        dec.prefill([0], [prompt], [{}])
        assert dec._last_prefill_logits is not None
        got = dec._last_prefill_logits[0].float()
        dec.tok.zero_()
        dec.pos.zero_()
    diff = (ref - got).abs().max().item()
    argmax = "equal" if ref.argmax() == got.argmax() else "differs"
    return f"prefill logits max|diff| vs HF forward = {diff:.2e} (argmax {argmax})"


def make_detok(path: str | None) -> tuple[StreamDetok | None, FullDetok | None]:
    if not path:
        return None, None
    from tokenizers import Tokenizer  # type: ignore[import-untyped]
    from tokenizers.decoders import DecodeStream  # type: ignore[import-untyped]

    tk = Tokenizer.from_file(path)

    def stream() -> Callable[[int], object]:
        ds = DecodeStream(skip_special_tokens=True)
        return lambda tok: ds.step(tk, tok)

    def full() -> Callable[[list[int]], object]:
        # what engines/batching.py does per token: decode the whole generated list
        return lambda ids: tk.decode(ids, skip_special_tokens=True)

    return stream, full


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--small", action="store_true", help="tiny config, few tokens (CPU check)")
    ap.add_argument("--prompt-len", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--conc", type=int, nargs="+", default=None)
    ap.add_argument(
        "--variants",
        default="all",
        help="comma list of: static-graph,hf-generate,cb-default,cb-graphs,ours-now,static-eager,"
        "static-graph-sample,static-compile,cb-graphs-async",
    )
    ap.add_argument(
        "--budget", type=float, default=240.0, help="seconds; later cells are skipped past it"
    )
    ap.add_argument(
        "--slow-new-tokens",
        type=int,
        default=None,
        help="new tokens/request for the host-bound eager variants (hf-generate, ours-now, "
        "cb-default); default 64 on the full shape, same as --new-tokens with --small",
    )
    ap.add_argument("--compile-mode", default="default")
    ap.add_argument(
        "--tokenizer", default=None, help="tokenizer.json: add real detokenisation to the loops"
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev: str = args.device
    plen: int
    n_new: int
    concs: list[int]
    if args.small:
        plen, n_new, concs = args.prompt_len or 16, args.new_tokens or 12, args.conc or [1, 2, 4]
        max_len, kv_lo = 64, 32
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    else:
        plen, n_new, concs = args.prompt_len or 128, args.new_tokens or 128, args.conc or [1, 8, 64]
        max_len = 1 << math.ceil(math.log2(plen + n_new + 1))
        max_len = max(max_len, 512)
        kv_lo = 256
    order = [
        "static-graph",
        "hf-generate",
        "cb-default",
        "cb-graphs",
        "ours-now",
        "static-eager",
        "static-graph-sample",
        "static-compile",
        "cb-graphs-async",
    ]
    chosen = (
        order if args.variants == "all" else [v for v in order if v in args.variants.split(",")]
    )
    import transformers

    device_name = torch.cuda.get_device_name() if dev == "cuda" else platform.processor() or "cpu"
    env = (
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"python {platform.python_version()}, device {device_name}"
    )
    log(env)
    log(
        f"shape {'small' if args.small else 'SmolLM2-135M'}; prompt {plen} tokens, "
        f"{n_new} new tokens, concurrency {concs}, budget {args.budget:.0f}s"
    )
    model = build_model(args)
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    log(f"model built: {n_params:.1f}M params, {next(model.parameters()).dtype}")
    g = torch.Generator().manual_seed(1)
    vocab = model.config.vocab_size
    prompts: list[list[int]] = [
        torch.randint(10, vocab, (plen,), generator=g).tolist() for _ in range(max(concs))
    ]
    stream_detok, full_detok = make_detok(args.tokenizer)

    results: dict[str, dict[int, Result]] = {v: {} for v in chosen}
    notes: dict[str, list[str]] = {v: [] for v in chosen}
    deadline = T0 + args.budget

    slow_new = args.slow_new_tokens or (n_new if args.small else min(n_new, 64))
    slow = {"hf-generate", "ours-now", "cb-default"}
    tokens_per_req = {v: (slow_new if v in slow else n_new) for v in chosen}

    def cell(
        variant: str, conc: int, fn: Callable[..., Result], repeats: int = 2, **kw: Any
    ) -> None:
        if now() > deadline:
            results[variant][conc] = {"skipped": "budget"}
            return
        n = tokens_per_req[variant]
        try:
            res: Result = {}
            for i in range(repeats):
                res = fn(
                    prompts=prompts,
                    n_new=n if i == repeats - 1 else min(n, 8),
                    conc=conc,
                    dev=dev,
                    **kw,
                )
                if now() > deadline and i < repeats - 1:
                    break
            res["tok_s"] = res["tokens"] / res["wall"]
            results[variant][conc] = res
            log(
                f"{variant:20s} c={conc:3d}: {res['tok_s']:9.1f} tok/s"
                + (f", ITL {res['itl']:.2f} ms" if res.get("itl") else "")
            )
        except Exception as exc:
            traceback.print_exc()
            results[variant][conc] = {"error": f"{type(exc).__name__}: {exc}"[:160]}
            log(f"{variant} c={conc} FAILED: {exc}")

    for variant in chosen:
        if now() > deadline:
            for c in concs:
                results[variant][c] = {"skipped": "budget"}
            continue
        log(f"--- {variant}")
        try:
            with torch.no_grad():
                if variant == "hf-generate":
                    for c in concs:
                        cell(variant, c, run_hf_generate, model=model)
                elif variant == "ours-now":
                    for c in concs:
                        cell(variant, c, run_replica, repeats=1, model=model, detok=full_detok)
                elif variant.startswith("cb-"):
                    mode = variant[3:]
                    t = now()
                    runner = CBRunner(
                        model, prompts, tokens_per_req[variant], max(concs), dev, mode
                    )
                    notes[variant] += [*runner.notes, f"setup {now() - t:.1f}s"]
                    try:
                        for c in concs:
                            cell(variant, c, runner.run)
                    finally:
                        runner.close()
                        del runner
                else:
                    graphs = variant != "static-eager"
                    sample = variant == "static-graph-sample"
                    compile_mode = args.compile_mode if variant == "static-compile" else None
                    if compile_mode and now() > deadline - 60:
                        raise RuntimeError("skipped: less than 60 s of budget left for compiling")
                    t = now()
                    dec = StaticLlama(
                        model,
                        max(concs),
                        max_len,
                        pow2_buckets(kv_lo, max_len),
                        graphs,
                        compile_mode=compile_mode,
                        fused_norm=True,
                    )
                    if variant == "static-graph":
                        notes[variant].append(check_static_against_hf(model, dec, prompts[0]))
                    cap = dec.capture_all(samples=(True,) if sample else (False,))
                    kvmb = 2 * dec.k.numel() * dec.k.element_size() / 2**20
                    notes[variant].append(
                        f"setup {now() - t:.1f}s ({len(dec.graphs)} graphs, "
                        f"capture/compile {cap:.1f}s), "
                        f"KV {kvmb:.1f} MiB for {dec.S} slots x {dec.Lmax}"
                    )
                    if sample:
                        notes[variant].append(
                            "temperature 0.7, top_k 50, top_p 0.9, per-request seed"
                        )
                    eng = ProtoEngine(dec)
                    for c in concs:
                        cell(variant, c, run_static, engine=eng, sample=sample, detok=stream_detok)
                    del eng, dec
        except Exception as exc:
            traceback.print_exc()
            notes[variant].append(f"ERROR {type(exc).__name__}: {str(exc)[:200]}")
            for c in concs:
                results[variant].setdefault(c, {"error": type(exc).__name__})
        gc.collect()
        if dev == "cuda":
            torch.cuda.empty_cache()

    # ---- report
    ref = results.get("hf-generate", {}).get(concs[0], {}).get("first")
    dtype_name = str(next(model.parameters()).dtype)[6:]
    print()
    print(f"## decode_gpu: {env}")
    print(
        f"shape {'small' if args.small else 'SmolLM2-135M'} (random {dtype_name} weights), "
        f"prompt {plen} tokens, greedy unless noted, "
        f"{'with' if args.tokenizer else 'without'} detokenisation; "
        "tok/s = all generated tokens / wall time from submitting c requests to the last token "
        "(prefill included)"
    )
    print()
    head = (
        "| variant | tokens/req | ITL c=1 (ms) | "
        + " | ".join(f"tok/s c={c}" for c in concs)
        + " | greedy match vs hf-generate | notes |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))

    def fmt(r: Result | None) -> str:
        if not r:
            return "-"
        if "error" in r:
            return f"error ({r['error'][:60]})"
        if "skipped" in r:
            return f"skipped ({r['skipped']})"
        return f"{r['tok_s']:.0f}"

    for v in chosen:
        r1 = results[v].get(concs[0], {})
        itl = f"{r1['itl']:.2f}" if r1.get("itl") else "-"
        match = "-"
        if ref and r1.get("first") and v != "static-graph-sample":
            a, b = ref, r1["first"]
            pairs = enumerate(zip(a, b, strict=False))
            k = next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
            match = f"{k}/{min(len(a), len(b))}"
        print(
            f"| {v} | {tokens_per_req[v]} | {itl} | "
            + " | ".join(fmt(results[v].get(c)) for c in concs)
            + f" | {match} | {'; '.join(notes[v])} |"
        )
    print()
    print(
        "ITL = median interval between consecutive tokens of the single request at c=1. "
        "Greedy match: leading tokens equal to hf-generate's for prompt 0 (random fp16 weights "
        "make near-ties common, so a divergence after some tokens is numerics, not a bug, "
        "unless it is at token 0)."
    )
    if args.json:
        with Path(args.json).open("w") as f:
            json.dump(
                dict(
                    env=env,
                    prompt_len=plen,
                    tokens_per_request=tokens_per_req,
                    conc=concs,
                    results={
                        v: {
                            str(c): {k: val for k, val in r.items() if k != "first"}
                            for c, r in rs.items()
                        }
                        for v, rs in results.items()
                    },
                    notes=notes,
                ),
                f,
                indent=1,
            )
    log("done")


if __name__ == "__main__":
    main()
