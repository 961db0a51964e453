"""The stack a benchmark starts for itself, as ``chatbot up`` runs it (``bench/chat.py``,
``bench/defence.py``): the launcher ``chatbot.stack`` with the benchmarks' settings (free
ports, a random API key, no rate limit) and the line that says what was started."""

from __future__ import annotations

import argparse
import asyncio
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.chat_client import Stack
from chatbot.settings import Settings
from chatbot.stack import api_env, interrupt_on_sigterm, local_stack, on_free_ports

REPO = Path(__file__).resolve().parents[1]


def self_hosted(
    args: argparse.Namespace, run: Callable[[Stack], Coroutine[Any, Any, None]]
) -> None:
    """Start the stack as ``chatbot up`` does and ``run`` the benchmark against it. ``args``
    carries ``index_dir``, ``cache_dir``, ``redis_url`` and ``read_timeout``."""
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
    print(
        "starting the stack as `chatbot up` does: embedded Triton "
        f"({settings.engine_model or 'default model'}) "
        f"on {settings.triton_url} "
        f"(http {settings.engine_http_port}, metrics {settings.engine_metrics_port}), "
        f"API on {settings.host}:{settings.port}, "
        f"sessions in {'Redis ' + args.redis_url if args.redis_url else 'memory'}, "
        f"read timeout {args.read_timeout or settings.read_timeout:.0f} s…",
        flush=True,
    )
    with local_stack(settings, api_env(settings, **values), cwd=REPO) as stack:
        asyncio.run(run(Stack(stack.url, key, settings.triton_url, stack.api.alive)))
