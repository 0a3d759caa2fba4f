"""A step's licence grounds against the directory log's timeline: which licence the agency
held at the step's moment, with the few minutes a command may read the directory after it
took its time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sopflow.domain.chain import canonical_json
from sopflow.domain.grounds_check import (
    ReliedOn,
    StoredLicences,
    grounds_breaks,
    licence_grounds,
    licences_in,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)
ACTIVE = {"licence_number": "EG-1", "licence_status": "active", "licence_expires": "2027-01-31"}
SUSPENDED = {**ACTIVE, "licence_status": "suspended"}


def stored(moment: datetime) -> str:
    """An entry's ``at`` as SQLite keeps it."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def relied(at: datetime, status: str = "active", agency: str = "nile") -> ReliedOn:
    ground = {"rule": "agency_licence_valid", "agency": agency, "licence": "EG-1",
              "status": status, "expires": "2027-01-31"}  # fmt: skip
    return ReliedOn("EG-2026-000001", 2, at, ground)


TIMELINE: dict[str, list[tuple[Any, dict[str, Any]]]] = {
    "nile": [(stored(T0), ACTIVE), (stored(T0 + timedelta(days=10)), SUSPENDED)]
}


def codes(*steps: ReliedOn) -> list[str]:
    return [b.code for b in grounds_breaks(steps, TIMELINE, FIVE_MINUTES)]


def test_grounds_that_are_the_licence_held_then_hold() -> None:
    assert not codes(relied(T0 + timedelta(days=1)))
    assert not codes(relied(T0 + timedelta(days=11), "suspended"))


def test_grounds_of_another_moment_are_unsupported() -> None:
    assert codes(relied(T0 + timedelta(days=11))) == ["grounds-unsupported"]  # suspended then
    assert codes(relied(T0 - timedelta(days=1))) == ["grounds-unsupported"]  # not yet recorded


def test_a_change_within_minutes_of_the_step_may_have_come_before_or_after_its_read() -> None:
    change = T0 + timedelta(days=10)
    for step in (change - timedelta(minutes=4), change + timedelta(minutes=4)):
        assert not codes(relied(step, "active")) and not codes(relied(step, "suspended"))
    assert codes(relied(change + timedelta(minutes=6), "active")) == ["grounds-unsupported"]


def test_the_break_names_the_step_what_it_relied_on_and_what_the_log_held() -> None:
    (found,) = grounds_breaks([relied(T0 + timedelta(days=11))], TIMELINE, FIVE_MINUTES)

    assert (found.reference, found.seq) == ("EG-2026-000001", 2)
    assert found.message.startswith(
        "request EG-2026-000001 seq 2: agency_licence_valid relied on nile's licence EG-1, "
        "active, expires 2027-01-31, but the directory log held licence EG-1, suspended, "
        "expires 2027-01-31 then (2026-03-12T09:00:00.000000Z)"
    )


def test_an_agency_the_log_never_held_is_said_so() -> None:
    (found,) = grounds_breaks([relied(T0, agency="ghost")], TIMELINE, FIVE_MINUTES)

    assert "the directory log held no organisation ghost then" in found.message


def test_only_grounds_naming_an_agencys_licence_are_held_against_the_log() -> None:
    payload = {"grounds": [
        {"rule": "renewal_allowed_once", "prior_contracts": 1, "prior_renewals": 0},
        {"rule": "agency_licence_valid", "agency": "nile", "licence": "EG-1",
         "status": "active", "expires": "2027-01-31"},
        "not an object",
    ]}  # fmt: skip

    found = licence_grounds("EG-2026-000001", 2, T0, payload)

    assert [g.ground["rule"] for g in found] == ["agency_licence_valid"]
    assert licence_grounds("EG-2026-000001", 1, T0, None) == []


# --- reading a stored payload's grounds from its text (``audit verify``'s chain scan) ---

LICENCE_GROUND = {"rule": "agency_licence_valid", "agency": "nile", "licence": "EG-1",
                  "status": "active", "expires": "2027-01-31"}  # fmt: skip
BRACKETED = {**LICENCE_GROUND, "licence": "EG-]2"}  # a ']' in a text: the array ends later
_ground = st.sampled_from([LICENCE_GROUND, BRACKETED, {**BRACKETED, "status": "suspended"},
                           {"rule": "counted", "count": 3}])  # fmt: skip
