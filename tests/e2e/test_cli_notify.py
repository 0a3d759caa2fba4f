"""``sopflow notify``: preview, deliver, list, retry, from the command line."""

from __future__ import annotations

import email
import re
from pathlib import Path

from tests.e2e.conftest import Sopflow
from tests.e2e.test_cli_lifecycle import cli, submit  # noqa: F401  (fixture and helper)
from tests.integration import world

ARABIC = re.compile(r"[\u0600-\u06ff]")


def test_preview_renders_a_transitions_notices_in_the_chosen_language(sopflow: Sopflow) -> None:
    arabic = sopflow.ok("notify", "preview", world.EG, "return_for_correction", "--locale", "ar")
    french = sopflow.ok("notify", "preview", world.TN, "submit", "--locale", "fr",
                        "--part", "html")  # fmt: skip

    assert ARABIC.search(arabic.out) and "to requester" in arabic.out
    assert "<html" in french.out and 'lang="fr"' in french.out


def test_preview_of_a_trigger_the_sop_lacks_is_refused(sopflow: Sopflow) -> None:
    run = sopflow.fails(1, "notify", "preview", world.EG, "no_such_trigger")
    misspelt = sopflow.fails(1, "notify", "preview", world.EG, "aprove_demand")
    assert (
        run.err.startswith(
            f"error[unknown-trigger] SOP '{world.EG}' v1 has no trigger 'no_such_trigger'; its "
            "triggers: "
        )
        and "attest_demand" in run.err
    )
    assert "(did you mean 'approve_demand'?)" in misspelt.err


def test_options_outside_their_values_are_usage_errors(sopflow: Sopflow) -> None:
    """A locale, part, status or limit the command cannot honour is refused, never
    answered with something else (English for German, every row for a limit of -5)."""
    for args, says in [
        (("preview", world.EG, "submit", "--locale", "de"), "'de' is not one of 'ar', 'fr',"),
        (("preview", world.EG, "submit", "--part", "pdf"), "'pdf' is not one of 'text', 'html'"),
        (("list", "--status", "bogus"), "'bogus' is not one of 'pending', 'sent', 'dead',"),
        (("list", "--limit", "-5"), "greater than or equal to 1"),
        (("deliver", "--limit", "0"), "greater than or equal to 1"),
    ]:
        run = sopflow.fails(2, "notify", *args)
        assert says in " ".join(run.err.split()), (args, run.err)


def test_deliver_writes_the_notices_and_list_shows_them_sent(cli: Sopflow, tmp_path: Path) -> None:
    submit(cli, world.EG, "agent", world.eg_data())
    pending = cli.ok("notify", "list", "--status", "pending", "--json").json()

    delivered = cli.ok("notify", "deliver")

    sent = cli.ok("notify", "list", "--status", "sent", "--json").json()
    assert f"{len(pending)} sent" in delivered.out
    assert {n["message_id"] for n in sent} == {n["message_id"] for n in pending}
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == len(pending)
    assert email.message_from_bytes(files[0].read_bytes())["Message-ID"]


def test_retry_needs_ids_or_all_dead(sopflow: Sopflow) -> None:
    run = sopflow.fails(2, "notify", "retry")
    assert "--all-dead" in run.err
    assert "0 notice(s) queued again" in sopflow.ok("notify", "retry", "--all-dead").err
