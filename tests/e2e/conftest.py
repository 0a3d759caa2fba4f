"""The ``sopflow`` command against a migrated test database (SQLite, or PostgreSQL when
SOPFLOW_TEST_DATABASE_URL is set), run in-process through its real entry point
(``sopflow.cli.main``: exit codes and messages exactly as in a shell), or as the installed
console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopflow import bootstrap, cli
from tests.integration.conftest import _template, database_url  # noqa: F401  (fixtures)

SOPFLOW = Path(sys.executable).with_name("sopflow")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def last_line(self) -> str:
        return self.out.strip().splitlines()[-1]


def _reset_process_wide_services() -> None:
    if bootstrap._services is not None:
        bootstrap._services.ctx.store.engine.dispose()
    bootstrap._services = None
    bootstrap.settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    """The CLI caches its settings and services per process: every test starts afresh."""
    _reset_process_wide_services()
    yield
    _reset_process_wide_services()


class Sopflow:
    """Runs ``sopflow ARGS`` with the test's environment; keeps files for --data/--document."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder

    def __call__(self, *args: str) -> Run:
        runner = CliRunner()
        with runner.isolation(env=self.env) as (out, err, _):
            argv, sys.argv = sys.argv, ["sopflow", *args]
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        return Run(code, out.getvalue().decode(), err.getvalue().decode())

    def ok(self, *args: str) -> Run:
        result = self(*args)
        assert result.code == 0, f"sopflow {' '.join(args)}: exit {result.code}\n{result.err}"
        return result

    def fails(self, code: int, *args: str) -> Run:
        result = self(*args)
        assert result.code == code, (
            f"sopflow {' '.join(args)}: exit {result.code}, expected {code}\n{result.err}"
        )
        return result

    @contextmanager
    def clock_at(self, moment: datetime) -> Iterator[None]:
        """Run the commands inside as if the time were ``moment`` (only the clock moves)."""
        real = bootstrap.utc_now
        _reset_process_wide_services()
        bootstrap.utc_now = lambda: moment
        try:
            yield
        finally:
            bootstrap.utc_now = real
            _reset_process_wide_services()

    def installed(self, *args: str) -> Run:
        """The console script in a subprocess, as a user's shell runs it."""
        done = subprocess.run(
            [str(SOPFLOW), *args],
            env={**os.environ, **self.env},
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def file(self, name: str, content: bytes | str | dict[str, Any]) -> str:
        path = self.folder / name
        if isinstance(content, dict):
            content = json.dumps(content, ensure_ascii=False)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return str(path)


@pytest.fixture
def sopflow(database_url: str, tmp_path: Path) -> Sopflow:
    files = tmp_path / "files"
    files.mkdir()
    env = {
        "SOPFLOW_DATABASE_URL": database_url,
        "SOPFLOW_DATA_DIR": str(tmp_path / "data"),
        "SOPFLOW_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SOPFLOW_PREFECT_MODE": "off",
        "COLUMNS": "200",
    }
    return Sopflow(env, files)
