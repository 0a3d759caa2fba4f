"""parse_sop: every structural problem becomes one located issue with a stable code."""

from __future__ import annotations

import hashlib

import pytest

from sopflow.spec.loader import parse_sop
from tests.factories import BENCH, position, read

BENCH_TEXT = read(BENCH)


def parse(text: str):
    return parse_sop(text, "f.yaml")


def edit(old: str, new: str) -> str:
    assert BENCH_TEXT.count(old) == 1, f"'{old}' must occur once in the bench SOP"
    return BENCH_TEXT.replace(old, new)


def errors(parsed):
    return [i for i in parsed.issues if i.severity == "error"]


def only_issue(parsed):
    assert len(parsed.issues) == 1, [i.format() for i in parsed.issues]
    return parsed.issues[0]


def test_the_bench_sop_parses_without_issues():
    parsed = parse(BENCH_TEXT)

    assert parsed.issues == []
    assert parsed.spec is not None
    assert parsed.spec.id == "peer-recruitment-approval"
    assert parsed.content_hash == "sha256:" + hashlib.sha256(BENCH_TEXT.encode()).hexdigest()


def test_unknown_top_level_key_is_located_at_the_key_with_a_hint():
    text = edit("reference_prefix: BN", "reference_prefx: BN")

    parsed = parse(text)

    assert parsed.spec is None
    unknown = next(i for i in parsed.issues if i.code == "unknown-key")
    assert (unknown.line, unknown.column) == position(text, "reference_prefx")
    assert unknown.message == "unknown key 'reference_prefx' in the document"
    assert unknown.hint == "did you mean 'reference_prefix'?"
    assert "missing-key" in [i.code for i in parsed.issues]


def test_unknown_key_in_a_transition_suggests_a_key_of_transitions():
    text = edit("{trigger: submit, from: draft,", "{trigger: submit, lable: x, from: draft,")

    issue = only_issue(parse(text))

    assert issue.code == "unknown-key"
    assert (issue.line, issue.column) == position(text, "lable")
    assert issue.message == "unknown key 'lable' in transitions[0]"
    assert issue.hint == "did you mean 'label'?"


@pytest.mark.parametrize(
    ("field_type", "wrong", "suggestion"),
    [("string", "max_len", "max_length"), ("money", "currency", "currencies")],
)
def test_unknown_key_in_a_field_suggests_a_key_of_that_field_type(field_type, wrong, suggestion):
    text = edit(
        "{id: employer_name, type: string, required: true,",
        f"{{id: employer_name, type: {field_type}, required: true, {wrong}: 3,",
    )

    issue = only_issue(parse(text))

    assert issue.code == "unknown-key"
    assert (issue.line, issue.column) == position(text, f"{wrong}:")
    assert issue.hint == f"did you mean '{suggestion}'?"


def test_missing_top_level_key_is_reported_on_the_document():
    issue = only_issue(parse(edit("version: 1\n", "")))

    assert issue.code == "missing-key"
    assert issue.message == "the document: missing required key 'version'"
    assert (issue.line, issue.column) == (3, 1)  # the first key, after the comment lines


def test_missing_nested_key_is_located_at_its_mapping():
    old = "- {id: employer_agent, kind: requester, scope: own_organisation,"
    text = edit(old, "- {id: employer_agent, kind: requester,")

    issue = only_issue(parse(text))

    assert issue.code == "missing-key"
    assert issue.message == "roles[0]: missing required key 'scope'"
    assert (issue.line, issue.column) == position(text, "{id: employer_agent")


def test_wrong_type_is_located_at_the_value():
    text = edit("version: 1\n", "version: one\n")

    issue = only_issue(parse(text))

    assert issue.code == "wrong-type"
    assert issue.message.startswith("version: Input should be a valid integer")
    assert (issue.line, issue.column) == position(text, "one")


def test_a_boolean_where_a_count_is_expected_is_a_wrong_type():
    text = edit("version: 1\n", "version: true\n")

    issue = only_issue(parse(text))

    assert issue.code == "wrong-type"
    assert issue.message.startswith("version: Input should be a valid integer")


@pytest.mark.parametrize(
    ("old", "new", "written", "hint"),
    [
        ("version: 1\n", 'version: "2"\n', '"2"', "write 2 without quotes: in quotes it is a text"),
        ("{id: employer_name, type: string, required: true,",
         "{id: employer_name, type: string, required: 'true',", "'true'",
         "write true without quotes: in quotes it is a text"),
    ],
)  # fmt: skip
def test_a_quoted_number_or_boolean_is_told_to_lose_its_quotes(old, new, written, hint):
    """BUG: working_days: "15" said only 'Input should be a valid integer'."""
    text = edit(old, new)

    issue = only_issue(parse(text))

    assert issue.code == "wrong-type"
    assert issue.hint == hint
    assert (issue.line, issue.column) == position(text, written)


