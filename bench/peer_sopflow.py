"""sopflow as one more column of the peer benchmark (../shared/peers/workload.md).

Every step goes through the service layer (``Commands.act``): load the user and the
request, check visibility, let the core fire the trigger (role check, requirements), then
one transaction with the request row (optimistic version check), the hash-chained event,
the global chain head and outbox rows. The workload's process is the SOP
``bench/peer-recruitment-approval.v1.yaml``.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import bench_common as bc
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.services import Command, OrgInput
from sopflow.settings import Settings
from sopflow.sop_files import SopCatalogue, compile_file
from sopflow.store.db import make_engine, upgrade

HERE = Path(__file__).resolve().parent
SOP_FILE = HERE / "peer-recruitment-approval.v1.yaml"
SOP_ID = "peer-recruitment-approval"


def email(actor: str) -> str:
    return f"{actor}@bench.example"


class Sopflow:
    name = "sopflow"

    def __init__(self, args: object) -> None:
        self.sync = getattr(args, "sync", "NORMAL")
        self.refs: dict[int, str] = {}
        self.services = None

    def versions(self) -> dict[str, str]:
        return {d: version(d) for d in ("sopflow", "transitions", "SQLAlchemy", "sqlmodel")}

    def setup(self, db: str | None) -> None:
        url = f"sqlite:///{db}"
        engine = make_engine(url)
        if self.sync != "NORMAL":

            @sa.event.listens_for(engine, "connect")
            def _sync(dbapi_conn: object, _rec: object) -> None:
                dbapi_conn.execute(f"PRAGMA synchronous={self.sync}")  # type: ignore[attr-defined]

        upgrade(engine)
        cfg = Settings(database_url=url, data_dir=Path(db).parent / "sopflow-data")
        catalogue = SopCatalogue()
        catalogue.add(compile_file(SOP_FILE))
        services = bootstrap.build(cfg, db=engine)
        services.ctx.sops._files = lambda: catalogue
        services.ctx.sops._catalogue = None
        directory = services.directory
        directory.add_org(OrgInput("Bench employer", "employer", "EG", id="bench-employer"))
        directory.add_org(OrgInput("Bench ministry", "authority", "EG", id="bench-ministry"))
        for role in bc.ROLE_OF_STATE.values():
            org = "bench-employer" if role == "employer_agent" else "bench-ministry"
            for k in range(bc.ACTORS_PER_ROLE):
                directory.add_user(email(f"{role}-{k}"), f"{role} {k}", org, [role])
        self.services = services

    def create(self, inst: bc.Instance) -> None:
        data = dict(inst.payload)
        data["documents"] = ", ".join(data["documents"])
        result = self.services.commands.submit(
            SOP_ID, email("employer_agent-0"), Command(data=data)
        )
        self.refs[inst.id] = result.reference

    def step(self, st: bc.Step) -> tuple[str, int, int]:
        marks: list[int] = []
        result = self.services.commands.act(
            self.refs[st.instance_id],
            st.action,
            email(st.actor),
            Command(comment=st.data["comment"]),
            marks,
        )
        return result.state, marks[0], marks[1]

    def finish(self) -> None:
        pass

    def verify(self) -> dict[str, object]:
        engine = self.services.ctx.store.engine
        with engine.connect() as conn:
            counts = dict(
                conn.execute(sa.text("SELECT state, count(*) FROM requests GROUP BY state")).all()
            )
            steps = conn.execute(
                sa.text("SELECT count(*) FROM events WHERE trigger != 'create'")
            ).scalar()
        intact = self.services.audit.verify().intact
        return {"final_counts": counts, "events": steps, "chain_intact": intact}

    def close(self) -> None:
        self.services.ctx.store.engine.dispose()


if __name__ == "__main__":
    sys.exit(bc.main(Sopflow))
