"""The embedded engine's supervisor: the restart backoff schedule and how an exit is told."""

from __future__ import annotations

from engines.embedded.server import Backoff, describe_exit


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(first=1.0, cap=30.0, stable_after=60.0)
    assert [backoff.delay(uptime=2.0) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_starts_over_after_a_server_stayed_up() -> None:
    backoff = Backoff(first=1.0, cap=30.0, stable_after=60.0)
    assert [backoff.delay(uptime=0.0) for _ in range(3)] == [1, 2, 4]
    assert backoff.delay(uptime=59.0) == 8  # not up long enough: still a crash loop
    assert backoff.delay(uptime=60.0) == 1
    assert backoff.delay(uptime=0.0) == 2


def test_exit_is_told_by_code_or_signal() -> None:
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(-11) == "was killed by SIGSEGV"
    assert describe_exit(-200) == "was killed by signal 200"
