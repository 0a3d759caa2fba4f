"""The notice kinds an SOP may name as templates. Each has a template per locale."""

from __future__ import annotations

NOTICE_KINDS: dict[str, str] = {
    "request_submitted": "the request was filed (to the requester)",
    "action_required": "a request awaits the recipient's decision (to officials)",
    "returned_for_correction": "the request is returned with the reason and what to fix",
    "stage_approved": "a stage was approved",
    "request_rejected": "the request was rejected, with reason code and legal clause",
    "request_approved": "final approval",
    "deadline_approaching": "a deadline is near",
    "deadline_breached": "a deadline passed",
    "request_escalated": "the request was escalated after a breach",
    "request_withdrawn": "the requester withdrew the request",
    "request_expired": "the request expired",
}

TEMPLATE_IDS = frozenset(NOTICE_KINDS)
