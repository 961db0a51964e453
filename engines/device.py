"""Which device the embedded engine runs on, decided before anything starts.

``engine_device`` is the one check that ``chatbot engine serve`` and ``chatbot up`` make
first. It turns what stands in the way into one readable ``EngineError``: numpy >= 2 where
Triton's Python-backend stub takes its packages from, and, for ``cuda``, a CPU build of
PyTorch or a PyTorch that sees no GPU. It resolves ``auto`` to ``cuda`` when PyTorch can use a
GPU, with a note when a GPU is there but cannot be used. ``choose_device`` is the CUDA part
alone, for the embedding model, which runs in the API's process rather than in the stub.

The facts come from ``Facts.probe``, which asks the stub's own interpreter (the models run
there, not in this process) and ``nvidia-smi``; the checks take them as an argument, so they
are tested with fakes, without a GPU or a CUDA build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from engines.errors import EngineError

__all__ = ["Device", "Facts", "choose_device", "engine_device", "nvidia_smi_gpus", "stub_python"]

DEVICES = ("auto", "cpu", "cuda")
_UUID = re.compile(r"\s*\(UUID: [^)]*\)$")

# Run by the stub's interpreter, isolated as the stub runs it (-I). Standard library only, so
# it also answers in an environment without the project; PyTorch only when asked ("torch").
_PROBE = """
import importlib.metadata, json, sys, warnings
facts = {}
try:
    facts["numpy"] = importlib.metadata.version("numpy")
except importlib.metadata.PackageNotFoundError:
    facts["numpy"] = None
if "torch" in sys.argv[1:]:
    try:
        import torch
    except Exception as exc:
        facts["torch_error"] = f"{type(exc).__name__}: {exc}"
    else:
        facts["torch"] = str(torch.__version__)
        facts["cuda"] = torch.version.cuda
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            facts["available"] = bool(torch.cuda.is_available())
        facts["warning"] = str(caught[0].message).strip() if caught else None
        facts["gpu"] = torch.cuda.get_device_name(0) if facts["available"] else None
print(json.dumps(facts))
"""


@dataclass(frozen=True)
class Facts:
    """What decides the device. PyTorch's fields are those of the stub's interpreter."""

    stub_python: Path | None
    """The ``python3`` whose packages the stub imports (None: no ``python3`` on PATH)."""
    stub_numpy: str | None = None
    """numpy's version there (None: not installed)."""
    torch_version: str | None = None
    """``torch.__version__`` (None: not probed, or PyTorch cannot be imported)."""
    torch_error: str | None = None
    """Why PyTorch could not be imported."""
    torch_cuda: str | None = None
    """``torch.version.cuda``: the CUDA version of the build, None for a CPU build."""
    cuda_available: bool = False
    """``torch.cuda.is_available()``."""
    cuda_warning: str | None = None
    """What PyTorch warned while looking for a GPU (e.g. a driver too old for its CUDA)."""
    gpu_name: str | None = None
    """``torch.cuda.get_device_name(0)``, when a GPU is available."""
    smi_gpus: tuple[str, ...] | None = None
    """The GPUs ``nvidia-smi -L`` lists (None: no ``nvidia-smi``); asked only when PyTorch
    cannot use CUDA, to say why."""

    @classmethod
    def probe(cls, *, torch: bool = True) -> Facts:
        """Ask the stub's interpreter for numpy's version and, with ``torch``, what PyTorch
        sees; then ``nvidia-smi`` when PyTorch cannot use a GPU. ``torch=False`` (enough for
        device ``cpu``) spares importing PyTorch."""
        python = stub_python()
        if python is None:
            return cls(stub_python=None)
        found = _run_probe(python, torch=torch)
        facts = cls(
            stub_python=python,
            stub_numpy=found.get("numpy"),
            torch_version=found.get("torch"),
            torch_error=found.get("torch_error"),
            torch_cuda=found.get("cuda"),
            cuda_available=bool(found.get("available")),
            cuda_warning=found.get("warning"),
            gpu_name=found.get("gpu"),
        )
        if torch and not facts.cuda_available:
            facts = replace(facts, smi_gpus=nvidia_smi_gpus())
        return facts


@dataclass(frozen=True)
class Device:
    """Where a part runs."""

    kind: Literal["cpu", "cuda"]
    name: str | None = None
    """The GPU's name."""
    note: str | None = None
    """Why ``auto`` chose the CPU although a GPU is there, and what to run."""

    def __str__(self) -> str:
        return f"{self.kind} ({self.name})" if self.name else self.kind


