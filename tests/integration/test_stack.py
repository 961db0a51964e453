"""The launcher that tests and benchmarks share (``chatbot.stack``): a private Redis, the API
in a child process, and what a failed start looks like."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chatbot.errors import StackError
from chatbot.settings import Settings
from chatbot.stack import ApiProcess, api_env, on_free_ports, private_redis
from tests.integration.conftest import REPO


def _ping(url: str) -> bytes:
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), 2) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16)


def test_private_redis_answers_and_is_gone_afterwards() -> None:
    with private_redis() as url:
        assert url.startswith("redis://127.0.0.1:")
        assert _ping(url).startswith(b"+PONG")
    with pytest.raises(OSError):
        _ping(url)


def test_free_ports_are_distinct_and_local() -> None:
    settings = on_free_ports(Settings())
    ports = {
        settings.port,
        int(settings.triton_url.rpartition(":")[2]),
        settings.engine_http_port,
        settings.engine_metrics_port,
    }
    assert len(ports) == 4
    assert settings.host == "127.0.0.1" and settings.triton_url.startswith("127.0.0.1:")
    env = api_env(settings, api_keys="k")
    assert env["CHATBOT_PORT"] == str(settings.port) and env["CHATBOT_API_KEYS"] == "k"
    assert env["CHATBOT_TRITON_URL"] == settings.triton_url


def test_an_api_that_exits_is_reported_with_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = on_free_ports(Settings(cache_dir=tmp_path))
    env = api_env(settings, index_dir=str(tmp_path / "index"), rate_limit_per_minute="nonsense")
    with (
        pytest.raises(StackError, match="exited while starting"),
        ApiProcess(settings.port, env, cwd=REPO) as api,
    ):
        api.wait_ready(120)
    assert not api.alive()
    assert "--- API log (tail) ---" in capsys.readouterr().err


def test_an_api_without_its_engine_is_not_ready_and_is_stopped(tmp_path: Path) -> None:
    settings = on_free_ports(Settings(cache_dir=tmp_path))
    env = {**api_env(settings, index_dir=str(tmp_path / "index")), "HF_HUB_OFFLINE": "1"}
    with ApiProcess(settings.port, env, cwd=REPO) as api:
        with pytest.raises(StackError, match="not ready after"):
            api.wait_ready(20)
        assert api.alive()
        process = api.process
    assert process is not None and process.poll() is not None
