"""``sopflow serve`` with ``SOPFLOW_PREFECT_MODE=off`` runs the same periodic jobs as with
Prefect (the services the flows call, called directly), and the links of the notices it
delivers point at the address it serves."""

from __future__ import annotations

import email
import email.policy
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Sopflow
from tests.e2e.processes import SOPFLOW, clean_env, free_port, run, start, stop, wait_until
from tests.e2e.test_cli_lifecycle import cli, submit  # noqa: F401  (fixture and helper)
from tests.integration import world

pytestmark = pytest.mark.slow


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _links(eml: Path) -> str:
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _to_users(outbox: Path) -> list[Path]:
    """The notices to users (a contact address taken from the data gets no link to sign in)."""
    contact = world.eg_data()["contact_email"]
    return [eml for eml in outbox.glob("*.eml")
            if email.message_from_bytes(eml.read_bytes())["To"] != contact]  # fmt: skip


@pytest.mark.parametrize("public_url", [None, "https://sop.example.org/"])
def test_off_mode_serve_drains_the_outbox_with_links_to_its_address(
    cli: Sopflow, tmp_path: Path, public_url: str | None
) -> None:
    submit(cli, world.EG, "agent", world.eg_data())
    pending = cli.ok("notify", "list", "--status", "pending", "--json").json()
    assert pending
    outbox = tmp_path / "outbox"
    port, log = free_port(), tmp_path / "serve.log"
    env = clean_env(**cli.env)
    if public_url:
        env["SOPFLOW_PUBLIC_URL"] = public_url
    server = start([str(SOPFLOW), "serve", "--port", str(port), "--deliver-every", "1"],
                   env, tmp_path, log)  # fmt: skip
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health")
                   and len(list(outbox.glob("*.eml"))) == len(pending),
                   120, "sopflow serve (off) to deliver the outbox", server, log)  # fmt: skip
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        assert server.returncode == 128 + signal.SIGTERM
    finally:
        stop(server)

    said = log.read_text(encoding="utf-8")
    assert "outbox drained every 1 s (services called directly" in said
    base = (public_url or f"http://127.0.0.1:{port}/").rstrip("/")
    assert f"links point at {base}/" in said
    for eml in outbox.glob("*.eml"):
        text = _links(eml)
        assert (f"{base}/requests/" in text) is (eml in _to_users(outbox)), text
        assert "127.0.0.1:8000" not in text
    sent = cli.ok("notify", "list", "--status", "sent", "--json").json()
    assert {n["message_id"] for n in sent} == {n["message_id"] for n in pending}


def test_serve_refuses_an_outbox_that_is_a_file_at_startup(tmp_path: Path) -> None:
    (tmp_path / "outfile").write_text("", encoding="utf-8")
    env = clean_env(SOPFLOW_PREFECT_MODE="off", SOPFLOW_OUTBOX_DIR="outfile",
                    SOPFLOW_DATABASE_URL=f"sqlite:///{tmp_path}/sopflow.db")  # fmt: skip
    done = run([str(SOPFLOW), "serve", "--port", str(free_port())], env, tmp_path, timeout=120)
    assert done.returncode == 1, done.stderr
    said = " ".join(done.stderr.split())
    # the relative path, made absolute when the settings were read: the file named exactly
    assert (f"error[configuration-error] SOPFLOW_OUTBOX_DIR: {tmp_path / 'outfile'} is a file, "
            "not a folder") in said  # fmt: skip


def test_the_cli_links_notices_to_the_running_server(cli: Sopflow, tmp_path: Path) -> None:
    """``notify deliver`` from the CLI while ``serve --port P`` runs (same data folder): its
    links point at that server; once it stops, at the default again."""
    port, log = free_port(), tmp_path / "serve.log"
    advertised = tmp_path / "data" / "served.url"
    server = start([str(SOPFLOW), "serve", "--port", str(port), "--deliver-every", "3600"],
                   clean_env(**cli.env), tmp_path, log)  # fmt: skip
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health") and advertised.exists(),
                   120, "sopflow serve (off)", server, log)  # fmt: skip
        submit(cli, world.EG, "agent", world.eg_data())
        cli.ok("notify", "deliver")
    finally:
        stop(server, grace=30)
    files = _to_users(tmp_path / "outbox")
    assert files
    for eml in files:
        assert f"http://127.0.0.1:{port}/requests/" in _links(eml)
    assert not advertised.exists()
