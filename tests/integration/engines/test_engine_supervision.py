"""A supervised embedded Triton: killed with SIGKILL, it leaves no stub process, shared memory
or work folder behind and answers again after a restart; stopped, it leaves nothing either.

One server start and one restart for the whole module (each start loads the model on CPU)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatbot.errors import EngineUnavailableError
from chatbot.generation.client import TritonGenerator
from chatbot.serving import free_ports
from engines.embedded.server import SHM, EmbeddedTriton
from engines.lm import GenerationParams, default_model_file, hf_folder
from tests.integration.conftest import CACHE

pytestmark = pytest.mark.integration

STUB = "triton_python_backend_stub"
PARAMS = GenerationParams(max_tokens=4, temperature=0.0)


def _stubs(shm_prefix: str) -> list[int]:
    """Live stub processes of one server: each is handed its region name (the server's
    prefix + a uuid) on its command line. Zombies (empty command line) hold nothing."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if argv[0].endswith(STUB.encode()) and any(a.startswith(shm_prefix.encode()) for a in argv):
            pids.append(int(cmdline.parent.name))
    return pids


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _regions(shm_prefix: str) -> list[Path]:
    return list(SHM.glob(f"{shm_prefix}*"))


def _wait(condition: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``condition`` held, or None if it did not within ``timeout``."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if condition():
            return time.perf_counter() - started
        time.sleep(0.1)
    return None


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    grpc, http, metrics = free_ports(3)
    server = EmbeddedTriton(
        grpc_port=grpc,
        http_port=http,
        metrics_port=metrics,
        cache_dir=CACHE,
        log_file=tmp_path_factory.mktemp("triton") / "triton.log",
        device="cpu",
        supervise=True,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_killed_server_leaves_nothing_behind_and_answers_again(
    supervised: EmbeddedTriton, caplog: pytest.LogCaptureFixture
) -> None:
    server = supervised
    assert server.process is not None and server.workdir is not None
    old_pid, old_prefix, old_work = server.process.pid, server.shm_prefix, server.workdir
    stubs = _stubs(old_prefix)
    assert len(stubs) == 2, "one stub per model (tensorrt_llm, ensemble)"
    assert _regions(old_prefix)
    stub_mib = sum(_rss_mib(p) for p in stubs)

    def nothing_left() -> bool:
        return not _stubs(old_prefix) and not _regions(old_prefix) and not old_work.exists()

    async def run(client: TritonGenerator) -> tuple[float | None, float]:
        # The client is connected before the kill and kept, like the API's.
        assert (await client.complete("Hello", PARAMS)).text
        os.kill(old_pid, signal.SIGKILL)
        killed = time.perf_counter()
        assert not await client.ready(), "readiness must say Triton is down"
        clean = await asyncio.to_thread(_wait, nothing_left, 15.0)
        while True:
            try:
                assert (await client.complete("Hello", PARAMS)).text
                return clean, time.perf_counter() - killed
            except EngineUnavailableError:
                if time.perf_counter() - killed > 90:
                    raise
                await asyncio.sleep(0.5)

    async def run_and_close() -> tuple[float | None, float]:
        client = TritonGenerator(
            server.grpc_url, tokenizer=hf_folder(default_model_file(), CACHE), connect_timeout=2.0
        )
        try:
            return await run(client)
        finally:
            await client.close()

    with caplog.at_level(logging.INFO, logger="engines.embedded"):
        clean, answered = asyncio.run(run_and_close())
    print(
        f"\nstubs before the kill: {len(stubs)}, {stub_mib:.0f} MiB RSS; nothing left after "
        f"{clean} s; answering again after {answered:.1f} s"
    )
    assert _stubs(old_prefix) == [], "orphaned stub processes"
    assert _regions(old_prefix) == [], "shared-memory regions left behind"
    assert not old_work.exists(), "old work folder left behind"
    assert clean is not None
    assert server.process is not None and server.process.pid != old_pid
    assert server.restarts == 1
    assert server.workdir is not None and server.workdir != old_work
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("SIGKILL" in w and str(old_pid) in w for w in warnings), warnings
    assert any("is back" in r.getMessage() for r in caplog.records)


def test_stop_leaves_nothing_behind(supervised: EmbeddedTriton) -> None:
    server = supervised
    assert server.process is not None and server.workdir is not None
    prefix, work = server.shm_prefix, server.workdir
    assert _stubs(prefix) and _regions(prefix)
    # A short timeout: SIGTERM, then SIGKILL (stubs killed so never remove their regions).
    server.stop(timeout=0.1)
    assert _wait(lambda: not _stubs(prefix), 5.0) is not None, "stub processes left behind"
    assert _regions(prefix) == []
    assert not work.exists()
    assert server.process.poll() is not None
    assert not server.ready()
    assert "triton-supervisor" not in {t.name for t in threading.enumerate()}
