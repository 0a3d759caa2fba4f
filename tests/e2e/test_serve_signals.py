"""``sopflow serve`` ended by a signal to its own process (what ``kill``, ``docker stop`` or a
supervisor sends, rather than to the whole process group): the local Prefect API it owns
stops with it, and the CLI is no longer told to use it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import SOPFLOW, clean_env, free_port, start, stop, wait_until

pytestmark = pytest.mark.slow


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


ENDINGS = [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 0)]  # (signal, exit status)


@pytest.mark.parametrize(("sig", "status"), ENDINGS, ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_server_stops_the_prefect_api_it_owns(
    tmp_path: Path, sig: int, status: int
) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    advertised = tmp_path / ".sopflow" / "prefect-api.url"
    # a package of the same name in the working directory must not replace the embedded
    # API's own module (its server is started with `python -m uvicorn`)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "__init__.py").write_text("", encoding="utf-8")
    server = start([str(SOPFLOW), "serve", "--port", str(port)], clean_env(), tmp_path, log)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health") and advertised.exists(),
                   180, "sopflow serve and its Prefect API", server, log)  # fmt: skip
        api = advertised.read_text(encoding="utf-8").strip()
        assert _answers(f"{api}/health")

        os.kill(server.pid, sig)  # the leader alone, not its group
        server.wait(timeout=60)

        assert server.returncode == status  # it exited; it was not killed mid-way
        assert not advertised.exists()
        wait_until(lambda: not _answers(f"{api}/health"), 15, "the Prefect API to stop")
    finally:
        stop(server)


def test_a_killed_server_leaves_no_prefect_api_behind(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    advertised = tmp_path / ".sopflow" / "prefect-api.url"
    server = start([str(SOPFLOW), "serve", "--port", str(port)], clean_env(), tmp_path, log)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health") and advertised.exists(),
                   180, "sopflow serve and its Prefect API", server, log)  # fmt: skip
        api = advertised.read_text(encoding="utf-8").strip()

        os.kill(server.pid, signal.SIGKILL)  # no clean-up of its own is possible
        server.wait(timeout=60)

        # the API notices that its parent is gone and stops; the address file stays, but
        # the CLI checks that an advertised API answers before it uses it
        wait_until(lambda: not _answers(f"{api}/health"), 30, "the orphaned Prefect API to stop")
    finally:
        stop(server)


def test_a_port_already_taken_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import socket
    import subprocess

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([str(SOPFLOW), "serve", "--port", str(port)], env=clean_env(),
                              cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.strip().endswith(
        f"error[cannot-listen] cannot listen on 127.0.0.1:{port}: Address already in use; "
        "another program (another sopflow serve?) listens there: choose another --port"
    )
    assert "Prefect" not in done.stderr  # refused before the local Prefect API was started
    assert not (tmp_path / ".sopflow" / "prefect-api.url").exists()
