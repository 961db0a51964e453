"""Start, stop and supervise the embedded Triton server (the ``tritonserver`` binary from
nvidia-pytriton).

The server runs as a child process over a model repository written for this run. Two fixes
make the wheel's server work with an interpreter built elsewhere (pyenv, a venv):
  * the Python-backend stub links ``libpython3.X.so``: the running interpreter's own library
    folder goes first on ``LD_LIBRARY_PATH``, or the stub loads an older system libpython;
  * the stub's interpreter runs isolated (it ignores ``PYTHONPATH``) and takes its packages
    from the environment of the first ``python3`` on ``PATH``: our interpreter's folder goes
    first there, so the stub imports ``engines``, PyTorch and numpy<2 from our environment.

A server that exits leaves nothing behind: its Python-backend stubs (one process per model,
each holding a copy of the model, in the server's process group) are killed, their
``/dev/shm`` regions and the work folder removed. Supervised (``supervise=True``), a server
that dies is restarted with exponential backoff until ``stop()``; a restart takes seconds,
since the GGUF conversion stays in ``cache_dir``.

What the server serves is its model repository: the causal LM's by default, or the one that
``models`` writes (``engines.embedded.fixed`` serves its fixed-token stand-in so).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType

from engines.embedded.repository import write_repository
from engines.errors import EngineError
from engines.lm import DEFAULT_CACHE

log = logging.getLogger("engines.embedded")

SHM = Path("/dev/shm")  # noqa: S108 - where POSIX shm_open names live, only read and unlinked


def _pytriton_dist() -> tuple[Path, Path, Path]:
    """(tritonserver folder, bundled libs folder, Python-backend stub for this interpreter)."""
    # Located, not imported: only the server binary and stub are used, not PyTriton's proxy.
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("nvidia-pytriton is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    dist = root / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = dist / "python_backend_stubs" / version / "triton_python_backend_stub"
    libs = root.parent / "nvidia_pytriton.libs"
    if not (dist / "bin" / "tritonserver").is_file() or not stub.is_file():
        raise EngineError(f"nvidia-pytriton ships no Triton server or stub for Python {version}")
    return dist, libs, stub


# Loaded here, not in the forked child, where an import could wait on a lock held by a thread.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: have Linux send it SIGTERM when the process that started it
    dies, so a killed ``chatbot up`` never leaves an orphaned server holding its ports. (Linux
    ties this to the starting *thread*: start servers from a long-lived one, e.g. the main;
    a supervised server is started by its supervisor thread, which outlives it.)"""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


class Backoff:
    """Waits between restarts: ``first``, doubling up to ``cap``; back to ``first`` once a
    server has stayed up ``stable_after`` seconds (a crash then is news, not a crash loop)."""

    def __init__(self, first: float = 1.0, cap: float = 30.0, stable_after: float = 60.0) -> None:
        self.first, self.cap, self.stable_after = first, cap, stable_after
        self._next = first

    def delay(self, uptime: float) -> float:
        """The wait before the next start, given how long the last server was up."""
        if uptime >= self.stable_after:
            self._next = self.first
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay


