"""The Makefile installs the PyTorch build that ``GPU`` chooses (read with ``make -n``, which
prints the recipe and runs nothing): the CUDA build with GPU=1, the CPU build with GPU=0, and
by default the CUDA build where nvidia-smi lists a GPU. Each build has its own stamp, so
changing GPU installs again."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CUDA = 'pip install -q "torch===2.13.0"'
CPU = 'pip install -q "torch==2.13.0+cpu"'
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def make_n(venv: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """``make -n install`` for a virtual environment that does not exist yet (so the whole
    install recipe is printed), without GPU in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"GPU", "MAKEFLAGS", "MFLAGS"}}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["make", "-n", "install", f"VENV={venv}", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def install_lines(done: subprocess.CompletedProcess[str], venv: Path) -> list[str]:
    """The commands of the install recipe, from the venv's creation to its stamp."""
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(f"test -x {venv}/bin/python"))
    last = next(i for i, line in enumerate(lines) if line.startswith(f"touch {venv}/.installed"))
    return lines[first : last + 1]


def test_gpu_1_installs_the_cuda_build_before_the_project(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines = install_lines(make_n(venv, "GPU=1"), venv)
    torch = [i for i, line in enumerate(lines) if "torch" in line and "pip install" in line]
    assert [lines[i] for i in torch] == [f"{venv}/bin/{CUDA}"]
    check = lines[torch[0] + 1]
    assert check.startswith(f"{venv}/bin/python -c ") and "torch.version.cuda" in check
    assert not any("+cpu" in line for line in lines)
    project = lines.index(f'{venv}/bin/pip install -q -e ".[dev]"')
    assert torch[0] < project
    assert lines[-1] == f"touch {venv}/.installed-cuda"


def test_gpu_0_installs_the_cpu_build_from_pips_indexes_or_pytorchs(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines = install_lines(make_n(venv, "GPU=0"), venv)
    torch = [line for line in lines if "torch" in line and "pip install" in line]
    assert torch == [
        f"{venv}/bin/{CPU} 2>/dev/null || {venv}/bin/{CPU} {CPU_INDEX}",
    ]
    assert not any("===" in line or "torch.version.cuda" in line for line in lines)
    assert lines.index(torch[0]) < lines.index(f'{venv}/bin/pip install -q -e ".[dev]"')
    assert lines[-1] == f"touch {venv}/.installed-cpu"


def test_a_new_stamp_replaces_the_other_builds(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    for gpu in ("0", "1"):
        lines = install_lines(make_n(venv, f"GPU={gpu}"), venv)
        assert lines[-2] == f"rm -f {venv}/.installed {venv}/.installed-*"


def test_an_existing_stamp_of_the_other_build_installs_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed-cpu").touch()  # newer than pyproject.toml and the Makefile
    assert f"touch {venv}/.installed-cpu" not in make_n(venv, "GPU=0").stdout
    assert CUDA in make_n(venv, "GPU=1").stdout


def _nvidia_smi(folder: Path, body: str) -> str:
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_without_gpu_nvidia_smi_decides(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    gpu = _nvidia_smi(tmp_path / "gpu", "echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5e1a)'")
    none = _nvidia_smi(tmp_path / "none", "echo 'No devices were found'; exit 6")
    assert CUDA in make_n(venv, path=gpu).stdout
    found_none = make_n(venv, path=none).stdout
    assert CPU in found_none and CUDA not in found_none
    if shutil.which("nvidia-smi") is None:  # as on these machines and in CI
        assert CPU in make_n(venv).stdout


def test_gpu_must_be_0_or_1(tmp_path: Path) -> None:
    done = make_n(tmp_path / "venv", "GPU=yes")
    assert done.returncode != 0
    assert 'GPU must be 0 or 1, not "yes"' in done.stderr
