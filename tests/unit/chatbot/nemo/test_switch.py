from __future__ import annotations

import pytest

from chatbot import nemo
from chatbot.nemo import switch


@pytest.fixture(autouse=True)
def no_app_running(monkeypatch: pytest.MonkeyPatch) -> None:
    # An app of the test session (the integration tests' API) may hold the switch already.
    monkeypatch.setattr(switch, "_serving", 0)


def test_the_runtime_stays_switched_until_the_last_app_stops() -> None:
    first, second = nemo.serving(), nemo.serving()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert nemo.active() == nemo.ALL  # the other app still runs
    second.__exit__(None, None, None)
    assert nemo.active() == frozenset()


def test_a_stock_app_runs_nemo_as_it_ships() -> None:
    with nemo.serving(()):
        assert nemo.active() == frozenset()
    with nemo.serving():
        assert nemo.active() == nemo.ALL
