"""Reading the sources of ``prepare.py`` (a plain folder, a checkout, or a bare git snapshot)
and the text helpers every corpus uses: spacing, InsuranceQA's tokenised text, the split."""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SPLIT_SALT = "faq-bench-external-v1"


class SourceMissingError(Exception):
    """A source file is not in the given folder or git snapshot."""


@dataclass(frozen=True)
class Blob:
    """One source file's bytes and where they came from."""

    data: bytes
    origin: dict[str, str]


# --- reading sources -----------------------------------------------------------------------


def _git_dir(root: Path) -> Path | None:
    for candidate in (root / ".git", root):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def _git(gitdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], capture_output=True, check=False)


def read_source(root: Path, rel: str, rev: str = "HEAD") -> Blob:
    """``rel`` from a plain folder or checkout (file on disk), else from ``rev`` of its git dir."""
    path = root / rel
    if path.is_file():
        data = path.read_bytes()
        origin = {"root": str(root), "path": rel, "commit": "(working tree)"}
    else:
        gitdir = _git_dir(root)
        if gitdir is None:
            raise SourceMissingError(f"{root}: no file {rel} and not a git snapshot")
        shown = _git(gitdir, "cat-file", "blob", f"{rev}:{rel}")
        if shown.returncode != 0:
            why = shown.stderr.decode(errors="replace").strip()
            raise SourceMissingError(f"{root}: {rev}:{rel} cannot be read ({why})")
        data = shown.stdout
        commit = _git(gitdir, "rev-parse", rev).stdout.decode().strip()
        origin = {"root": str(root), "path": rel, "commit": commit}
    origin["sha256"] = hashlib.sha256(data).hexdigest()
    origin["bytes"] = str(len(data))
    return Blob(data, origin)


def read_file(path: Path) -> Blob:
    data = path.read_bytes()
    origin = {"root": str(path.parent), "path": path.name, "commit": "(file)"}
    origin["sha256"] = hashlib.sha256(data).hexdigest()
    origin["bytes"] = str(len(data))
    return Blob(data, origin)


# --- text helpers --------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_PTB = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
_PTB_RE = re.compile("|".join(re.escape(k) for k in _PTB))
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?%)\]}]|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b|n't\b)")
_SPACE_AFTER = re.compile(r"([(\[{$])\s+")


def collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def detokenize(text: str) -> str:
    """Undo the Stanford-tokenizer spacing of InsuranceQA text ("word , word -LRB- x -RRB-")."""
    text = _PTB_RE.sub(lambda m: _PTB[m.group(0)], collapse(text))
    text = _SPACE_BEFORE.sub(r"\1", text)
    return _SPACE_AFTER.sub(r"\1", text)


def split_of(key: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    return "dev" if digest[0] < 128 else "test"


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank, non-comment lines of a text file with their 1-based line numbers."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = collapse(line)
        if text and not text.startswith("#"):
            yield n, text
