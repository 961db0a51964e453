"""Databases for the store tests: a fresh SQLite file per test, and a fresh database per
test on a private PostgreSQL server (Debian's binaries, started once in a temporary folder
on a free port, stopped at the end). ``CHATBOT_TEST_POSTGRES_URL`` (an admin URL) uses an
existing server instead. Without either, the PostgreSQL cases fail, saying why: CI must run them."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ADMIN_URL = os.environ.get("CHATBOT_TEST_POSTGRES_URL")


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: Debian keeps them under /usr/lib/postgresql/<major>/."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivatePostgres:
    """initdb + pg_ctl in a temporary folder; as root, the server runs as ``postgres``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="chatbot-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "chatbot"
        self.url = f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            extra = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{extra}")

    def start(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    if ADMIN_URL:
        yield ADMIN_URL
        return
    bindir = postgres_bin()
    if bindir is None:
        pytest.fail(
            "PostgreSQL binaries (initdb, pg_ctl) not found: `make test` installs Debian's "
            "postgresql; or set CHATBOT_TEST_POSTGRES_URL"
        )
    server = PrivatePostgres(bindir)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


async def _create_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database (a SQLite file in a folder that does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/not/yet/there/chatbot.db"
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"chatbot_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_database(admin_url, name))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
