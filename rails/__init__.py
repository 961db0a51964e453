"""NeMo Guardrails configurations (one folder per profile) and their Python actions.

A profile folder holds ``config.yml``, its Colang flows and an ``actions.py`` that NeMo
Guardrails loads; the logic of each action lives in a module of this package so it is typed,
tested and shared between profiles.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
PROFILES = ("default",)


def profile_path(name: str) -> Path:
    if name not in PROFILES:
        raise ValueError(f"unknown rails profile {name!r}; known: {', '.join(PROFILES)}")
    return ROOT / name
