"""garak scan of the running chat API: offline jailbreak / injection probes, pass rates per probe.

garak (NVIDIA's LLM vulnerability scanner, PyPI ``garak``) runs in its own virtual environment
(``--venv``, default ``.chatbot/garak-venv``); it is never a dependency of the product. The
script creates that environment on first use (torch pinned to the 2.13.0 CPU wheel first, so
garak's unpinned torch requirement cannot pull CUDA, then ``garak==0.17.1``).

garak talks to the API through its REST generator (``bench/garak/rest_generator.json``): each
attempt is one ``POST /v1/chat`` with ``{"message": "$INPUT"}`` and no ``session_id`` (a fresh
session per attempt), and the model's output is the ``answer`` field of the JSON reply. A
message the guardrails block is a normal 200 answer, so garak scores the refusal text as the
model's output. The probes (``bench/garak/scan.yaml``) are offline ones only, with string/regex
detectors: dan, promptinject, encoding, latentinjection, web_injection, goodside, at
``soft_probe_prompt_cap`` prompts per probe and one generation per prompt.

The API must already run. In another terminal, a private stack on non-default ports:

    HF_HUB_OFFLINE=1 CHATBOT_PORT=8100 CHATBOT_TRITON_URL=127.0.0.1:8101 \\
      CHATBOT_ENGINE_HTTP_PORT=8110 CHATBOT_ENGINE_METRICS_PORT=8112 \\
      CHATBOT_INDEX_DIR=/tmp/garak-index CHATBOT_CACHE_DIR=/tmp/garak-cache \\
      CHATBOT_RATE_LIMIT_PER_MINUTE=100000 CHATBOT_MAX_MESSAGE_CHARS=20000 \\
      .venv/bin/chatbot up

(``CHATBOT_MAX_MESSAGE_CHARS`` raised so garak's long jailbreaks reach the rails instead of a
400; the table notes how many prompts the default limit of 2000 characters would refuse.)
Then:

    .venv/bin/python bench/garak_scan.py --api-url http://127.0.0.1:8100 [--api-key KEY]

Results go to ``--out-dir`` (default ``.chatbot/garak-runs/<UTC time>/``: garak's report JSONL,
hit log, HTML digest, its log, and ``summary.json``). ``--report FILE`` prints the table of an
existing report without scanning. Exit status: 0 when garak ran and every probe was evaluated
(whatever the pass rates), 1 when garak failed to run, a probe has no evaluation or more than
``--max-no-answer`` of the turns timed out, 2 when the API is not reachable. A turn that runs
past ``request_timeout`` is skipped rather than ending the run (``bench/garak/run_garak.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.garak_env import GARAK_VERSION, ScanError, ensure_garak  # noqa: E402
from bench.garak_report import parse_report, print_table  # noqa: E402

HERE = REPO / "bench" / "garak"
GENERATOR_TEMPLATE = HERE / "rest_generator.json"
SCAN_CONFIG = HERE / "scan.yaml"
ENTRY = HERE / "run_garak.py"  # garak's CLI, a read timeout skipping one attempt (not the run)
DEFAULT_VENV = REPO / ".chatbot" / "garak-venv"
DEFAULT_RUNS = REPO / ".chatbot" / "garak-runs"
GARAK_HOME = REPO / ".chatbot" / "garak-home"  # garak's XDG data/cache/config, kept out of ~
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
START_HINT = """\
Start the API first, e.g. in another terminal (a private stack on non-default ports):
  HF_HUB_OFFLINE=1 CHATBOT_PORT=8100 CHATBOT_TRITON_URL=127.0.0.1:8101 \\
    CHATBOT_ENGINE_HTTP_PORT=8110 CHATBOT_ENGINE_METRICS_PORT=8112 \\
    CHATBOT_INDEX_DIR=/tmp/garak-index CHATBOT_CACHE_DIR=/tmp/garak-cache \\
    CHATBOT_RATE_LIMIT_PER_MINUTE=100000 CHATBOT_MAX_MESSAGE_CHARS=20000 \\
    .venv/bin/chatbot up"""


# -- the API ---------------------------------------------------------------------------------


def check_api(api_url: str, api_key: str | None) -> None:
    """The API answers: ready, and one chat turn has the ``answer`` field garak reads."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=api_url, headers=headers, timeout=120) as client:
            ready = client.get("/health/ready")
            if ready.status_code != 200:
                raise ScanError(
                    f"{api_url}/health/ready answered {ready.status_code}: {ready.text}"
                )
            turn = client.post("/v1/chat", json={"message": "hello"})
    except httpx.HTTPError as exc:
        raise ScanError(f"the API at {api_url} is not reachable ({exc})") from exc
    if turn.status_code != 200:
        raise ScanError(f"POST {api_url}/v1/chat answered {turn.status_code}: {turn.text[:300]}")
    body = turn.json()
    if not isinstance(body, dict) or not isinstance(body.get("answer"), str):
        raise ScanError(f"POST {api_url}/v1/chat has no text 'answer': {turn.text[:300]}")


# -- the run ---------------------------------------------------------------------------------