def test_a_quoted_count_of_working_days_is_told_to_lose_its_quotes():
    text = edit(
        "  - {id: submitted, label:",
        '  - {id: submitted, sla: {working_days: "15"}, on_breach: {notify: []}, label:',
    )

    issue = only_issue(parse(text))

    assert issue.message == "states[1].sla.working_days: Input should be a valid integer"
    assert issue.hint == "write 15 without quotes: in quotes it is a text"
    assert (issue.line, issue.column) == position(text, '"15"')


def test_a_quoted_fraction_where_a_count_is_expected_gets_no_quotes_hint():
    """Without its quotes 1.5 would still not be a whole number."""
    issue = only_issue(parse(edit("version: 1\n", 'version: "1.5"\n')))

    assert issue.code == "wrong-type"
    assert issue.hint is None


def test_scalar_where_a_list_is_expected_is_a_wrong_type():
    text = edit("weekend: [friday, saturday]", "weekend: friday")

    issue = only_issue(parse(text))

    assert issue.code == "wrong-type"
    assert issue.message.startswith("calendar.weekend:")


def test_invalid_literal_has_a_did_you_mean_hint():
    text = edit("{id: employer_agent, kind: requester,", "{id: employer_agent, kind: requestor,")

    issue = only_issue(parse(text))

    assert issue.code == "invalid-value"
    assert issue.message.startswith("roles[0].kind: Input should be 'requester'")
    assert issue.hint == "did you mean 'requester'?"
    assert (issue.line, issue.column) == position(text, "requestor")


def test_invalid_literal_in_a_list_is_located_at_the_item():
    text = edit("weekend: [friday, saturday]", "weekend: [friday, saturdy]")

    issue = only_issue(parse(text))

    assert issue.code == "invalid-value"
    assert issue.message.startswith("calendar.weekend[1]:")
    assert issue.hint == "did you mean 'saturday'?"
    assert (issue.line, issue.column) == position(text, "saturdy")


def test_invalid_literal_far_from_any_choice_has_no_hint():
    issue = only_issue(parse(edit("default_locale: en", "default_locale: de")))

    assert issue.code == "invalid-value"
    assert issue.hint is None


def test_unknown_field_type_has_a_hint():
    text = edit("{id: isco_code, type: isco08,", "{id: isco_code, type: isco8,")

    issue = only_issue(parse(text))

    assert issue.code == "unknown-field-type"
    assert issue.message == "fields[2]: unknown field type 'isco8'"
    assert issue.hint == "did you mean 'isco08'?"
    assert (issue.line, issue.column) == position(text, "isco8,")


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("number", "did you mean 'integer' or 'decimal'?"),
        ("int", "did you mean 'integer'?"),
        ("float", "did you mean 'decimal'?"),
        ("double", "did you mean 'decimal'?"),
        ("str", "did you mean 'string'?"),
        ("bool", "did you mean 'boolean'?"),
        ("datetime", "did you mean 'date'?"),
        ("currency", "did you mean 'money'?"),
        ("Integer", "did you mean 'integer'?"),
        ("select", "did you mean 'enum'?"),
    ],
)
def test_a_field_type_of_another_language_suggests_ours(written, hint):
    """BUG: 'number' got pydantic's 'Input tag ... does not match any of the expected tags'
    and the closest spelling, 'enum'."""
    text = edit(
        "{id: workers_requested, type: integer,", f"{{id: workers_requested, type: {written},"
    )

    issue = only_issue(parse(text))

    assert issue.code == "unknown-field-type"
    assert issue.message == f"fields[3]: unknown field type '{written}'"
    assert issue.hint == hint
    assert (issue.line, issue.column) == position(text, f"{written},")


def test_a_field_type_like_none_of_ours_lists_the_twelve():
    issue = only_issue(parse(edit("{id: isco_code, type: isco08,", "{id: isco_code, type: xyzzy,")))

    assert issue.message == (
        "fields[2]: unknown field type 'xyzzy'; a field's type is one of string, text, email, "
        "integer, decimal, money, date, boolean, country, isco08, isic or enum"
    )
    assert issue.hint is None


def test_a_field_without_a_type_is_a_missing_key():
    text = edit("{id: isco_code, type: isco08,", "{id: isco_code,")

    issue = only_issue(parse(text))

    assert issue.code == "missing-key"
    assert issue.message == "fields[2]: missing required key 'type'"
    assert (issue.line, issue.column) == position(text, "{id: isco_code")


