"""The engine's device checks: what ``--device cuda`` says when CUDA cannot be used, what
``auto`` picks, and the numpy<2 check of the stub's interpreter. The facts are fakes (no GPU
or CUDA build here); the probe itself is run once for real against this environment."""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engines.device import Device, Facts, choose_device, engine_device, nvidia_smi_gpus, stub_python
from engines.errors import EngineError

PYTHON = Path("/opt/venv/bin/python3")
H100 = "GPU 0: NVIDIA H100 80GB HBM3"


GPU_HOST = Facts(
    stub_python=PYTHON,
    stub_numpy="1.26.4",
    torch_version="2.13.0",
    torch_cuda="13.0",
    cuda_available=True,
    gpu_name="NVIDIA H100 80GB HBM3",
)


def facts(**values: Any) -> Facts:
    """A GPU host where CUDA works, with ``values`` changed."""
    return replace(GPU_HOST, **values)


CPU_BUILD = {"torch_version": "2.13.0+cpu", "torch_cuda": None, "cuda_available": False}
NO_GPU = {"cuda_available": False, "gpu_name": None}


def refusal(requested: str, given: Facts) -> str:
    with pytest.raises(EngineError) as caught:
        engine_device(requested, given)
    return str(caught.value)


# --------------------------------------------------------------------------- cuda


def test_cuda_where_it_works_names_the_gpu() -> None:
    device = engine_device("cuda", facts())
    assert device == Device("cuda", "NVIDIA H100 80GB HBM3")
    assert str(device) == "cuda (NVIDIA H100 80GB HBM3)"


def test_cuda_with_a_cpu_build_of_torch_says_so_and_what_to_run() -> None:
    message = refusal("cuda", facts(**CPU_BUILD, smi_gpus=(H100,)))
    assert message.startswith("--device cuda, but PyTorch 2.13.0+cpu is a CPU build")
    assert "torch.version.cuda is None" in message
    assert "make install GPU=1" in message


def test_cuda_without_a_visible_gpu_says_what_nvidia_smi_found() -> None:
    no_smi = refusal("cuda", facts(**NO_GPU, smi_gpus=None))
    assert "PyTorch 2.13.0 (built for CUDA 13.0) sees no GPU" in no_smi
    assert "torch.cuda.is_available() is False" in no_smi
    assert "nvidia-smi is not on PATH" in no_smi
    assert "nvidia-smi lists no GPU" in refusal("cuda", facts(**NO_GPU, smi_gpus=()))
    listed = refusal("cuda", facts(**NO_GPU, smi_gpus=(H100, "GPU 1: NVIDIA H100 80GB HBM3")))
    assert f"nvidia-smi lists {H100} and 1 more" in listed
    assert "CUDA_VISIBLE_DEVICES" in listed and "supports CUDA 13.0" in listed


def test_cuda_without_a_gpu_passes_on_what_pytorch_warned() -> None:
    warning = "The NVIDIA driver on your system is too old (found version 12040)."
    message = refusal("cuda", facts(**NO_GPU, smi_gpus=(H100,), cuda_warning=warning))
    assert message.endswith(f"PyTorch says: {warning}")


def test_cuda_without_pytorch() -> None:
    message = refusal("cuda", facts(torch_version=None, torch_error="ModuleNotFoundError: torch"))
    assert "PyTorch cannot be imported (ModuleNotFoundError: torch)" in message
    assert "make install GPU=1" in message


def test_the_message_says_how_the_device_was_asked_for() -> None:
    with pytest.raises(EngineError, match=r"^CHATBOT_EMBEDDING_DEVICE=cuda, but PyTorch"):
        choose_device("cuda", facts(**CPU_BUILD), what="CHATBOT_EMBEDDING_DEVICE=cuda")


# --------------------------------------------------------------------------- auto and cpu


def test_auto_picks_cuda_when_pytorch_can_use_a_gpu() -> None:
    assert engine_device("auto", facts()) == Device("cuda", "NVIDIA H100 80GB HBM3")


def test_auto_falls_back_to_the_cpu_quietly_without_a_gpu() -> None:
    assert engine_device("auto", facts(**CPU_BUILD, smi_gpus=None)) == Device("cpu")
    assert engine_device("auto", facts(**NO_GPU, smi_gpus=())) == Device("cpu")
    assert engine_device("auto", facts(torch_version=None)) == Device("cpu")


def test_auto_on_the_cpu_beside_an_unused_gpu_says_why() -> None:
    cpu_build = engine_device("auto", facts(**CPU_BUILD, smi_gpus=(H100,)))
    assert cpu_build.kind == "cpu" and cpu_build.note is not None
    assert H100 in cpu_build.note and "make install GPU=1" in cpu_build.note
    hidden = engine_device("auto", facts(**NO_GPU, smi_gpus=(H100,)))
    assert hidden.kind == "cpu" and hidden.note is not None
    assert "sees no GPU" in hidden.note and "CUDA_VISIBLE_DEVICES" in hidden.note
    assert str(hidden) == "cpu"


def test_cpu_is_never_refused_for_cuda_reasons() -> None:
    assert engine_device("cpu", facts(**CPU_BUILD)) == Device("cpu")
    assert engine_device("cpu", Facts(stub_python=PYTHON, stub_numpy="1.26.4")) == Device("cpu")


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown device 'gpu'"):
        engine_device("gpu", facts())


# --------------------------------------------------------------------------- the stub's numpy


@pytest.mark.parametrize("requested", ["auto", "cpu", "cuda"])
def test_numpy_2_in_the_stubs_interpreter_is_refused(requested: str) -> None:
    message = refusal(requested, facts(stub_numpy="2.5.2"))
    assert message.startswith(f"numpy 2.5.2 is installed for {PYTHON}")
    assert "Triton's Python-backend stub" in message and "numpy<2" in message
    assert "make install" in message


def test_numpy_missing_or_no_python3_is_refused() -> None:
    assert "numpy is not installed for" in refusal("cpu", facts(stub_numpy=None))
    assert "no python3 on PATH" in refusal("cpu", facts(stub_python=None))


def test_numpy_is_checked_before_cuda() -> None:
    assert refusal("cuda", facts(**CPU_BUILD, stub_numpy="2.0.0")).startswith("numpy 2.0.0")


# --------------------------------------------------------------------------- the real facts


def test_the_probe_reads_this_environment() -> None:
    import numpy
    import torch

    found = Facts.probe()
    assert found.stub_python is not None
    assert found.stub_python.parent == Path(sys.executable).parent
    assert found.stub_numpy == numpy.__version__
    assert found.torch_version == str(torch.__version__)
    assert found.torch_cuda == torch.version.cuda
    assert found.cuda_available == torch.cuda.is_available()
    light = Facts.probe(torch=False)
    assert light.stub_numpy == numpy.__version__ and light.torch_version is None


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_nvidia_smi_gpus_lists_names_without_uuids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(
        tmp_path,
        "nvidia-smi",
        f"echo '{H100} (UUID: GPU-0f1e2d3c)'; echo 'GPU 1: NVIDIA L4 (UUID: GPU-4b5a)'",
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    assert nvidia_smi_gpus() == (H100, "GPU 1: NVIDIA L4")
    _script(tmp_path, "nvidia-smi", "echo 'No devices were found'; exit 6")
    assert nvidia_smi_gpus() == ()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert nvidia_smi_gpus() is None


def test_the_stubs_python_is_the_one_beside_this_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path, "python3", "exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = stub_python()
    assert found is not None and found.parent == Path(sys.executable).parent
