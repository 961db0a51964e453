from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import publish


def _script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake_bench.py"
    script.write_text(body, encoding="utf-8")
    return str(script)


def test_a_run_replaces_only_its_own_section(tmp_path: Path) -> None:
    doc = tmp_path / "evaluation.md"
    first = _script(tmp_path, "print('| a | 1 |')")
    assert publish.main(["rails", "--doc", str(doc), "--", first]) == 0
    assert publish.main(["chat", "--doc", str(doc), "--", first]) == 0
    again = _script(tmp_path, "print('| a | 2 |')")
    assert publish.main(["rails", "--doc", str(doc), "--", again]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Evaluation")
    rails = text.split("<!-- bench:rails -->")[1].split("<!-- /bench:rails -->")[0]
    chat = text.split("<!-- bench:chat -->")[1].split("<!-- /bench:chat -->")[0]
    assert "| a | 2 |" in rails and "| a | 1 |" not in rails
    assert "| a | 1 |" in chat
    assert text.count("<!-- bench:rails -->") == 1
    assert "fake_bench.py" in rails and "cores" in rails


def test_a_failed_run_publishes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "evaluation.md"
    failing = _script(tmp_path, "import sys\nprint('| half |')\nsys.exit(3)")
    assert publish.main(["rails", "--doc", str(doc), "--", failing]) == 3
    assert not doc.exists()
    assert "nothing published" in capsys.readouterr().err


def test_a_bad_section_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        publish.main(["../x", "--doc", str(tmp_path / "e.md"), "--", sys.executable])
