"""Start and stop the embedded Triton server (the ``tritonserver`` binary from nvidia-pytriton).

The server runs as a child process over a model repository written for this run. Two fixes
make the wheel's server work with an interpreter built elsewhere (pyenv, a venv):
  * the Python-backend stub links ``libpython3.X.so``: the running interpreter's own library
    folder goes first on ``LD_LIBRARY_PATH``, or the stub loads an older system libpython;
  * the stub's interpreter runs isolated (it ignores ``PYTHONPATH``) and takes its packages
    from the environment of the first ``python3`` on ``PATH``: our interpreter's folder goes
    first there, so the stub imports ``engines``, PyTorch and numpy<2 from our environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from engines.embedded.repository import write_repository
from engines.errors import EngineError
from engines.lm import DEFAULT_CACHE


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
    ties this to the starting *thread*: start servers from a long-lived one, e.g. the main.)"""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedTriton:
    """A Triton server serving both dialects; use as a context manager or start()/stop()."""

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
    ) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self.max_batch = max_batch
        self.grpc_port, self.http_port, self.metrics_port = grpc_port, http_port, metrics_port
        self.device = device
        self.host = host
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def _prepare(self) -> tuple[list[str], dict[str, str]]:
        dist, libs, stub = _pytriton_dist()
        self._workdir = work = Path(tempfile.mkdtemp(prefix="chatbot-triton-"))
        server = work / "tritonserver"
        shutil.copytree(dist, server, ignore=shutil.ignore_patterns("python_backend_stubs"))
        shutil.copy(stub, server / "backends" / "python" / "triton_python_backend_stub")
        # Convert a GGUF file once here, not in each model's stub process.
        from engines.lm import default_model_file, hf_folder

        model = hf_folder(self.model or default_model_file(), self.cache_dir)
        repository = write_repository(
            work / "models", model, self.device, self.cache_dir, self.max_batch
        )
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
            f"--backend-config=python,shm-region-prefix-name=chatbot{os.getpid()}{self.grpc_port}",
        ]
        return command, env

    def start(self, timeout: float = 300.0) -> EmbeddedTriton:
        command, env = self._prepare()
        log = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._cleanup()
                raise EngineError(
                    f"Triton exited with code {self.process.returncode} while "
                    "starting (see its log)"
                )
            if self.ready():
                return self
            time.sleep(0.5)
        self.stop()
        raise EngineError(f"Triton was not ready after {timeout:.0f} s")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as r:  # noqa: S310 - our own http:// URL
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._cleanup()

    def _cleanup(self) -> None:
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