_word = st.sampled_from(["grounds", '"grounds":', "]", "[", "{", "}", ",", '\\"', "x", "é"])
_text = st.lists(_word, max_size=4).map("".join)
_key = st.sampled_from(["grounds", "agency", "a"])
_value = st.recursive(  # what may precede or follow the grounds: nested grounds among them
    st.one_of(st.none(), st.booleans(), st.integers(), _text, _ground),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_key, inner, max_size=3)),
    max_leaves=8,
)
_grounds = st.lists(st.one_of(_ground, _value), max_size=3)
_nested = st.fixed_dictionaries({"grounds": _grounds})  # a data field of that name
_payload = st.dictionaries(
    st.sampled_from(["comment", "data", "reason", "salt", "z", 'a"grounds']),
    st.one_of(_text, _value, _nested),
    max_size=4,
).flatmap(lambda rest: st.one_of(st.just(rest), _grounds.map(lambda g: {**rest, "grounds": g})))


@settings(max_examples=600, deadline=None)
@example(payloads=[{"data": {"grounds": [LICENCE_GROUND]}}], spaced=False)  # nested only
@example(payloads=[{'a"grounds': [LICENCE_GROUND]}], spaced=False)  # a key that ends so
@example(payloads=[{"grounds": [BRACKETED]}, {"grounds": [{**BRACKETED, "status": "x"}]}],
         spaced=False)  # two arrays alike up to their first ']'  # fmt: skip
@given(payloads=st.lists(_payload, min_size=1, max_size=4), spaced=st.booleans())
def test_a_stored_payloads_licences_are_those_of_its_decoded_grounds(
    payloads: list[dict[str, Any]], spaced: bool
) -> None:
    """Read in place where it can be and remembered between steps, a payload's licence
    grounds are exactly those of its top-level ``grounds`` decoded, whatever precedes them
    (nested ``grounds`` keys, brackets in texts) and whatever was read before."""
    read, read_utf8 = StoredLicences(), StoredLicences()
    for payload in payloads * 2:  # twice: the second reading comes from what was remembered
        text = json.dumps(payload, sort_keys=True) if spaced else canonical_json(payload)
        assert read(text) == licences_in(payload.get("grounds"))
        # as ``audit verify`` reads it: UTF-8 bytes after the hashed header's line
        hashed = f'["sopflow-event-v1","é",1]\n{text}'.encode()
        assert read_utf8.utf8(hashed, hashed.index(b"\n") + 1) == licences_in(
            payload.get("grounds"))  # fmt: skip


def test_a_payload_that_is_no_json_has_no_grounds() -> None:
    read = StoredLicences()
    for text in ('{"grounds":[', "not json, grounds", '["grounds"]', '{"grounds":]'):
        assert read(text) == []
        assert read.utf8(b"header\n" + text.encode(), 7) == []


def test_a_payload_written_with_its_grounds_twice_is_read_as_a_whole_decoding_reads_it() -> None:
    """No sopflow payload holds a key twice; one written by hand is read as ``json`` reads
    it (the last one), not as the first one found in place."""
    twice = (f'{{"grounds":[{canonical_json({**LICENCE_GROUND, "status": "revoked"})}],'
             f'"grounds":[{canonical_json(LICENCE_GROUND)}]}}')  # fmt: skip
    assert StoredLicences()(twice) == licences_in([LICENCE_GROUND])
    read = StoredLicences()
    for _ in range(2):  # the second reading after the first grounds were remembered
        assert read.utf8(b"header\n" + twice.encode(), 7) == licences_in([LICENCE_GROUND])


def test_grounds_remembered_from_one_payload_are_not_taken_for_grounds_not_its_own() -> None:
    """Once a grounds array is remembered, the same array's text elsewhere in a payload (a
    nested key, a key that only ends in ``grounds``, a key written twice, no object) is read as
    decoding reads the payload, in its text and in its UTF-8 bytes."""
    ground = canonical_json([LICENCE_GROUND])
    others = [
        f'{{"a":{{"grounds":{ground}}}}}',  # nested: the payload has no grounds
        f'{{"a\\"grounds":{ground}}}',  # a key that ends so
        f'{{"grounds":{ground},"grounds":[]}}',  # twice: the last one counts
        f'["a","grounds":{ground}]',  # no object at all: no JSON, no grounds
    ]
    read = StoredLicences()
    own = f'{{"grounds":{ground}}}'
    assert read(own) == read.utf8(b"header\n" + own.encode(), 7) == licences_in([LICENCE_GROUND])
    for text in others:
        assert read(text) == [], text
        assert read.utf8(b"header\n" + text.encode(), 7) == [], text
