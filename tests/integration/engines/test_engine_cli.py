"""`chatbot engine serve` starts a Triton server and shuts it down cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from chatbot.serving import free_ports
from tests.integration.conftest import CACHE, REPO


def test_engine_serve_and_sigterm() -> None:
    http, grpc, metrics = free_ports(3)
    env = {**os.environ, "CHATBOT_CACHE_DIR": str(CACHE.parent)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatbot",
            "engine",
            "serve",
            "--http-port",
            str(http),
            "--grpc-port",
            str(grpc),
            "--metrics-port",
            str(metrics),
            "--device",
            "cpu",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.time() + 240
        line = ""
        while time.time() < deadline and "Triton ready" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "engine exited before it was ready"
        url = f"http://127.0.0.1:{http}/v2/health/ready"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        try:
            urllib.request.urlopen(url, timeout=2)
        except OSError:
            pass  # the server is gone with its parent
        else:
            raise AssertionError("Triton still answers after the engine stopped")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_engine_serve_rejects_a_missing_model() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chatbot", "engine", "serve", "--model", "/no/such/model"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "does not exist" in done.stderr
