"""Subprocesses for end-to-end tests: the installed ``sopflow`` (and ``prefect``) commands,
each in its own process group so that a test can always end it and everything it started,
with bounded waits everywhere (a test fails, it never hangs)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
SOPFLOW = BIN / "sopflow"
PREFECT = BIN / "prefect"


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any Prefect or sopflow setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SOPFLOW_"))}
    return {**env, "COLUMNS": "200", **settings}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """A long-running process in its own group, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 0) -> None:
    """End the process and its whole group: SIGTERM and ``grace`` seconds to exit, then
    SIGKILL for whatever is left (children that outlived their leader included)."""
    if grace > 0:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end (or kill its group after ``timeout`` seconds)."""
    process = subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        out, err = process.communicate()
        err += f"\n[killed after {timeout:.0f} s]"
    finally:
        stop(process)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    alive: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    every: float = 0.25,
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` s or if ``alive`` exits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({alive.returncode})\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{_tail(log)}")
        time.sleep(every)


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]