def test_invalid_identifier_pattern():
    text = edit("{id: submitted,", "{id: Submitted,")

    issue = only_issue(parse(text))

    assert issue.code == "invalid-identifier"
    assert issue.message.startswith("states[1].id: 'Submitted' does not match ^[a-z]")
    assert issue.hint == "identifiers are lower-case words joined by _ or -"
    assert (issue.line, issue.column) == position(text, "Submitted")


def test_sop_id_has_its_own_pattern():
    issue = only_issue(parse(edit("id: peer-recruitment-approval", "id: Peer_Recruitment")))

    assert issue.code == "invalid-identifier"
    assert issue.message.startswith("id: 'Peer_Recruitment'")


def test_an_upper_case_pattern_gets_a_hint_of_its_own():
    issue = only_issue(parse(edit("reference_prefix: BN", "reference_prefix: demo")))

    assert issue.code == "invalid-identifier"
    assert issue.hint == "2 to 6 capital letters, like EG or DEMO"


def test_sla_needs_exactly_one_length():
    text = edit("{id: submitted,", "{id: submitted, sla: {working_days: 2, hours: 3},")

    issue = only_issue(parse(text))

    assert issue.code == "sla-length"
    assert issue.message == "states[1].sla: an sla needs exactly one of working_days or hours"
    assert (issue.line, issue.column) == position(text, "{working_days: 2")


def test_pattern_of_a_text_field_must_compile():
    text = edit(
        "{id: employer_name, type: string,", "{id: employer_name, type: string, pattern: '[a-',"
    )

    issue = only_issue(parse(text))

    assert issue.code == "bad-pattern"
    assert "unterminated character set" in issue.message


def test_recipient_of_two_kinds_is_refused_with_a_readable_message():
    """BUG: the message prints the doubled braces of the template literally:
    "a recipient is 'requester', {{role: ROLE}} or {{field: FIELD}}"."""
    text = edit(
        "{trigger: submit, from: draft,",
        "{trigger: submit, notify: [{to: {role: director, field: x}, template: t}], from: draft,",
    )

    issue = only_issue(parse(text))

    assert issue.code == "recipient-shape"
    assert issue.message.endswith(
        "a recipient is 'requester', a mapping 'role: ROLE' or a mapping 'field: FIELD'"
    )


def test_a_wrong_rule_parameter_is_one_issue_without_pydantic_type_names():
    """BUG: a list as a rule parameter gives four issues, one per member of the
    str | int | float | bool union, with paths like 'params.trigger.str'. (A list of texts
    is read: the linter says where a rule takes one, tests/unit/test_linter.py.)"""
    text = edit(
        "{trigger: submit, from: draft,",
        "{trigger: submit, requires: {rules: [{rule: step_done, params: {trigger: [1]}}]},"
        " from: draft,",
    )

    parsed = parse(text)

    assert [i.code for i in parsed.issues] == ["wrong-type"]
    assert parsed.issues[0].message.startswith("transitions[0].requires.rules[0].params.trigger:")


SUBMIT = (
    "  - {trigger: submit, from: draft, to: submitted, roles: [employer_agent], legal_clause: "
    "workload, label: {en: Submit, fr: Déposer, ar: تقديم}}\n"
)


def with_rules(*lines: str) -> str:
    block = (
        "  - trigger: submit\n    from: draft\n    to: submitted\n    roles: [employer_agent]\n"
        "    legal_clause: workload\n    label: {en: Submit, fr: Déposer, ar: تقديم}\n"
        "    requires:\n      rules:\n" + "".join(f"        {line}\n" for line in lines)
    )
    return edit(SUBMIT, block)


@pytest.mark.parametrize(
    ("lines", "hint"),
    [
        (["- agency_licence_valid:"],
         "did you mean '- agency_licence_valid' (without the colon) or "
         "'- rule: agency_licence_valid'?"),
        (["- agency_licence_valid:", "  params: {channel_field: placement_channel}"],
         "did you mean 'rule: agency_licence_valid'?"),
        (["- agency_licence_valid: {channel_field: placement_channel}"],
         "a rule with parameters is written '- rule: agency_licence_valid' and its parameters "
         "under 'params:'"),
    ],
)  # fmt: skip
def test_a_rule_written_as_a_key_is_one_issue_with_the_way_to_write_it(lines, hint):
    """BUG: '- agency_licence_valid:' (a stray colon) gave "missing required key 'rule'" and
    "unknown key 'agency_licence_valid'", neither saying how rules are written."""
    text = with_rules(*lines)

    issue = only_issue(parse(text))

    assert issue.code == "unknown-key"
    assert issue.message == (
        "unknown key 'agency_licence_valid' in transitions[0].requires.rules[0]"
    )
    assert issue.hint == hint
    assert (issue.line, issue.column) == position(text, "agency_licence_valid:")


