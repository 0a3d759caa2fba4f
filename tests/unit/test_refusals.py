"""Refusals and flags said in the reader's language: every sentence exists in the three
working languages with the same values, every kind of bad value is said in French and
Arabic with the SOP's own labels, and what no sentence covers is given in English rather
than lost."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from notifications.flags import say
from notifications.render import SAMPLE_CONTEXT, TemplateRenderer
from sopflow.errors import AdapterError, InvalidData
from sopflow.sop_files import compile_file
from sopflow.spec import values
from sopflow.web.refusals import SENTENCES, explain
from states import Actor, Payload, create
from states.rules import FLAG_WORKER_FEE

SOPS = Path(__file__).resolve().parents[2] / "sop_definitions"
EG = compile_file(SOPS / "eg-mom-international-placement.v1.yaml")


def placeholders(sentence: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", sentence))


@pytest.mark.parametrize("key", sorted(SENTENCES))
def test_every_sentence_is_in_three_languages_with_the_same_values(key: str) -> None:
    sentence = SENTENCES[key]
    assert set(sentence) == {"en", "fr", "ar"}
    assert placeholders(sentence["fr"]) == placeholders(sentence["en"])
    assert placeholders(sentence["ar"]) == placeholders(sentence["en"])


RULES_SOURCE = Path(__file__).resolve().parents[2] / "states" / "rules.py"


@pytest.mark.parametrize("why", sorted(set(re.findall(r'why="([a-z-]+)"',
                                                       RULES_SOURCE.read_text()))))  # fmt: skip
def test_every_reason_a_rule_gives_is_said_in_the_readers_language(why: str) -> None:
    # a reason with no sentence would reach a French or Arabic page in English
    assert f"rule:{why}" in SENTENCES


BAD_VALUES: dict[str, Any] = {
    "workers_requested": 0,  # out of range
    "contract_months": "twelve",  # not a number
    "destination_country": "XX",
    "occupation": "99999",
    "industry": "ZZ",
    "contact_email": "demands-at-redsea",
    "legal_regime": "law_1_1900",  # not one of the choices
    "monthly_wage": {"amount": "1500", "currency": "ZZZ"},
    "worker_fee": {"amount": "a lot", "currency": "USD"},
    "pdo_attendance_date": "2026-13-01",
    "passports_machine_readable": "yes",
    "employer_name": "",  # required
    "favourite_colour": "blue",  # no such field
}


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_every_bad_value_is_said_in_the_readers_language(lang: str) -> None:
    _, errors = values.validate_data(EG.fields, BAD_VALUES)
    said = explain(InvalidData(errors).to_dict(), lang, EG)

    assert {e.field for e in errors} == set(BAD_VALUES)
    for error in errors:
        assert said.fields[error.field] != error.message, error
        assert "{" not in said.fields[error.field]


def test_values_and_fields_are_named_by_the_sops_labels() -> None:
    _, errors = values.validate_data(EG.fields, {"legal_regime": "law_1_1900",
                                                 "workers_requested": 0})  # fmt: skip
    said = explain(InvalidData(errors).to_dict(), "fr", EG)

    assert said.fields["workers_requested"] == "doit être au moins 1"
    assert "Nombre de travailleurs demandés : doit être au moins 1" in said.summary
    assert "law_14_2025" not in said.fields["legal_regime"]  # the choices by their labels
    assert said.fields["legal_regime"].startswith("choisissez parmi : ")


def test_what_no_sentence_covers_is_given_in_english() -> None:
    unknown = {"code": "database-full", "message": "the database is full: free space"}
    odd_rule = {"code": "requirement-not-met", "trigger": "attest_demand", "unmet": [
        {"code": "rule-failed", "message": "a rule of tomorrow refused",
         "params": {"rule": "future_rule", "why": "unheard-of"}}]}  # fmt: skip

    assert explain(unknown, "ar").summary == "the database is full: free space"
    assert "a rule of tomorrow refused" in explain(odd_rule, "fr", EG).summary
    assert "« Légaliser la demande »" in explain(odd_rule, "fr", EG).summary


def test_a_flag_is_said_in_the_notices_language_with_its_values() -> None:
    recorded = FLAG_WORKER_FEE.format(fee="100 SAR")

    assert say(recorded, "fr") == "frais à la charge du travailleur : 100 SAR"
    assert say(recorded, "ar") == "رسوم مفروضة على العامل: 100 SAR"
    assert say(recorded, "en") == recorded
    assert say("a flag of an older rule", "fr") == "a flag of an older rule"


def test_a_french_notice_lists_its_flags_in_french() -> None:
    context = {**SAMPLE_CONTEXT, "flags": [FLAG_WORKER_FEE.format(fee="100 SAR")]}
    rendered = TemplateRenderer().render("stage_approved", "fr", context)

    assert "- frais à la charge du travailleur : 100 SAR" in rendered.text
    assert "worker fee" not in rendered.text


def test_a_document_too_large_is_said_beside_its_kind_with_its_size() -> None:
    error = {"code": "invalid-data", "errors": [
        {"field": "document:attestation", "code": "document-too-large",
         "message": "scan.pdf exceeds 10000000 bytes",
         "params": {"file": "scan.pdf", "limit": 10_000_000}}]}  # fmt: skip
    said = explain(error, "fr", EG)

    assert said.fields == {"attestation": "scan.pdf dépasse 10\u202fMo"}
    assert said.summary.endswith(
        "Légalisation par le consulat ou l'attaché du travail : scan.pdf dépasse 10\u202fMo"
    )


def test_a_document_of_a_refused_type_says_in_arabic_which_types_are_accepted() -> None:
    error = {"code": "invalid-data", "errors": [
        {"field": "document:attestation", "code": "document-type",
         "message": "cv.exe is application/x-msdownload; allowed: application/pdf, image/png",
         "params": {"file": "cv.exe", "media": "application/x-msdownload",
                    "allowed": ["application/pdf", "image/png"]}}]}  # fmt: skip
    said = explain(error, "ar", EG)

    assert said.fields == {
        "attestation": "الملف cv.exe من نوع application/x-msdownload؛ "
        "الأنواع المقبولة: application/pdf، image/png"
    }


def test_a_reason_the_step_does_not_take_lists_its_reasons_by_their_labels() -> None:
    error = {"code": "invalid-data", "errors": [
        {"field": "reason", "code": "unknown-reason", "message": "'bogus' is not a reason",
         "params": {"reason": "bogus", "allowed": ["incomplete_documents"]}}]}  # fmt: skip
    said = explain(error, "fr", EG)

    assert said.summary.endswith(
        "Motif : ce motif ne vaut pas pour cette étape ; choisissez "
        "parmi : « Pièces requises manquantes ou incomplètes »"
    )


def test_a_refused_filing_says_each_missing_field_and_document_beside_it() -> None:
    filer = Actor("agent@nile.example", frozenset({"employer_agent"}))
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidData) as caught:
        create(EG, filer, Payload(data={"workers_requested": 0}), now)
    said = explain(caught.value.to_dict(), "fr", EG)

    assert said.fields["workers_requested"] == "doit être au moins 1"
    assert said.fields["employer_name"] == "est obligatoire"
    assert said.fields["demand_letter"] == "est obligatoire"
    assert "{" not in said.summary and "document:" not in said.summary


def test_a_condition_that_cannot_be_computed_is_said_with_its_message_and_empty_fields() -> None:
    error = {"code": "requirement-not-met", "trigger": "submit", "unmet": [
        {"code": "condition-error", "subject": "worker_fee.amount + 1 > 0",
         "message": "Fee. (condition 'worker_fee.amount + 1 > 0' cannot be computed: ...)",
         "params": {"message": {"en": "The fee is checked.", "fr": "Les frais sont vérifiés."},
                    "expression": "worker_fee.amount + 1 > 0",
                    "error": "'+' on a missing value", "empty": ["worker_fee"]}}]}  # fmt: skip
    said = explain(error, "fr", EG)

    fee = EG.fields["worker_fee"].label.fr
    assert f"Les frais sont vérifiés. (vérification impossible pour l'instant : aucune valeur " \
           f"pour « {fee} »)" in said.summary  # fmt: skip


def test_a_document_too_large_is_413_also_when_a_flow_run_reported_it() -> None:
    from sopflow.errors import FieldError
    from sopflow.web.refusals import status_of
    from workflows.client import rejection

    too_large = InvalidData([FieldError("document:demand_letter", "document-too-large",
                                        "big.pdf is larger than 10 MB")])  # fmt: skip
    other = InvalidData([FieldError("workers_requested", "wrong-type", "a whole number")])

    assert status_of(too_large) == 413 and status_of(other) == 422
    # in the embedded and distributed modes the refusal comes back from a flow run as its
    # dictionary: the same status, for the API and the pages alike
    assert status_of(rejection(too_large.to_dict())) == 413  # type: ignore[arg-type]
    assert status_of(rejection(other.to_dict())) == 422  # type: ignore[arg-type]


def test_a_document_from_the_wrong_role_names_who_provides_it_in_the_readers_language() -> None:
    error = {"code": "invalid-data", "errors": [
        {"field": "document:attestation", "code": "document-not-providable",
         "message": "att.pdf: a document of kind 'attestation' may be provided only by "
                    "labour_attache",
         "params": {"file": "att.pdf", "document": "attestation",
                    "providers": ["labour_attache"], "roles": ["employer_agent"]}}]}  # fmt: skip

    said = explain(error, "fr", EG)

    assert said.fields == {"attestation": "att.pdf : ce document est fourni uniquement par "
                           "Attaché du travail (bureau de représentation du travail)"}  # fmt: skip
    assert "Légalisation par le consulat" in said.summary


def test_a_frozen_field_names_the_stage_in_arabic() -> None:
    error = {"code": "invalid-data", "errors": [
        {"field": "workers_requested", "code": "field-frozen", "message": "may not be changed",
         "params": {"field": "workers_requested", "state": "advertisement_drafting",
                    "editable": []}}]}  # fmt: skip

    said = explain(error, "ar", EG)

    stage = "تم اعتماد الطلب، في انتظار تقديم الإعلان"
    assert said.fields == {"workers_requested": f"لم يعد تعديله ممكنًا في مرحلة «{stage}»"}


@pytest.mark.parametrize(
    "error",
    [
        AdapterError("the database x.db is not migrated", code="database-not-migrated"),
        AdapterError("the stored text of SOP eg v1 was altered", code="sop-altered"),
        AdapterError("SOPFLOW_MAIL: cannot work", code="configuration-error"),
        AdapterError("the database is locked", retryable=True, code="database-error"),
    ],
    ids=lambda e: e.code,
)
def test_a_servers_failure_reported_by_a_flow_run_keeps_its_status(error: AdapterError) -> None:
    """A flow run reports what failed as its dictionary; rebuilt, it is the server's failure
    (5xx) it was, not a refusal of the caller's command (400)."""
    from sopflow.web.refusals import status_of
    from workflows.client import rejection

    rebuilt = rejection(error.to_dict())

    assert isinstance(rebuilt, AdapterError) and rebuilt.code == error.code
    assert status_of(rebuilt) == status_of(error) >= 500
