"""The images' entrypoints, run here as the images run them.

No image is built: these machines have the Docker CLI but no Docker daemon (and no registry
for the base image). Instead the API image's entrypoint (``chatbot api``, build target
``api`` of chatbot/Dockerfile) is started with only the environment the image and
compose.yaml give it, and nothing else (no arguments, no .env file, a clean environment), and
the engine image's options (target ``engine``) are checked against the CLI.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from chatbot.serving import free_ports
from tests.unit.test_dockerfiles import API, ENGINE, target_stage

REPO = Path(__file__).resolve().parents[2]
CHATBOT = Path(sys.executable).parent / "chatbot"


def image_env(target: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in target_stage(target):
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value.replace("$PATH", "")
    return env


def exec_form(target: str, keyword: str) -> list[str]:
    rest = [r for k, r in target_stage(target) if k == keyword][-1]
    return shlex.split(rest.strip("[]").replace(",", " "))


def container_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The image's ENV, with the paths that only exist inside it moved here."""
    env = image_env(API)
    env.update(
        PATH=f"{CHATBOT.parent}:/usr/bin:/bin",
        HOME=str(tmp_path),
        CHATBOT_INDEX_DIR=str(tmp_path / "index"),
        CHATBOT_DATA_DIR=str(tmp_path / "data"),
        CHATBOT_CACHE_DIR=str(REPO / ".chatbot" / "cache"),  # the warmed cache, as in the image
        CHATBOT_PORT=str(free_ports(1)[0]),
        **extra,
    )
    return env


def test_api_image_defaults_refuse_to_start_without_keys(tmp_path: Path) -> None:
    env = container_env(tmp_path)
    assert env["CHATBOT_ENVIRONMENT"] == "production"
    assert env["CHATBOT_HOST"] == "0.0.0.0"
    done = subprocess.run(
        exec_form(API, "ENTRYPOINT") + exec_form(API, "CMD"),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "CHATBOT_API_KEYS" in done.stderr


def test_api_image_entrypoint_starts_from_environment_only(tmp_path: Path) -> None:
    redis_url = os.environ.get("CHATBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    env = container_env(
        tmp_path,
        CHATBOT_API_KEYS="k-0123456789abcdef",
        CHATBOT_ADMIN_KEYS="a-0123456789abcdef",
        CHATBOT_REDIS_URL=redis_url,
        CHATBOT_TRITON_URL=f"127.0.0.1:{free_ports(1)[0]}",  # no Triton: ready must say so
    )
    command = exec_form(API, "ENTRYPOINT") + exec_form(API, "CMD")
    assert command == ["chatbot", "api"]
    base = f"http://127.0.0.1:{env['CHATBOT_PORT']}"
    with subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as proc:
        try:
            deadline = time.monotonic() + 180
            while True:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                try:
                    with urllib.request.urlopen(f"{base}/health/live", timeout=2) as reply:
                        assert reply.status == 200
                        break
                except (urllib.error.URLError, ConnectionError):
                    assert time.monotonic() < deadline, "the API did not come up"
                    time.sleep(0.5)
            # What the image's HEALTHCHECK runs, with the container's environment.
            healthcheck = next(r for k, r in target_stage(API) if k == "HEALTHCHECK")
            code = healthcheck.split('python -c "', 1)[1].split('"', 1)[0]
            probe = subprocess.run([sys.executable, "-c", code], env=env, timeout=30)
            assert probe.returncode == 0
            with pytest.raises(urllib.error.HTTPError) as not_ready:
                urllib.request.urlopen(f"{base}/health/ready", timeout=10)
            assert not_ready.value.code == 503
            body = not_ready.value.read().decode()
            assert "triton" in body and "index" in body
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_engine_image_entrypoint_options_exist() -> None:
    command = exec_form(ENGINE, "ENTRYPOINT") + exec_form(ENGINE, "CMD")
    assert command[:3] == ["chatbot", "engine", "serve"]
    helptext = subprocess.run(
        [str(CHATBOT), "engine", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for option in (word for word in command[3:] if word.startswith("--")):
        assert option in helptext, option