def stub_python() -> Path | None:
    """The ``python3`` whose environment Triton's Python-backend stub takes its packages
    from: the first on PATH once this interpreter's folder is put first, as
    ``engines.embedded.server`` starts the server."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("python3", path=search)
    return Path(found) if found else None


def _run_probe(python: Path, *, torch: bool) -> dict[str, Any]:
    command = [str(python), "-I", "-c", _PROBE, *(["torch"] if torch else [])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit code {exc.returncode}"]
        raise EngineError(f"cannot ask {python} for its numpy and PyTorch: {detail[0]}") from exc
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        raise EngineError(f"cannot ask {python} for its numpy and PyTorch: {exc}") from exc
    return found


def nvidia_smi_gpus() -> tuple[str, ...] | None:
    """The GPUs that ``nvidia-smi -L`` lists ("GPU 0: NVIDIA H100 80GB HBM3"), or None when
    there is no ``nvidia-smi``."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    lines = [line.strip() for line in done.stdout.splitlines()]
    return tuple(_UUID.sub("", line) for line in lines if line.startswith("GPU "))


def _listed(gpus: tuple[str, ...]) -> str:
    more = f" and {len(gpus) - 1} more" if len(gpus) > 1 else ""
    return f"{gpus[0]}{more}"


def _why_no_gpu(facts: Facts) -> str:
    """Why a CUDA build of PyTorch sees no GPU, as far as the facts tell."""
    if facts.cuda_warning:
        return f"PyTorch says: {facts.cuda_warning}"
    if facts.smi_gpus is None:
        return "nvidia-smi is not on PATH: is the NVIDIA driver installed?"
    if not facts.smi_gpus:
        return "nvidia-smi lists no GPU"
    return (
        f"nvidia-smi lists {_listed(facts.smi_gpus)}: check CUDA_VISIBLE_DEVICES, and that "
        f"the driver supports CUDA {facts.torch_cuda} (nvidia-smi shows the newest it supports)"
    )


def choose_device(requested: str, facts: Facts, *, what: str = "--device cuda") -> Device:
    """``cpu``, ``cuda`` or ``auto`` (``cuda`` when PyTorch can use a GPU) for a model that
    runs with the PyTorch of ``facts``; EngineError, saying why and what to run, when
    ``cuda`` cannot be used. ``what`` is how the user asked for it, for the message."""
    if requested not in DEVICES:
        raise EngineError(f"unknown device {requested!r} (auto, cpu or cuda)")
    if requested == "cpu":
        return Device("cpu")
    if facts.torch_version is None:
        if requested == "auto":
            return Device("cpu")  # the model says what is missing when it loads
        problem = f"PyTorch cannot be imported ({facts.torch_error or 'not installed'})"
        raise EngineError(f"{what}, but {problem}: run make install GPU=1")
    if facts.torch_cuda is None:
        problem = f"PyTorch {facts.torch_version} is a CPU build (torch.version.cuda is None)"
        if requested == "cuda":
            raise EngineError(
                f"{what}, but {problem}: install the CUDA build with make install GPU=1"
            )
        if facts.smi_gpus:
            return Device(
                "cpu",
                note=f"nvidia-smi lists {_listed(facts.smi_gpus)}, but {problem}: "
                "make install GPU=1 installs the CUDA build",
            )
        return Device("cpu")
    if not facts.cuda_available:
        problem = (
            f"PyTorch {facts.torch_version} (built for CUDA {facts.torch_cuda}) sees no GPU "
            "(torch.cuda.is_available() is False)"
        )
        if requested == "cuda":
            raise EngineError(f"{what}, but {problem}; {_why_no_gpu(facts)}")
        if facts.smi_gpus or facts.cuda_warning:
            return Device("cpu", note=f"{problem}; {_why_no_gpu(facts)}")
        return Device("cpu")
    return Device("cuda", facts.gpu_name)


def engine_device(requested: str, facts: Facts) -> Device:
    """The embedded engine's device (see ``choose_device``), after checking that the stub's
    interpreter can run the engine at all: the stub of nvidia-pytriton 0.7.0 is built
    against numpy 1."""
    python = facts.stub_python
    if python is None:
        raise EngineError(
            "no python3 on PATH for Triton's Python-backend stub: run the engine from the "
            "project's environment (make install, then .venv/bin/chatbot)"
        )
    where = f"{python}, whose packages Triton's Python-backend stub imports"
    if facts.stub_numpy is None:
        raise EngineError(f"numpy is not installed for {where}: run make install")
    major = re.match(r"\d+", facts.stub_numpy)
    if major is None or int(major.group()) >= 2:
        raise EngineError(
            f"numpy {facts.stub_numpy} is installed for {where}, and the stub of "
            "nvidia-pytriton 0.7.0 needs numpy<2: run the engine from the project's "
            "environment (make install, then .venv/bin/chatbot), or pip install 'numpy<2' "
            f"for {python}"
        )
    return choose_device(requested, facts)
