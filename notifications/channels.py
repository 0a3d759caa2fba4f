"""Where notices go: SendGrid, or ``.eml`` files in a folder (the embedded default).

Both carry the notice's stable message id (SendGrid: a custom argument and the
``X-Sopflow-Message-Id`` header; files: the ``Message-ID`` header and the file name), so a
retry after an unclear failure is recognisably the same message, never a new one, and the
file channel never writes a second file for it.
"""

from __future__ import annotations

import contextlib
import email.policy
import os
import ssl
import tempfile
import urllib.error
from datetime import UTC, datetime
from email.header import Header as MimeHeader
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, CustomArg, Header, Mail

from sopflow.domain.ports import DeliveryFailed, Message
from sopflow.errors import AdapterError

PERMANENT = {400, 401, 403, 404, 405, 413, 415}
# RFC 5322 lines (CRLF, at most 78 characters): what a mail client or an SMTP relay expects
EML = email.policy.SMTP.clone(max_line_length=78)


def _subject(subject: str) -> str:
    """The Subject header, folded so that any reader decodes exactly ``subject`` (its hash
    is the outbox row's ``subject_hash``).

    The email package's own folding loses text: the space between an encoded word and the
    next word (``الموافقة على`` read back as ``الموافقةعلى``; ``étranger) — Direction``
    as ``étranger)— Direction``), and it may fold right after ``Subject:`` so that a reader
    sees a leading space. So the header is encoded here: a non-ASCII subject (or one with
    spaces at its ends, which plain header text cannot keep, or one a reader would take
    for encoded words) as UTF-8 encoded words, every
    space inside a word; an ASCII one folded at spaces, after the header name."""
    plain = subject.isascii() and subject == subject.strip() and "=?" not in subject
    header = MimeHeader(subject, "us-ascii" if plain else "utf-8", maxlinelen=EML.max_line_length,
                    header_name="Subject")  # fmt: skip
    return header.encode(linesep=EML.linesep)


class FileChannel:
    """One ``.eml`` file per notice, openable in any mail client."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def not_a_folder(self) -> str | None:
        """Why the outbox folder cannot hold files (it, or a folder above it, is a file), or
        None: the folder exists or can be created."""
        for part in (self.folder, *self.folder.parents):
            if part.exists() and not part.is_dir():
                what = "" if part == self.folder else f" (in the outbox path {self.folder})"
                return (f"SOPFLOW_OUTBOX_DIR: {part} is a file, not a folder{what}: move it away "
                        "or set SOPFLOW_OUTBOX_DIR to a folder")  # fmt: skip
        return None

    def check(self) -> None:
        """Refuse at startup an outbox folder that cannot hold files."""
        problem = self.not_a_folder()
        if problem is not None:
            raise AdapterError(problem, code="configuration-error")

    def path_of(self, message_id: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in message_id)
        return self.folder / f"{safe}.eml"

    def send(self, message: Message) -> str:
        target = self.path_of(message.message_id)
        if target.exists():
            return target.name  # already written by an earlier attempt: not a second message
        mail = EmailMessage(policy=EML)
        mail["From"] = message.sender
        mail["To"] = message.to
        mail.set_raw("Subject", _subject(message.subject))
        mail["Date"] = format_datetime(datetime.now(UTC))  # "+0000": UTC ("-0000": unknown)
        mail["Message-ID"] = f"<{message.message_id}>"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        for key, value in message.headers.items():  # after: set_content drops Content-*
            mail[key] = value
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as handle:
                handle.write(mail.as_bytes())
            os.replace(tmp, target)
        except OSError as exc:
            problem = self.not_a_folder()
            if problem is not None:  # no retry can help: the operator must act (as on a 401)
                raise DeliveryFailed(f"cannot write {target}: {problem}; then "
                                     "'sopflow notify retry --all-dead'",
                                     retryable=False) from exc  # fmt: skip
            raise DeliveryFailed(f"cannot write {target}: {exc.strerror}", retryable=True) from exc
        return target.name


class SendGridChannel:
    """The SendGrid v3 mail API through the ``sendgrid`` client; the host is configurable
    (tests point it at a local fake server)."""

    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com",
                 timeout: float = 10.0) -> None:  # fmt: skip
        if not api_key:
            raise AdapterError("SOPFLOW_NOTIFY_CHANNEL=sendgrid needs SOPFLOW_SENDGRID_API_KEY",
                               code="configuration-error")  # fmt: skip
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.client.client.timeout = timeout

    def send(self, message: Message) -> str:
        mail = Mail(from_email=message.sender, to_emails=message.to, subject=message.subject)
        mail.add_content(Content("text/plain", message.text))
        mail.add_content(Content("text/html", message.html))
        mail.add_custom_arg(CustomArg("sopflow_message_id", message.message_id))
        mail.add_header(Header("X-Sopflow-Message-Id", message.message_id))
        for key, value in message.headers.items():
            mail.add_header(Header(key, value))
        try:
            response = self.client.send(mail)
        except http_errors.HTTPError as exc:
            raise _failure(exc) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
            misconfigured = _misconfigured(exc)
            if misconfigured is None and isinstance(exc, ValueError):
                raise  # not about reaching SendGrid: dead-lettered with its own words
            if misconfigured is not None:  # no retry can help: the operator must act
                raise DeliveryFailed(misconfigured, retryable=False,
                                     channel_fault=True) from exc  # fmt: skip
            raise DeliveryFailed(f"SendGrid unreachable: {exc}", retryable=True) from exc
        headers = {k.lower(): v for k, v in dict(getattr(response, "headers", {}) or {}).items()}
        return str(headers.get("x-message-id") or "")


def _misconfigured(exc: BaseException) -> str | None:
    """Why a failure to reach SendGrid is its configuration's, not the network's (a host
    without a scheme, TLS spoken to a plain HTTP server or the reverse), or None."""
    reason = getattr(exc, "reason", exc)
    text = str(reason)
    if "unknown url type" in text or (isinstance(exc, ValueError) and "url" in text.lower()):
        why = f"the URL is not usable ({text})"
    elif isinstance(reason, ssl.SSLError):
        why = f"TLS failed ({getattr(reason, 'reason', None) or text}): an https:// host that " \
              "speaks plain HTTP, or the reverse"  # fmt: skip
    else:
        return None
    return (
        f"SendGrid cannot be reached as configured: {why}; correct SOPFLOW_SENDGRID_HOST "
        "(like https://api.sendgrid.com), then 'sopflow notify retry --all-dead'"
    )


def _failure(exc: http_errors.HTTPError) -> DeliveryFailed:
    status = int(getattr(exc, "status_code", 0) or 0)
    body = getattr(exc, "body", b"")
    text = body.decode("utf-8", "replace")[:300] if isinstance(body, bytes) else str(body)[:300]
    retry_after = None
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        retry_after = float(exc.headers.get("Retry-After"))
    if status in (401, 403):  # the key, not the notice: every other one would fail alike
        return DeliveryFailed(f"SendGrid refused the API key ({status}: {text}): check "
                              "SOPFLOW_SENDGRID_API_KEY (and its mail send permission); the "
                              "notices stay pending", status=status, retryable=False,
                              channel_fault=True)  # fmt: skip
    return DeliveryFailed(f"SendGrid answered {status}: {text}", status=status,
                          retryable=status not in PERMANENT, retry_after=retry_after)  # fmt: skip
