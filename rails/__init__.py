"""NeMo Guardrails configurations (one folder per profile) and the Python logic of each rail.

A profile folder holds ``config.yml`` and its Colang flows (and, for ``production``, the
self-check prompts). A profile may say ``extends: <profile>`` in its ``config.yml``: it then
adds its flows, models and prompts to that profile's, and its ``rails:`` and ``core:`` sections
replace the base's, so it lists every flow it runs and names its search provider. The actions
the flows execute are in :mod:`rails.actions`; the logic of each rail is a module of this
package (typed, tested and shared between profiles).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from nemoguardrails import RailsConfig

ROOT = Path(__file__).resolve().parent
PROFILES = ("default", "production")


def profile_path(name: str) -> Path:
    if name not in PROFILES:
        raise ValueError(f"unknown rails profile {name!r}; known: {', '.join(PROFILES)}")
    return ROOT / name


def load_config(path: Path) -> RailsConfig:
    """The NeMo config of a profile folder, with the profile it extends underneath."""
    from nemoguardrails import RailsConfig

    config = RailsConfig.from_path(str(path))
    raw = yaml.safe_load((path / "config.yml").read_text(encoding="utf-8")) or {}
    base = raw.get("extends")
    if base:
        return load_config(profile_path(str(base))) + config
    return config
