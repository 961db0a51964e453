"""The ``chatbot`` command's shape: split over the modules of ``chatbot.cli``, it must still
offer every command, in the same order, from the entry point that pyproject.toml names."""

from __future__ import annotations

import tomllib
from importlib import import_module
from pathlib import Path

import typer
from typer.testing import CliRunner

from chatbot.cli import app

REPO = Path(__file__).resolve().parents[3]


def _commands(help_text: str) -> list[str]:
    """The command names of a rich help page's Commands panel, in order."""
    lines = help_text.split("Commands", 1)[1].splitlines()[1:]
    names = []
    for line in lines:
        cell = line.strip("│ ").split(" ", 1)[0]
        if line.startswith("╰"):
            break
        if cell and line.startswith("│ ") and not line.startswith("│  "):
            names.append(cell)
    return names


def test_the_console_script_and_python_m_use_this_app() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    module, _, name = scripts["chatbot"].partition(":")
    assert getattr(import_module(module), name) is app
    assert "from chatbot.cli import app" in (REPO / "chatbot" / "__main__.py").read_text()
    assert isinstance(app, typer.Typer)


def test_every_command_in_order() -> None:
    runner = CliRunner()
    root = runner.invoke(app, ["--help"], terminal_width=120)
    assert root.exit_code == 0
    assert _commands(root.output) == ["ingest", "search", "up", "api", "ask", "engine"]
    engine = runner.invoke(app, ["engine", "--help"], terminal_width=120)
    assert engine.exit_code == 0
    assert _commands(engine.output) == ["serve", "prepare"]


def test_an_empty_search_is_a_readable_error_with_exit_code_1() -> None:
    done = CliRunner().invoke(app, ["search", "  "])
    assert done.exit_code == 1
    assert "the query is empty" in done.output
