"""A regular (non-editable) wheel carries everything the API needs at start-up: it is built,
installed into a fresh virtual environment and the API is started from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from chatbot.serving import free_ports
from chatbot.settings import Settings
from engines.embedded.server import EmbeddedTriton
from ingest.embeddings import Embedder
from tests.integration.conftest import DATA, REPO, Ingest

pytestmark = pytest.mark.integration

PACKAGES = ("chatbot", "rails", "ingest", "engines")
_SKIP = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info", "build")


def _wheel(out: Path) -> Path:
    # Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = out / "source"
    for name in PACKAGES:
        shutil.copytree(REPO / name, source / name, ignore=_SKIP)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        check=True,
    )  # fmt: skip
    (wheel,) = out.glob("guarded_faq_chatbot-*.whl")
    return wheel


def _fresh_venv(root: Path) -> Path:
    """A new environment holding only the wheel; its dependencies come from the test run's
    environment through a path entry (which does not pull in that environment's editable
    install: ``.pth`` files there are not read)."""
    venv.create(root, with_pip=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_the_wheel_starts_the_api(
    tmp_path: Path, settings: Settings, embedder: Embedder, triton: EmbeddedTriton
) -> None:
    wheel = _wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "rails/exemplars/lexical.npz" in names and "chatbot/web/index.html" in names
    python = _fresh_venv(tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--ignore-installed", str(wheel)],
        check=True,
    )  # fmt: skip
    where = subprocess.run(
        [str(python), "-c", "import chatbot, rails; print(chatbot.__file__, rails.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert str(REPO) not in where and str(tmp_path / "venv") in where

    index_dir = tmp_path / "index"
    Ingest(settings, embedder, index_dir)(DATA)
    port = free_ports(1)[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHATBOT_")},
        "CHATBOT_PORT": str(port),
        "CHATBOT_INDEX_DIR": str(index_dir),
        "CHATBOT_DATA_DIR": str(DATA),
        "CHATBOT_CACHE_DIR": str(REPO / ".chatbot" / "cache"),
        "CHATBOT_TRITON_URL": triton.grpc_url,
        "HF_HUB_OFFLINE": "1",
    }
    server = subprocess.Popen(
        [str(tmp_path / "venv" / "bin" / "chatbot"), "api"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API from the wheel did not get ready"
            time.sleep(1)
        reply = httpx.post(
            f"{url}/v1/chat", json={"message": "How do I report a lost card?"}, timeout=120
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["citations"]
        assert httpx.get(f"{url}/widget.js", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(30)