def write_configs(
    run_dir: Path,
    api_url: str,
    api_key: str | None,
    cap: int | None,
    parallel: int | None,
    probes: list[str] | None,
    request_timeout: float | None,
) -> tuple[Path, Path]:
    """garak's run config and generator options for this run, from the templates in
    ``bench/garak/``. The key is never written: garak reads it from ``REST_API_KEY``."""
    uri = api_url.rstrip("/") + "/v1/chat"
    generator = json.loads(GENERATOR_TEMPLATE.read_text())
    options = generator["rest"]["RestGenerator"]
    options["uri"] = uri
    if api_key:
        options["headers"]["Authorization"] = "Bearer $KEY"
    if request_timeout is not None:
        options["request_timeout"] = request_timeout
    generator_file = run_dir / "rest_generator.json"
    generator_file.write_text(json.dumps(generator, indent=2) + "\n")

    config: dict[str, Any] = yaml.safe_load(SCAN_CONFIG.read_text())
    config["plugins"]["target_name"] = uri
    config.setdefault("reporting", {})
    config["reporting"]["report_dir"] = str(run_dir)
    config["reporting"]["report_prefix"] = "garak"
    if cap is not None:
        config["run"]["soft_probe_prompt_cap"] = cap
    if parallel is not None:
        config["system"]["parallel_attempts"] = parallel if parallel > 1 else False
    if probes:
        config["run"]["spec"]["include"] = [f"probes.{p.removeprefix('probes.')}" for p in probes]
    config_file = run_dir / "scan.json"  # JSON is YAML: garak reads either
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    return config_file, generator_file


def selected_probes(config_file: Path) -> list[str]:
    config = json.loads(config_file.read_text())
    return [str(p).removeprefix("probes.") for p in config["run"]["spec"]["include"]]


def run_garak(
    python: Path, run_dir: Path, config_file: Path, generator_file: Path, api_key: str | None
) -> Path:
    """Run the scan; its console output is shown and kept in ``garak.log``. The report path."""
    env = {**os.environ, **OFFLINE_ENV}
    for xdg in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        env[xdg] = str(GARAK_HOME / xdg.split("_")[1].lower())
    env.pop("REST_API_KEY", None)
    if api_key:
        env["REST_API_KEY"] = api_key
    cmd = [
        str(python), str(ENTRY),
        "--config", str(config_file),
        "--generator_option_file", str(generator_file),
    ]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    log = run_dir / "garak.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cmd, env=env, cwd=run_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            sink.write(line)
        rc = proc.wait()
    report = run_dir / "garak.report.jsonl"
    if rc != 0:
        raise ScanError(f"garak exited with status {rc} (see {log})")
    if not report.exists():
        raise ScanError(f"garak wrote no report {report} (see {log})")
    return report


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api-url", default="http://127.0.0.1:8100", help="the running chat API")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("CHATBOT_GARAK_API_KEY"),
        help="a CHATBOT_API_KEYS key, when the API needs one (default $CHATBOT_GARAK_API_KEY)",
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="garak's own venv")
    parser.add_argument(
        "--out-dir", type=Path, help="run folder (default .chatbot/garak-runs/<time>)"
    )
    parser.add_argument(
        "--prompt-cap", type=int, help="override soft_probe_prompt_cap of scan.yaml"
    )
    parser.add_argument("--parallel", type=int, help="override parallel_attempts of scan.yaml")
    parser.add_argument(
        "--probes", help="comma-separated probes (module.Class) instead of scan.yaml's list"
    )
    parser.add_argument(
        "--request-timeout", type=float, help="seconds per turn (default rest_generator.json's)"
    )
    parser.add_argument(
        "--max-no-answer",
        type=float,
        default=0.05,
        help="fail when more than this share of attempts got no answer (timeouts; default 0.05)",
    )
    parser.add_argument("--report", type=Path, help="only print the table of this garak report")
    args = parser.parse_args(argv)

    if args.report is not None:
        table = parse_report(args.report)
        if not table.rows:
            print(f"no evaluation in {args.report}", file=sys.stderr)
            return 1
        print_table(table)
        return 0

    started = time.monotonic()
    try:
        check_api(args.api_url, args.api_key)
    except ScanError as exc:
        print(f"error: {exc}\n{START_HINT}", file=sys.stderr)
        return 2
    try:
        python = ensure_garak(args.venv.resolve())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        run_dir = (args.out_dir or DEFAULT_RUNS / stamp).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        config_file, generator_file = write_configs(
            run_dir,
            args.api_url,
            args.api_key,
            args.prompt_cap,
            args.parallel,
            [p.strip() for p in args.probes.split(",") if p.strip()] if args.probes else None,
            args.request_timeout,
        )
        scan_started = time.monotonic()
        report_file = run_garak(python, run_dir, config_file, generator_file, args.api_key)
        scan_s = time.monotonic() - scan_started
        report = parse_report(report_file)
        if not report.rows:
            raise ScanError(f"garak's report {report_file} holds no evaluation")
        missing = sorted(set(selected_probes(config_file)) - {r.probe for r in report.rows})
    except ScanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = print_table(report)
    summary |= {
        "api_url": args.api_url,
        "garak": GARAK_VERSION,
        "scan_seconds": round(scan_s, 1),
        "report": str(report_file),
        "missing_probes": missing,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"garak scan {scan_s / 60:.1f} min (all: {(time.monotonic() - started) / 60:.1f} min)")
    print(f"report {report_file}\nsummary {run_dir / 'summary.json'}")
    if missing:
        print(f"error: probes with no evaluation: {', '.join(missing)}", file=sys.stderr)
        return 1
    if report.no_output > args.max_no_answer * max(report.attempts, 1):
        print(
            f"error: {report.no_output} of {report.attempts} attempts got no answer",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