def test_a_misspelt_rule_key_still_suggests_rule():
    issues = parse(with_rules("- rul: agency_licence_valid")).issues

    assert [(i.code, i.hint) for i in issues] == [
        ("missing-key", None),
        ("unknown-key", "did you mean 'rule'?"),
    ]


def test_yaml_problems_and_model_problems_are_all_reported_together():
    text = edit("version: 1\n", "version: 1\nversion: 2\n")
    text = text.replace("default_locale: en", "default_locale: de")
    text = text.replace("reference_prefix: BN", "reference_prefix: bn")

    parsed = parse(text)

    assert sorted(i.code for i in parsed.issues) == [
        "duplicate-key",
        "invalid-identifier",
        "invalid-value",
    ]
    assert parsed.spec is None


def test_warnings_alone_do_not_prevent_the_spec():
    text = edit('summary: "The peer benchmark process."', "summary: no")

    parsed = parse(text)

    assert [(i.code, i.severity) for i in parsed.issues] == [("yaml11-boolean", "warning")]
    assert parsed.spec is not None
    assert parsed.spec.legal_basis[0].summary == "no"


def test_yaml11_word_for_a_boolean_key_is_an_error_not_a_silent_false():
    """BUG: `required: no` is warned as 'read as the string "no"', yet pydantic's lax mode
    turns the string into False and the SOP is accepted; the loader's own hint for this
    case ('YAML 1.2 reads this as a text: write true or false') is never reached."""
    text = edit(
        "{id: workers_requested, type: integer, required: true,",
        "{id: workers_requested, type: integer, required: no,",
    )

    parsed = parse(text)

    assert parsed.spec is None
    wrong = [i for i in errors(parsed) if i.code == "wrong-type"]
    assert len(wrong) == 1
    assert (wrong[0].line, wrong[0].column) == position(text, "no,")
    assert wrong[0].hint == "YAML 1.2 reads this as a text: write true or false"


@pytest.mark.parametrize("text", ["just a string\n", "- a\n- b\n", "42\n"])
def test_a_document_that_is_not_a_mapping_is_refused(text):
    parsed = parse(text)

    assert parsed.spec is None
    assert [(i.code, i.line, i.column) for i in parsed.issues] == [("wrong-type", 1, 1)]
    assert parsed.issues[0].message == "an SOP file is a mapping of keys"


@pytest.mark.parametrize("text", ["null\n", "~\n", "---\n"])
def test_a_null_document_is_refused(text):
    """BUG: a document holding only null gives no spec and no issue at all."""
    parsed = parse(text)

    assert parsed.spec is None
    assert errors(parsed), "a file without an SOP must be reported"


def test_syntax_error_stops_before_the_models():
    parsed = parse(BENCH_TEXT.replace("jurisdiction: EG", "jurisdiction: [EG"))

    assert parsed.spec is None
    assert [i.code for i in parsed.issues] == ["yaml-syntax"]


def test_a_version_too_large_to_store_is_refused_at_the_value():
    """BUG: a 29-digit version validated, then `sop publish` crashed on SQLite."""
    text = edit("version: 1\n", "version: 99999999999999999999999999999\n")

    issue = only_issue(parse(text))

    assert issue.code == "invalid-value"
    assert issue.message == "version: Input should be less than or equal to 2147483647"
    assert (issue.line, issue.column) == position(text, "99999")


@pytest.mark.parametrize(
    ("old", "new", "shown"),
    [
        ("effective_from: 2026-01-01", "effective_from: 0", "0"),
        ("effective_from: 2026-01-01", "effective_from: 20260101", "20260101"),
        (
            "effective_from: 2026-01-01",
            "effective_from: 2026-01-01T10:00:00",
            "2026-01-01T10:00:00",
        ),
        ("holidays: EG}", "holidays: EG, extra_holidays: [1767225600]}", "1767225600"),
        (
            "{id: documents, type: text,",
            "{id: signed_on, type: date, min: 5, label: {en: a, fr: a, ar: a}}\n"
            "  - {id: documents, type: text,",
            "5",
        ),
    ],
)
def test_a_number_is_not_a_date(old, new, shown):
    """BUG: `effective_from: 0` was read as 1970-01-01 and `min: 1767225600` as 2026-01-01."""
    text = edit(old, new)

    issue = only_issue(parse(text))

    assert issue.code == "wrong-type"
    assert issue.message.endswith(f"expected a date YYYY-MM-DD, not '{shown}'")
    line, column = position(text, f"min: {shown}" if shown == "5" else shown)
    assert (issue.line, issue.column) == (line, column + (5 if shown == "5" else 0))


def test_a_date_written_as_a_quoted_text_is_read():
    parsed = parse(edit("effective_from: 2026-01-01", "effective_from: '2026-01-02'"))

    assert parsed.issues == []
    assert parsed.spec is not None and str(parsed.spec.effective_from) == "2026-01-02"
