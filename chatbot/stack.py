"""Starting the stack's parts on this machine, for the integration tests and the benchmarks:
the embedded engine, the API in a child process (``chatbot api``) and a private Redis.

One launcher, so that tests and bench start, wait for and stop the parts the same way: free
ports, readiness polled rather than assumed, terminate then kill, and a failed child's log
shown instead of lost. ``chatbot up`` itself runs the API in-process (``chatbot.serving``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from chatbot.errors import StackError
from chatbot.serving import engine_for, free_ports
from chatbot.settings import Settings
from engines.embedded.server import EmbeddedTriton

LOCALHOST = "127.0.0.1"


# --------------------------------------------------------------------------- the engine


def embedded_engine(
    ports: Sequence[int] | None = None,
    *,
    cache_dir: Path,
    log_file: Path | None = None,
    device: str = "auto",
    model: Path | None = None,
) -> EmbeddedTriton:
    """An embedded Triton (not started) on the given gRPC, HTTP and metrics ports, or on free
    ones: ``start()`` it, or use it as a context manager."""
    grpc, http, metrics = ports if ports is not None else free_ports(3)
    return EmbeddedTriton(
        model,
        grpc_port=grpc,
        http_port=http,
        metrics_port=metrics,
        cache_dir=cache_dir,
        log_file=log_file,
        device=device,
    )


def on_free_ports(settings: Settings) -> Settings:
    """``settings`` with the API and the engine (gRPC ``triton_url``, HTTP, metrics) on ports
    free on 127.0.0.1 now, so that a benchmark's stack never meets a running one."""
    api, grpc, http, metrics = free_ports(4)
    return settings.model_copy(
        update={
            "host": LOCALHOST,
            "port": api,
            "triton_url": f"{LOCALHOST}:{grpc}",
            "engine_http_port": http,
            "engine_metrics_port": metrics,
        }
    )


# --------------------------------------------------------------------------- the API


def wait_ready(url: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll ``GET {url}/health/ready`` until it answers 200. ``alive`` tells whether the
    process behind ``url`` still runs (a child that exited will never be ready)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(base_url=url, timeout=httpx.Timeout(timeout, connect=10.0)) as http:
        while time.monotonic() < deadline:
            if not alive():
                raise StackError("the API process exited while starting (see its log above)")
            with contextlib.suppress(httpx.TransportError):
                response = http.get("/health/ready")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            time.sleep(0.5)
    raise StackError(f"the API was not ready after {timeout:.0f} s ({last})")


class ApiProcess:
    """``chatbot api`` in a child process, with its own CPU time as in a deployment. Its
    output goes to a temporary log, printed (the tail) when the ``with`` block fails.

    ``with ApiProcess(port, env) as api: api.wait_ready(300)``; ``env`` is the child's whole
    environment (its ``CHATBOT_*`` settings)."""

    def __init__(
        self,
        port: int,
        env: Mapping[str, str],
        *,
        host: str = LOCALHOST,
        cwd: Path | None = None,
        stop_timeout: float = 15.0,
    ) -> None:
        self.port, self.host = port, host
        self.env = dict(env)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ApiProcess:
        self._log = tempfile.NamedTemporaryFile(prefix="chatbot-api-", suffix=".log")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "chatbot", "api", "--host", self.host]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=self._log,
        )
        return self

    def alive(self) -> bool:
        """False once the child has exited (or before it started)."""
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        wait_ready(self.url, timeout, self.alive)

    def log_tail(self, chars: int = 3000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def terminate(self) -> None:
        """Ask the API to shut down (SIGTERM), without waiting: ``stop()`` waits."""
        if self.alive():
            assert self.process is not None
            self.process.terminate()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; the log is removed."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None:
                tail = self.log_tail()
                if tail.strip():
                    print(f"--- API log (tail) ---\n{tail}\n---", file=sys.stderr)
        finally:
            self.stop()


def api_env(settings: Settings, **values: str) -> dict[str, str]:
    """This process's environment for an API child: ``settings``' host, port, Triton URL and
    cache folder, then ``values`` (``api_keys="..."`` sets ``CHATBOT_API_KEYS``)."""
    overrides = {
        "host": settings.host,
        "port": str(settings.port),
        "triton_url": settings.triton_url,
        "cache_dir": str(settings.cache_dir),
        **values,
    }
    return {**os.environ, **{f"CHATBOT_{k.upper()}": v for k, v in overrides.items()}}


# --------------------------------------------------------------------------- API + engine


@dataclass(frozen=True)
class LocalStack:
    api: ApiProcess
    engine: EmbeddedTriton

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def triton_url(self) -> str:
        return self.engine.grpc_url


@contextlib.contextmanager
def local_stack(
    settings: Settings, env: Mapping[str, str], *, cwd: Path | None = None
) -> Iterator[LocalStack]:
    """The stack as ``chatbot up`` runs it, in two processes: ``chatbot api`` on
    ``settings.port`` with the environment ``env`` (see ``api_env``), and the embedded engine
    of ``settings`` (``engine_for``: its model, ports and cache folder, supervised). The API
    starts first so that both load at once; waiting for it is the caller's (``api.wait_ready``).
    A Triton already answering on the engine's port is an error: the API must talk to ours.
    On a clean exit the API is stopped before the engine it talks to."""
    with (
        ApiProcess(settings.port, env, host=settings.host, cwd=cwd) as api,
        engine_for(settings) as engine,
    ):
        if engine is None:
            raise StackError(f"another Triton answers on {settings.triton_url}; retry")
        yield LocalStack(api, engine)
        api.terminate()


def interrupt_on_sigterm() -> None:
    """Handle SIGTERM as Ctrl-C, so that the ``with`` blocks above unwind: Python's default
    ends the process on the spot, leaving the API and the engine it started running."""

    def interrupt(signum: int, frame: object) -> None:
        # One is enough: `timeout` signals the process and then its group, and a second
        # KeyboardInterrupt would break off the clean-up the first one started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


# --------------------------------------------------------------------------- Redis


def _pong(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOCALHOST, port), 1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def private_redis(timeout: float = 10.0) -> Iterator[str]:
    """A ``redis-server`` of its own on a free port, persisting nothing, for sessions no other
    run sees; yields its URL. StackError when the binary is missing or it does not answer."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError("redis-server is not installed")
    port = free_ports(1)[0]
    with tempfile.TemporaryDirectory(prefix="chatbot-redis-") as folder:
        log = Path(folder) / "redis.log"
        command = [binary, "--bind", LOCALHOST, "--port", str(port), "--save", ""]
        command += ["--appendonly", "no", "--dir", folder, "--logfile", str(log)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not _pong(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    raise StackError(f"redis-server on port {port} did not start\n{text}")
                time.sleep(0.1)
            yield f"redis://{LOCALHOST}:{port}/0"
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
