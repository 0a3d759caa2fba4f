"""A private PostgreSQL cluster for the tests that stop and start the server: created with
``initdb`` in a temporary folder, on a free port, owned by the ``postgres`` user (we run as
root). The shared server on 127.0.0.1:5432 is never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.processes import free_port

BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def binary(name: str) -> str | None:
    for folder in BINARIES:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def available() -> bool:
    return bool(
        binary("initdb") and binary("pg_ctl") and shutil.which("runuser") and os.geteuid() == 0
    )


@dataclass
class Cluster:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        done = subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(binary("pg_ctl")),
                "-D",
                str(self.folder / "data"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)}: {done.stdout}{done.stderr}\n{log}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A started cluster of its own; stopped (immediately) and removed afterwards. Its folder
    is made in /tmp, not under pytest's (mode 700, root's: postgres could not enter it)."""
    folder = Path(tempfile.mkdtemp(prefix="sopflow-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(binary("initdb")),
            "-D",
            str(folder / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    cluster = Cluster(folder, free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
