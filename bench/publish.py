"""Run a benchmark and publish what it prints into ``docs/evaluation.md``.

``python -m bench.publish rails -- bench/rails_eval.py --split test`` runs the benchmark with
this interpreter, prints its output as it comes, and, when it exits 0, replaces the section
``rails`` of ``docs/evaluation.md`` (between ``<!-- bench:rails -->`` and
``<!-- /bench:rails -->``; appended when missing) with the command, the date, the machine and
the output verbatim. Measured figures live there and nowhere else: the README and the code
point to the section instead of quoting numbers that go stale. A failed run publishes
nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "evaluation.md"
_HEADER = """# Evaluation

Every figure on this page was printed by a benchmark and written here by `bench/publish.py`
(`python -m bench.publish NAME -- COMMAND...`); nothing is typed by hand. Each section names
the command, the commit, the date and the machine. To refresh one, run its command again.
"""
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def section(name: str, command: list[str], output: str, *, when: datetime.datetime) -> str:
    shown = " ".join(["python", *command])
    return (
        f"<!-- bench:{name} -->\n## {name}\n\n"
        f"`{shown}` at `{commit()}`, {when:%Y-%m-%d %H:%M} UTC, on {machine()}.\n\n"
        f"{output.strip()}\n<!-- /bench:{name} -->\n"
    )


def publish(doc: Path, name: str, text: str) -> None:
    """Put ``text`` (a whole section, markers included) in place of the section ``name``."""
    current = doc.read_text(encoding="utf-8") if doc.is_file() else _HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->\n.*?<!-- /bench:{re.escape(name)} -->\n", re.S
    )
    if pattern.search(current):
        updated = pattern.sub(lambda _: text, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    doc.parent.mkdir(parents=True, exist_ok=True)
    temporary = doc.with_suffix(".md.tmp")
    temporary.write_text(updated, encoding="utf-8")
    temporary.replace(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], usage="%(prog)s NAME [--doc DOC] -- SCRIPT [ARGS...]"
    )
    parser.add_argument("name", help="the section of docs/evaluation.md (e.g. rails)")
    parser.add_argument("--doc", type=Path, default=DOC)
    argv = sys.argv[1:] if argv is None else argv
    # Everything after `--` is the benchmark's own command line, options included.
    ours, command = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)
    if not _NAME.match(args.name) or not command:
        parser.error("give a section name (a-z, 0-9, -) and a command after --")
    when = datetime.datetime.now(datetime.UTC)
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    if process.wait() != 0:
        print(f"bench.publish: {' '.join(command)} failed; nothing published", file=sys.stderr)
        return process.returncode
    publish(args.doc, args.name, section(args.name, command, "".join(lines), when=when))
    print(f"bench.publish: section {args.name!r} of {args.doc} updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