class EmbeddedTriton:
    """A Triton server serving both dialects; use as a context manager or start()/stop().

    With ``supervise=True`` a thread watches the server and restarts it when it dies.
    """

    def __init__(
        self,
        model: Path | None = None,
        *,
        grpc_port: int = 8001,
        http_port: int = 8000,
        metrics_port: int = 8002,
        device: str = "auto",
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        cache_dir: Path = DEFAULT_CACHE,
        max_batch: int = 8,
        supervise: bool = False,
        backoff: Backoff | None = None,
        models: Callable[[Path], Path] | None = None,
    ) -> None:
        """``models`` writes the model repository into the folder it is given and returns
        it; by default the causal LM's (``model``, ``device``, ``cache_dir``, ``max_batch``)."""
        self.model = model
        self.models = models or self._lm_models
        self.cache_dir = cache_dir
        self.max_batch = max_batch
        self.grpc_port, self.http_port, self.metrics_port = grpc_port, http_port, metrics_port
        self.device = device
        self.host = host
        self.log_file = log_file
        self.supervise = supervise
        self.backoff = backoff or Backoff()
        self.process: subprocess.Popen[bytes] | None = None
        self.shm_prefix = ""
        """Names of the current server's Python-backend shared-memory regions start so."""
        self.restarts = 0
        self._workdir: Path | None = None
        self._starts = 0
        # stop() reads self.process under this lock, and a server is only launched under it
        # after checking _stopping: so a server either starts before stop() sees (and stops)
        # it, or not at all.
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def workdir(self) -> Path | None:
        """The current server's work folder (binary copy, model repository)."""
        return self._workdir

    def _prepare(self) -> tuple[list[str], dict[str, str]]:
        dist, libs, stub = _pytriton_dist()
        self._starts += 1
        # Fresh per start, and unambiguous ("-" between the numbers), so a glob on it only
        # ever matches this server's regions.
        self.shm_prefix = f"chatbot-{os.getpid()}-{self.grpc_port}-{self._starts}-"
        self._workdir = work = Path(tempfile.mkdtemp(prefix="chatbot-triton-"))
        server = work / "tritonserver"
        shutil.copytree(dist, server, ignore=shutil.ignore_patterns("python_backend_stubs"))
        shutil.copy(stub, server / "backends" / "python" / "triton_python_backend_stub")
        repository = self.models(work / "models")
        env = dict(os.environ)
        lib_dirs = [
            sysconfig.get_config_var("LIBDIR") or "",
            str(libs),
            env.get("LD_LIBRARY_PATH", ""),
        ]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(d for d in lib_dirs if d)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("HF_HUB_OFFLINE", "1")
        command = [
            str(server / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={server / 'backends'}",
            f"--cache-directory={server / 'caches'}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.grpc_port}",
            f"--http-address={self.host}",
            f"--http-port={self.http_port}",
            f"--metrics-port={self.metrics_port}",
            "--allow-metrics=true",
            "--allow-gpu-metrics=false",
            "--allow-cpu-metrics=false",
            "--exit-on-error=true",
            "--strict-readiness=true",
            "--log-verbose=0",
            "--exit-timeout-secs=5",
            # The models take text on the CPU and run their own CUDA: Triton's pinned and
            # CUDA memory pools would only hold idle memory.
            "--pinned-memory-pool-byte-size=0",
            # Python-backend shared memory: one region per stub; Triton's default grows as needed.
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
        ]
        return command, env

    def _lm_models(self, root: Path) -> Path:
        # Convert a GGUF file once here, not in each model's stub process.
        from engines.lm import default_model_file, hf_folder

        model = hf_folder(self.model or default_model_file(), self.cache_dir)
        return write_repository(root, model, self.device, self.cache_dir, self.max_batch)

    def start(self, timeout: float = 300.0) -> EmbeddedTriton:
        """Start the server and wait until it is ready (EngineError if it cannot start);
        supervised, keep restarting it whenever it dies, until stop()."""
        self._stopping.clear()
        if not self.supervise:
            self._launch(timeout)
            return self
        first: Future[None] = Future()
        self._supervisor = threading.Thread(
            target=self._supervise, args=(timeout, first), name="triton-supervisor", daemon=True
        )
        self._supervisor.start()
        try:
            first.result()
        except BaseException:  # could not start, or interrupted (Ctrl-C) while starting
            self.stop()
            raise
        return self

    def _launch(self, timeout: float) -> subprocess.Popen[bytes]:
        """Start one server and wait until it is ready; on any failure leave nothing behind."""
        process: subprocess.Popen[bytes] | None = None
        try:
            command, env = self._prepare()
            with self._lock:
                if self._stopping.is_set():
                    raise EngineError("Triton was stopped while starting")
                log_file = self.log_file.open("ab") if self.log_file else None
                try:
                    self.process = process = subprocess.Popen(
                        command,
                        env=env,
                        stdout=log_file or subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                finally:
                    if log_file is not None:
                        log_file.close()  # the child has its own copy
            deadline = time.monotonic() + timeout
            while not self.ready():
                if process.poll() is not None:
                    raise EngineError(
                        f"Triton {describe_exit(process.returncode)} while starting (see its log)"
                    )
                if time.monotonic() > deadline:
                    raise EngineError(f"Triton was not ready after {timeout:.0f} s")
                time.sleep(0.5)
            return process
        except BaseException:
            if process is not None:
                self._terminate(process, timeout=5.0)
            self._cleanup(process)
            raise

    def _supervise(self, timeout: float, first: Future[None]) -> None:
        """The supervisor thread. It starts every server itself, the first included, so each
        server's parent-death signal is tied to this thread, which lives until stop()."""
        while True:
            try:
                process = self._launch(timeout)
            except Exception as exc:
                if not first.done():
                    first.set_exception(exc)  # start() raises it
                    return
                if self._stopping.is_set():
                    return
                problem, uptime = f"Triton did not come back: {exc}", 0.0
            else:
                if not first.done():
                    first.set_result(None)
                else:
                    self.restarts += 1
                    log.info("Triton is back (pid %d, gRPC %s)", process.pid, self.grpc_url)
                up_since = time.monotonic()
                returncode = process.wait()
                if self._stopping.is_set():
                    return  # stop() ended it and cleans up
                uptime = time.monotonic() - up_since
                self._cleanup(process)
                problem = (
                    f"Triton (pid {process.pid}) {describe_exit(returncode)} after "
                    f"{uptime:.0f} s up; its stubs, shared memory and work folder are removed"
                )
            delay = self.backoff.delay(uptime)
            log.warning("%s; restarting it in %.0f s", problem, delay)
            if self._stopping.wait(delay):
                return

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as r:  # noqa: S310 - our own http:// URL
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop supervising, then the server (SIGTERM, SIGKILL after ``timeout``); clean up."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None:
            self._terminate(process, timeout)
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()  # before cleaning up: it may be between launches
        self._cleanup(process)

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _cleanup(self, process: subprocess.Popen[bytes] | None) -> None:
        """Remove what a server that has exited leaves: stubs, shared memory, work folder."""
        if process is not None:
            # The stubs stay in the server's process group (start_new_session) and outlive a
            # killed server, polling for it by pid: one that is an unreaped zombie keeps them
            # up for good. The group's id cannot be reused while a member lives.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self.shm_prefix:
            for region in SHM.glob(f"{self.shm_prefix}*"):
                region.unlink(missing_ok=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedTriton:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
