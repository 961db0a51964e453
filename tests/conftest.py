"""Every test runs with the NeMo speed-ups on, as the app does by default; a test that
switches them restores them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatbot import nemo


@pytest.fixture(autouse=True)
def nemo_speedups() -> Iterator[None]:
    nemo.install()
    yield
    nemo.install()
