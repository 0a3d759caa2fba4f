"""The distributed setup for real: a ``prefect server``, ``sopflow deploy``, a ``sopflow
worker`` on the process pool, and the ``sopflow`` command with
``SOPFLOW_PREFECT_MODE=deployments`` submitting every command as a deployment run that the
worker executes (all subprocesses, against the test database: SQLite, or PostgreSQL when
SOPFLOW_TEST_DATABASE_URL is set). And a server that is down: a clear error, not a hang."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import (
    PREFECT,
    SOPFLOW,
    clean_env,
    free_port,
    run,
    start,
    stop,
    wait_until,
)
from tests.integration import world as w
from tests.integration.world import TN_PATH, Step, email

SERVER_START = 90.0  # seconds: bounds, not expectations
WORKER_START = 60.0


@dataclass
class Cluster:
    """The environment of a web process or CLI in deployments mode, and the server's API."""

    api: str
    env: dict[str, str]
    files: Path

    def sopflow(self, *args: str) -> Any:
        done = run([str(SOPFLOW), *args], self.env, self.files, timeout=300)
        assert done.returncode == 0, f"sopflow {' '.join(args)}: exit {done.returncode}\n" + (
            done.stdout + done.stderr
        )
        return done

    def file(self, name: str, content: bytes | dict[str, Any]) -> str:
        path = self.files / name
        if isinstance(content, dict):
            path.write_text(json.dumps(content), encoding="utf-8")
        else:
            path.write_bytes(content)
        return str(path)

    def documents(self, kinds: tuple[str, ...]) -> list[str]:
        args = []
        for kind in kinds:
            args += ["--document", f"{kind}={self.file(f'{kind}.pdf', w.pdf(kind))}"]
        return args


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def cluster(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A Prefect server, the deployments and one worker; all stopped at the end.

    Parametrized ``"relative-worker"``: the worker is started in a folder of its own with
    relative paths (``sqlite:///./sopflow.db``, ``outbox``, ``.sopflow``), as an operator
    following docs/deploy.md did; the CLI names the same files by absolute paths."""
    relative = getattr(request, "param", None) == "relative-worker"
    site = tmp_path / "site"
    site.mkdir()
    # SOPFLOW_TEST_PREFECT_PORT: a port reserved for this run's server (else any free one)
    port = int(os.environ.get("SOPFLOW_TEST_PREFECT_PORT") or free_port())
    api = f"http://127.0.0.1:{port}/api"
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    server_log, worker_log = tmp_path / "server.log", tmp_path / "worker.log"
    server = start(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        clean_env(
            PREFECT_HOME=str(tmp_path / "server-home"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        ),
        tmp_path,
        server_log,
    )
    worker = None
    try:
        wait_until(
            lambda: healthy(f"{api}/health"),
            SERVER_START,
            "prefect server /api/health",
            server,
            server_log,
        )
        sopflow_env = {
            "SOPFLOW_DATABASE_URL": database_url,
            "SOPFLOW_DATA_DIR": str(data),
            "SOPFLOW_OUTBOX_DIR": str(tmp_path / "outbox"),
            "PREFECT_API_URL": api,
        }
        worker_env = dict(sopflow_env)
        if relative:
            worker_env.update(SOPFLOW_DATA_DIR=".sopflow", SOPFLOW_OUTBOX_DIR="outbox")
            sopflow_env.update(SOPFLOW_DATA_DIR=str(site / ".sopflow"),
                               SOPFLOW_OUTBOX_DIR=str(site / "outbox"))  # fmt: skip
            if database_url.startswith("sqlite:///"):
                shutil.copy(database_url.removeprefix("sqlite:///"), site / "sopflow.db")
                worker_env["SOPFLOW_DATABASE_URL"] = "sqlite:///./sopflow.db"
                sopflow_env["SOPFLOW_DATABASE_URL"] = f"sqlite:///{site / 'sopflow.db'}"
        deployed = run(
            [str(SOPFLOW), "deploy"],
            clean_env(**sopflow_env, PREFECT_HOME=str(tmp_path / "deploy-home")),
            tmp_path,
            timeout=120,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "advance-request/sopflow" in deployed.stdout.splitlines()
        worker = start(
            [str(SOPFLOW), "worker"],
            clean_env(
                **worker_env,
                PREFECT_HOME=str(tmp_path / "worker-home"),
                PREFECT_WORKER_QUERY_SECONDS="1",
            ),
            site if relative else tmp_path,
            worker_log,
        )
        wait_until(
            lambda: _worker_online(api),
            WORKER_START,
            "a worker polling the pool",
            worker,
            worker_log,
        )
        yield Cluster(
            api,
            clean_env(
                **sopflow_env,
                SOPFLOW_PREFECT_MODE="deployments",
                PREFECT_HOME=str(tmp_path / "cli-home"),
            ),
            files,
        )
    finally:
        if worker is not None:
            stop(worker, grace=10)
        stop(server, grace=15)


def _worker_online(api: str) -> bool:
    try:
        answer = httpx.post(f"{api}/work_pools/sopflow/workers/filter", json={}, timeout=2.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and any(
        worker.get("status") == "ONLINE" for worker in answer.json()
    )


def create_tunisian_directory(cluster: Cluster) -> None:
    """The Tunisian authority, one enterprise and their people, through the CLI."""
    for org in (o for o in w.ORGS if o.id in (w.TN_AUTHORITY, w.ENTERPRISE)):
        kind = ["--kind", org.kind, "--country", str(org.country), "--id", str(org.id)]
        cluster.sopflow("org", "add", org.name, *kind)
    for who in ("enterprise", "examiner", "head_of_service", "signatory", "tn_auditor"):
        person = w.PEOPLE[who]
        roles = [arg for role in person.roles for arg in ("--role", role)]
        where = ["--name", who, "--org", person.org, "--locale", person.locale]
        cluster.sopflow("user", "add", person.email, *where, *roles)


_WORKERS = itertools.count(1)


def file_tunisian_request(cluster: Cluster) -> str:
    # each request is another worker's first contract (one passport may hold one initial
    # contract), dated as of today: the CLI runs on the real clock
    passport = f"D{next(_WORKERS):07d}"
    fresh = w.tn_dates(datetime.now(UTC))
    data = cluster.file("data.json", w.tn_data(passport_number=passport, **fresh))
    filing = ["--sop", w.TN, "--as", email("enterprise"), "--data", data]
    done = cluster.sopflow("request", "submit", *filing, *cluster.documents(w.TN_SUBMIT_DOCS))
    return str(done.stdout.strip().splitlines()[-1])


def act_args(reference: str, step: Step) -> list[str]:
    args = ["request", "act", reference, step.trigger, "--as", email(step.who)]
    if step.comment:
        args += ["--comment", step.comment]
    if step.reason:
        args += ["--reason", step.reason]
    return args


def act(cluster: Cluster, reference: str, step: Step) -> str:
    args = act_args(reference, step)
    if step.data:
        args += ["--data", cluster.file(f"{step.trigger}.json", step.data)]
    done = cluster.sopflow(*args, *cluster.documents(step.documents))
    return str(done.stdout.strip().splitlines()[-1])


def history(cluster: Cluster, reference: str) -> list[dict[str, Any]]:
    done = cluster.sopflow("audit", "history", reference, "--as", email("tn_auditor"), "--json")
    return list(json.loads(done.stdout)["events"])


def deployment_of(cluster: Cluster, flow_run_id: str) -> str:
    """The name (flow/deployment) of the deployment a flow run belongs to, once finished."""
    flow_run = httpx.get(f"{cluster.api}/flow_runs/{flow_run_id}", timeout=10).json()
    assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    deployment = httpx.get(f"{cluster.api}/deployments/{flow_run['deployment_id']}", timeout=10)
    flow = httpx.get(f"{cluster.api}/flows/{flow_run['flow_id']}", timeout=10)
    return f"{flow.json()['name']}/{deployment.json()['name']}"


@pytest.mark.distributed
def test_requests_move_through_deployment_runs_executed_by_a_worker(cluster: Cluster) -> None:
    create_tunisian_directory(cluster)

    granted = file_tunisian_request(cluster)
    states = [act(cluster, granted, step) for step in TN_PATH]
    too_late = run(
        [str(SOPFLOW), *act_args(granted, Step("enterprise", "withdraw", {}))],
        cluster.env,
        cluster.files,
    )
    withdrawn = file_tunisian_request(cluster)
    batch = cluster.files / "withdrawal.jsonl"
    lines = [
        {"command": "act", "as": email("examiner"), "reference": withdrawn,
         "trigger": "accept_filing"},
        {"command": "act", "as": email("enterprise"), "reference": withdrawn,
         "trigger": "withdraw", "comment": "The candidate declined the offer."},
    ]  # fmt: skip
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    imported = cluster.sopflow("request", "import", str(batch))

    assert states == ["examination", "service_review", "awaiting_signature", "visa_granted"]
    assert too_late.returncode == 1, too_late.stdout + too_late.stderr
    assert "error[trigger-not-allowed] the request is closed (state 'visa_granted')" in (
        too_late.stderr
    )
    # a refusal is a normal outcome of its run: no crash report with a traceback on the worker
    worker_log = (cluster.files.parent / "worker.log").read_text(encoding="utf-8")
    assert "Engine execution exited with unexpected exception" not in worker_log
    assert "Traceback" not in worker_log
    assert "2 command(s): 2 applied, 0 already applied, 0 failed" in imported.stdout
    for reference, final in ((granted, "visa_granted"), (withdrawn, "withdrawn")):
        view = cluster.sopflow("request", "show", reference, "--as", email("examiner"), "--json")
        assert json.loads(view.stdout)["state"] == final
    runs = {
        reference: [(e["trigger"], e["flow_run_id"]) for e in history(cluster, reference)]
        for reference in (granted, withdrawn)
    }
    assert all(run is not None for events in runs.values() for _, run in events), runs
    # a deployment run per command, the two events of a filing in one, the batch in one
    by_command = {run: deployment_of(cluster, run) for events in runs.values() for _, run in events}
    assert sorted(by_command.values()) == ["advance-request/sopflow"] * 6 + [
        "process-commands/sopflow"
    ]
    assert runs[withdrawn][-1][1] == runs[withdrawn][-2][1] != runs[withdrawn][0][1]
    cluster.sopflow("audit", "verify")


@pytest.mark.distributed
@pytest.mark.parametrize("cluster", ["relative-worker"], indirect=True)
def test_a_worker_started_with_relative_paths_uses_the_files_of_its_folder(
    cluster: Cluster,
) -> None:
    """Its flow runs run in temporary folders: they must still use the database, documents
    and outbox of the folder the worker was started in, not new, empty ones that Prefect
    deletes with the run (a request filed, its notices delivered where they belong)."""
    site = cluster.files.parent / "site"
    create_tunisian_directory(cluster)

    reference = file_tunisian_request(cluster)
    delivered = cluster.sopflow("notify", "deliver")

    sent = json.loads(cluster.sopflow("notify", "list", "--status", "sent", "--json").stdout)
    assert reference.startswith("TN-")
    assert sent and f"{len(sent)} sent" in delivered.stdout
    assert {f.name for f in (site / "outbox").glob("*.eml")} == {
        "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in n["message_id"]) + ".eml"
        for n in sent
    }


@pytest.mark.parametrize("api", ["closed-port", "unset"])
def test_deployments_mode_without_a_server_is_a_clear_error_not_a_hang(
    database_url: str, tmp_path: Path, api: str
) -> None:
    env = clean_env(
        SOPFLOW_DATABASE_URL=database_url,
        SOPFLOW_DATA_DIR=str(tmp_path / "data"),
        SOPFLOW_PREFECT_MODE="deployments",
        PREFECT_HOME=str(tmp_path / "prefect"),
    )
    if api == "closed-port":
        env["PREFECT_API_URL"] = f"http://127.0.0.1:{free_port()}/api"
    act = ["request", "act", "TN-2026-000001", "accept_filing", "--as", email("examiner")]

    done = run([str(SOPFLOW), *act], env, tmp_path, timeout=60)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "error[orchestrator-error]" in done.stderr
    expected = "is not answering" if api == "closed-port" else "needs PREFECT_API_URL"
    assert expected in done.stderr
