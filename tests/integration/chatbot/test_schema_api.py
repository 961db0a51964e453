"""The OpenAPI schema tells the truth: schemathesis, with every check, against the running API
(real rails, index, Redis and Triton) finds no failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.settings import Settings
from tests.integration.chatbot.conftest import ADMIN_KEY, ApiServer, variant

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_schemathesis_finds_no_failure(
    api_settings: Settings, private_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, index_dir = private_data  # uploads change the data folder: a copy of it
    # An admin key may also chat, so one header reaches every route.
    own = variant(
        api_settings, data_dir=data, index_dir=index_dir, admin_faq_file=tmp_path / "admin-faq.csv"
    )
    with ApiServer(own) as api:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(CONFIG),
                "run",
                f"{api.url}/schema/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {ADMIN_KEY}",
                "--max-examples",
                "30",
                "--workers",
                "1",
                "--request-timeout",
                "120",
                "--seed",
                "20261207",
                "--no-color",
            ],
            cwd=tmp_path,  # its cache and crash files stay out of the repository
            capture_output=True,
            text=True,
            timeout=1200,
        )
    report = run.stdout + run.stderr
    summary = report[report.rfind("SUMMARY") :] if "SUMMARY" in report else report[-4000:]
    print(summary)  # the cases tried, shown with -s and in CI logs on failure
    assert run.returncode == 0, report[-20000:]
    assert " passed" in summary and "failure" not in summary.lower()
