"""The README's main command and the terminal turn, as a user runs them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from chatbot.serving import free_ports
from engines.embedded.server import EmbeddedTriton
from tests.integration.conftest import REPO


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOT_")}
    env.update({f"CHATBOT_{k.upper()}": v for k, v in values.items()})
    return env


def _tritonserver(grpc_port: int) -> int:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().split(b"\0")
            if argv[0].endswith(b"tritonserver") and f"--grpc-port={grpc_port}".encode() in argv:
                return int(cmdline.parent.name)
    raise AssertionError(f"no tritonserver on gRPC port {grpc_port}")


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if condition():
                return True
        time.sleep(0.5)
    return False


def test_up_serves_the_demo_restarts_a_dead_engine_and_stops_cleanly(tmp_path: Path) -> None:
    api_port, grpc, http, metrics = free_ports(4)
    env = _env(
        port=str(api_port),
        triton_url=f"127.0.0.1:{grpc}",
        engine_http_port=str(http),
        engine_metrics_port=str(metrics),
        index_dir=str(tmp_path / "index"),  # empty: the first run ingests data/
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot", "up"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Chatbot ready: open" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(300), "".join(lines[-30:])
        url = f"http://127.0.0.1:{api_port}"
        assert any(url in line for line in lines)
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "Northwind" in page.text
        assert "Content-Security-Policy" in page.headers
        reply = httpx.post(
            f"{url}/v1/chat", json={"message": "How do I report a lost or stolen card?"}
        ).json()
        assert reply["answered_by"] == "curated" and reply["citations"]
        assert httpx.get(f"{url}/health/ready").status_code == 200

        # The engine dies: the API says so, `up` logs it and brings the engine back.
        os.kill(_tritonserver(grpc), signal.SIGKILL)
        assert _within(15, lambda: httpx.get(f"{url}/health/ready").status_code == 503)
        assert _within(90, lambda: httpx.get(f"{url}/health/ready").status_code == 200)
        assert any("restarting it in" in line for line in lines), "".join(lines[-30:])
        again = httpx.post(f"{url}/v1/chat", json={"message": "hello"}, timeout=60)
        assert again.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)  # what docker and systemd send; Ctrl-C is SIGINT
        code = process.wait(60)
    assert code == 0, "".join(lines[-30:])
    with socket.socket() as probe:  # the engine went down with it
        assert probe.connect_ex(("127.0.0.1", grpc)) != 0


def test_ask_one_turn(triton: EmbeddedTriton, served_index: Path) -> None:
    # A model turn (the closest FAQ entry is not shown as written), so the engine is used.
    env = _env(
        triton_url=triton.grpc_url,
        index_dir=str(served_index),
        max_tokens="16",
        entry_threshold="1.0",
    )
    done = subprocess.run(
        [sys.executable, "-m", "chatbot", "ask", "--json", "My card was stolen, help!"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # Shown as generated, or retracted by the claim check for the closest entry as written.
    assert result["answered_by"] in {"model", "fallback"} and result["answer"]
    assert "data/faq/cards.json#card-001" in [c["id"] for c in result["citations"]]

    down = subprocess.run(
        [sys.executable, "-m", "chatbot", "ask", "My card was stolen, help!"],
        cwd=REPO,
        env=_env(
            triton_url="127.0.0.1:1",
            index_dir=str(served_index),
            connect_timeout="1",
            entry_threshold="1.0",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert down.returncode == 1
    assert "error:" in down.stderr and "127.0.0.1:1" in down.stderr
    assert "Traceback" not in down.stderr
