"""``chatbot engine serve`` and ``chatbot up`` check the devices before they start anything:
a device that cannot be used is one readable error line and exit code 1 (no traceback); the
device chosen is the one the engine is given, and ``up`` says where each part runs. The
facts are fakes (``Facts.probe`` patched), and so is the engine: nothing is started."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
import typer
from typer.testing import CliRunner

from chatbot.cli import app, serve
from engines.device import Facts
from engines.embedded import server as embedded
from engines.errors import EngineError

GPU_HOST = Facts(
    stub_python=Path("/srv/venv/bin/python3"),
    stub_numpy="1.26.4",
    torch_version="2.13.0",
    torch_cuda="13.0",
    cuda_available=True,
    gpu_name="NVIDIA H100 80GB HBM3",
)
CPU_BUILD = replace(GPU_HOST, torch_version="2.13.0+cpu", torch_cuda=None, cuda_available=False)


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> list[Facts]:
    """What ``Facts.probe`` answers: the first item of the returned list."""
    answers: list[Facts] = []

    def fake(cls: type[Facts], *, torch: bool = True) -> Facts:
        return answers[0]

    monkeypatch.setattr(Facts, "probe", classmethod(fake))
    return answers


class FakeTriton:
    """Records how the engine was asked for; refuses to start (the command then ends)."""

    devices: ClassVar[list[str]] = []

    def __init__(self, model: Path | None, **options: Any) -> None:
        FakeTriton.devices.append(options["device"])

    def start(self) -> None:
        raise EngineError("fake engine: not started")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    FakeTriton.devices = []
    monkeypatch.setattr(embedded, "EmbeddedTriton", FakeTriton)
    monkeypatch.setenv("CHATBOT_CACHE_DIR", str(tmp_path / "cache"))
    return FakeTriton.devices


class Done:
    """A command's exit code and its output with rich's line wrapping undone."""

    def __init__(self, args: list[str]) -> None:
        result = CliRunner().invoke(app, args)
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split())


def engine_serve(*args: str) -> Done:
    return Done(["engine", "serve", *args])


def test_cuda_with_a_cpu_build_is_one_error_line_and_nothing_starts(
    probe: list[Facts], engine: list[str]
) -> None:
    probe.append(CPU_BUILD)
    done = engine_serve("--device", "cuda")
    assert done.exit_code == 1
    assert "error: --device cuda, but PyTorch 2.13.0+cpu is a CPU build" in done.output
    assert "make install GPU=1" in done.output
    assert "Traceback" not in done.output and engine == []


def test_cuda_without_a_visible_gpu_is_refused(probe: list[Facts], engine: list[str]) -> None:
    probe.append(replace(GPU_HOST, cuda_available=False, gpu_name=None, smi_gpus=()))
    done = engine_serve("--device", "cuda")
    assert done.exit_code == 1
    assert "sees no GPU (torch.cuda.is_available() is False)" in done.output
    assert "nvidia-smi lists no GPU" in done.output and engine == []


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda"])
def test_numpy_2_for_the_stub_is_refused_on_every_device(
    probe: list[Facts], engine: list[str], device: str
) -> None:
    probe.append(replace(GPU_HOST, stub_numpy="2.5.2"))
    done = engine_serve("--device", device)
    assert done.exit_code == 1
    assert "error: numpy 2.5.2 is installed for /srv/venv/bin/python3" in done.output
    assert "numpy<2" in done.output and engine == []


def test_auto_gives_the_engine_cuda_where_it_works(probe: list[Facts], engine: list[str]) -> None:
    probe.append(GPU_HOST)
    done = engine_serve()
    assert engine == ["cuda"]
    assert "fake engine: not started" in done.output  # it got as far as starting


def test_auto_beside_an_unused_gpu_runs_on_the_cpu_with_a_note(
    probe: list[Facts], engine: list[str]
) -> None:
    probe.append(replace(CPU_BUILD, smi_gpus=("GPU 0: NVIDIA L4",)))
    done = engine_serve()
    assert engine == ["cpu"]
    assert "note: nvidia-smi lists GPU 0: NVIDIA L4, but PyTorch 2.13.0+cpu" in done.output


@pytest.fixture
def up_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """``chatbot up`` stopped right after its device checks (where the index would be made)."""
    monkeypatch.setenv("CHATBOT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("CHATBOT_ADMIN_KEYS", "k" * 24)
    monkeypatch.delenv("CHATBOT_EMBEDDING_DEVICE", raising=False)
    reached: list[str] = []

    def ensure_index(settings: object) -> None:
        reached.append("index")
        raise typer.Exit(7)

    monkeypatch.setattr(serve, "_ensure_index", ensure_index)
    return reached


def test_up_says_where_the_embeddings_run(probe: list[Facts], up_env: list[str]) -> None:
    probe.append(GPU_HOST)
    done = Done(["up"])
    assert done.exit_code == 7 and up_env == ["index"]
    assert "retrieval embeddings on cuda (NVIDIA H100 80GB HBM3), torch backend" in done.output
    probe[0] = CPU_BUILD
    done = Done(["up"])
    assert "retrieval embeddings on cpu, onnx-int8 backend" in done.output


def test_up_refuses_before_anything_starts(
    probe: list[Facts], up_env: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    probe.append(replace(CPU_BUILD, stub_numpy="2.1.0"))
    done = Done(["up"])
    assert done.exit_code == 1 and up_env == []
    assert "error: numpy 2.1.0 is installed for" in done.output
    probe[0] = CPU_BUILD
    monkeypatch.setenv("CHATBOT_EMBEDDING_DEVICE", "cuda")
    done = Done(["up"])
    assert done.exit_code == 1 and up_env == []
    message = "error: CHATBOT_EMBEDDING_DEVICE=cuda, but PyTorch 2.13.0+cpu is a CPU build"
    assert message in done.output
    assert "Traceback" not in done.output
