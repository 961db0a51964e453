"""garak's own virtual environment for ``bench/garak_scan.py``: created on first use, torch
pinned to a CPU wheel before garak so that garak's unpinned requirement cannot pull CUDA."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TORCH_PIN = "torch==2.13.0"
GARAK_PIN = "garak==0.17.1"
GARAK_VERSION = GARAK_PIN.split("==")[1]


class ScanError(Exception):
    """garak could not be installed or run, or left no usable report."""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, env=env, check=False)
    if done.returncode != 0:
        raise ScanError(f"command failed with exit status {done.returncode}: {' '.join(cmd)}")


def _installed_garak(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('garak'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_garak(venv: Path) -> Path:
    """The Python of a virtual environment holding garak 0.17.1, created when missing."""
    python = venv / "bin" / "python"
    version = _installed_garak(python)
    if version == GARAK_VERSION:
        return python
    if version is not None:
        print(f"garak {version} found in {venv}; installing {GARAK_PIN}", flush=True)
    if not python.exists():
        print(f"creating garak's own virtual environment in {venv}", flush=True)
        _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # A current pip first: the one a fresh venv bundles (23.x) backtracks for many minutes
    # over garak's dependency tree.
    _run([*pip, "--upgrade", "pip"])
    # torch first, pinned: garak's own requirement is unpinned and would pull CUDA builds.
    _run([*pip, TORCH_PIN])
    _run([*pip, GARAK_PIN])
    if _installed_garak(python) != GARAK_VERSION:
        raise ScanError(f"{GARAK_PIN} did not install into {venv}")
    return python
