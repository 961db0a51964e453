"""The stack a benchmark starts for itself, as ``chatbot up`` runs it (``bench/chat.py``,
``bench/defence.py``): the launcher ``chatbot.stack`` with the benchmarks' settings (free
ports, a random API key, no rate limit) and the line that says what was started.

With ``args.engine == "fixed"`` (``bench/chat.py --engine fixed``) the API talks to the
fixed-token engine (``engines.embedded.fixed``: the embedded Triton server, streaming set
text at a set rate) on the same ports instead of the model."""

from __future__ import annotations

import argparse
import asyncio
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.chat_client import Stack
from chatbot.settings import Settings
from chatbot.stack import ApiProcess, api_env, interrupt_on_sigterm, local_stack, on_free_ports
from engines.embedded.fixed import FixedTokens

REPO = Path(__file__).resolve().parents[1]


def fixed_engine(args: argparse.Namespace) -> FixedTokens | None:
    """The fixed-token engine ``args`` ask for (``--engine fixed``), or None for the model."""
    if getattr(args, "engine", "model") != "fixed":
        return None
    options: dict[str, Any] = {
        "tokens": args.fixed_tokens,
        "ttft_ms": args.fixed_ttft_ms,
        "itl_ms": args.fixed_itl_ms,
    }
    if args.fixed_text:
        options["text"] = args.fixed_text
    return FixedTokens(**options)


def self_hosted(
    args: argparse.Namespace, run: Callable[[Stack], Coroutine[Any, Any, None]]
) -> None:
    """Start the stack as ``chatbot up`` does and ``run`` the benchmark against it. ``args``
    carries ``index_dir``, ``cache_dir``, ``redis_url`` and ``read_timeout``, and may carry
    ``dialect`` and ``engine`` (``fixed``: with ``fixed_tokens``, ``fixed_ttft_ms``,
    ``fixed_itl_ms`` and ``fixed_text``)."""
    interrupt_on_sigterm()
    settings = on_free_ports(Settings(cache_dir=args.cache_dir))
    key = secrets.token_urlsafe(24)
    values = {
        "api_keys": key,
        "rate_limit_per_minute": "1000000",
        "index_dir": str(args.index_dir),
    }
    if args.redis_url:
        values["redis_url"] = args.redis_url
    if args.read_timeout:
        values["read_timeout"] = str(args.read_timeout)
    dialect = getattr(args, "dialect", None)
    if dialect:
        values["triton_dialect"] = dialect
    fixed = fixed_engine(args)
    engine = (
        f"the fixed-token engine (TTFT {fixed.ttft_ms:g} ms, ITL {fixed.itl_ms:g} ms, "
        f"{fixed.tokens} tokens)"
        if fixed
        else f"embedded Triton ({settings.engine_model or 'default model'})"
    )
    print(
        f"starting the stack as `chatbot up` does: {engine} "
        f"on {settings.triton_url} "
        f"(http {settings.engine_http_port}, metrics {settings.engine_metrics_port}), "
        f"API on {settings.host}:{settings.port}, dialect {dialect or settings.triton_dialect}, "
        f"sessions in {'Redis ' + args.redis_url if args.redis_url else 'memory'}, "
        f"read timeout {args.read_timeout or settings.read_timeout:.0f} s…",
        flush=True,
    )
    env = api_env(settings, **values)
    if fixed is None:
        with local_stack(settings, env, cwd=REPO) as local:
            pids = [p.pid if p else None for p in (local.api.process, local.engine.process)]
            asyncio.run(run(Stack(local.url, key, settings.triton_url, local.api.alive, *pids)))
        return
    # As chatbot.stack.local_stack, with the fixed-token engine in the model's place.
    grpc_port = int(settings.triton_url.rpartition(":")[2])
    with (
        ApiProcess(settings.port, env, host=settings.host, cwd=REPO) as api,
        fixed.server(
            grpc_port=grpc_port,
            http_port=settings.engine_http_port,
            metrics_port=settings.engine_metrics_port,
        ) as server,
    ):
        assert api.process is not None and server.process is not None
        stack = Stack(api.url, key, server.grpc_url, api.alive, api.process.pid, server.process.pid)
        asyncio.run(run(stack))
        api.terminate()
