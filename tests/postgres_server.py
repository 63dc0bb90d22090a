"""A throwaway PostgreSQL server on 127.0.0.1, from Debian's `postgresql` package: initdb and
pg_ctl in a temp dir, as the `postgres` user when the tests run as root (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

MISSING = "PostgreSQL's server is not installed; `apt-get install postgresql` (CI installs it)"


def server_bin() -> Path | None:
    """Debian keeps initdb and pg_ctl off PATH, under /usr/lib/postgresql/<version>/bin."""
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PostgresServer:
    binaries: Path
    folder: Path
    port: int
    user: str
    run_as: list[str]

    @classmethod
    def start(cls, port: int) -> PostgresServer:
        """Raises LookupError (with what to install) when no server can be had here."""
        binaries = server_bin()
        if binaries is None:
            raise LookupError(MISSING)
        run_as: list[str] = []
        user = pwd.getpwuid(os.getuid()).pw_name
        if os.getuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise LookupError("running as root and there is no `postgres` user to run initdb as") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise LookupError("running as root and `runuser` is missing, so initdb cannot drop root")
            run_as, user = [runuser, "-u", "postgres", "--"], "postgres"
        folder = Path(tempfile.mkdtemp(prefix="mentor-pg-"))
        if run_as:
            shutil.chown(folder, "postgres")
        server = cls(binaries, folder, port, user, run_as)
        server._run(binaries / "initdb", "-D", str(folder / "data"), "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8")
        server.restart()
        return server

    @property
    def url(self) -> str:
        """The server's maintenance database; `new_database` gives each test its own."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        name = f"mentor_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """A fast shutdown: connections are cut, as when the server goes down under a replica."""
        self._run(self.binaries / "pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop", check=False)

    def restart(self) -> None:
        """Start (again) on the same port and data: durability traded for speed, as tests need none."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c full_page_writes=off -c max_connections=200"
        self._run(self.binaries / "pg_ctl", "-D", str(self.folder / "data"), "-o", options, "-l", str(self.folder / "log"), "-w", "-t", "30", "start")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, *command: object, check: bool = True) -> None:
        result = subprocess.run([*self.run_as, *map(str, command)], capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{Path(str(command[0])).name} failed: {result.stderr.strip() or result.stdout.strip()}")
