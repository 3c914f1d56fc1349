"""Handoff to a person: a visitor's enquiry, stored, then e-mailed to the district's inbox.

An enquiry carries the visitor's e-mail address (checked with ``email-validator``, syntax
only: no DNS look-up on the request path), their consent (required: nothing is stored or sent
without it), the conversation so far, the page and the language. It is stored first, as
``open``, then sent by SMTP; when the server is down or refuses, the enquiry stays stored with
the error and ``retry`` sends it again later. The e-mail is built with the standard ``email``
package under its SMTP policy: visitor text goes only into the body and into headers through
``EmailMessage``, which refuses CR or LF in a header value, and every visitor value is folded
onto one line before it gets near a header, so no field can add a header or a recipient. The
envelope recipient is always the configured inbox, never anything the visitor typed.

``Handoff.submit`` and ``retry`` block on the network (``smtplib``): call them from a thread
(FastAPI runs plain ``def`` routes in its thread pool).

Errors::

    HandoffError
     +-- InvalidEnquiry      (also a ValueError) bad address, no consent, too long...
     +-- EnquiryNotFound     no enquiry with that id
     +-- HandoffDisabled     no SMTP server configured
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AnyHttpUrl, BaseModel, Field, ValidationError, field_validator
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from assistant import errors
from assistant.config import Settings
from assistant.staff_db import StaffBase, StaffTables, iso, now, rowcount

log = logging.getLogger(__name__)

TlsMode = Literal["starttls", "ssl", "none"]
MAX_TURNS = 40
MAX_TURN_CHARS = 4000
MAX_MESSAGE_CHARS = 2000
MAX_TRANSCRIPT_CHARS = 40_000


class HandoffError(errors.KmrError):
    """Base class for handoff errors."""


class InvalidEnquiry(HandoffError, errors.InvalidInput, ValueError):
    """The enquiry cannot be accepted as sent (the message says why, for the visitor)."""


class EnquiryNotFound(HandoffError, errors.NotFound):
    """No enquiry with that id (or it was purged)."""


class HandoffDisabled(HandoffError, errors.Unavailable):
    """No SMTP host is configured, so enquiries are not accepted."""


class Enquiry(StaffBase):
    """One visitor enquiry and the state of its delivery."""

    __tablename__ = "enquiries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    email: Mapped[str] = mapped_column(String(320))
    consent: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    page_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    message_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open|answered
    delivery: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    answered_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class EnquiryInput(BaseModel):
    """What the widget sends (the proposed ``POST /api/enquiries`` body)."""

    email: str = Field(max_length=320)
    consent: bool
    language: Literal["it", "en"] = "en"
    page_url: AnyHttpUrl | None = None
    message: str = Field("", max_length=MAX_MESSAGE_CHARS)
    transcript: list[Turn] = Field(default_factory=list, max_length=MAX_TURNS)
    message_ids: list[str] = Field(default_factory=list, max_length=MAX_TURNS)

    @field_validator("page_url")
    @classmethod
    def _url_length(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and len(str(value)) > 2000:
            raise ValueError("page_url is longer than 2000 characters")
        return value

    @field_validator("message_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        if any(len(item) > 64 or not item.isalnum() for item in value):
            raise ValueError("message ids are short alphanumeric strings")
        return value


@dataclass(frozen=True)
class SmtpConfig:
    """Where enquiries are sent; built from Settings at the edge (``from_settings``)."""

    host: str | None
    port: int = 587
    tls: TlsMode = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "assistant@localhost"
    recipient: str = "info@localhost"
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            sender=settings.smtp_sender,
            recipient=settings.smtp_recipient,
            timeout=settings.smtp_timeout,
        )


def _one_line(text: str, limit: int = 120) -> str:
    """Visitor text fit for a header: every line break and control character gone."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def check_email(address: str) -> str:
    """The normalised address, or InvalidEnquiry (syntax only, no DNS query)."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEnquiry(f"invalid e-mail address: {exc}") from exc


def validated(data: EnquiryInput | dict[str, Any]) -> EnquiryInput:
    """Validate an enquiry; raises InvalidEnquiry with a message fit for the visitor."""
    try:
        model = data if isinstance(data, EnquiryInput) else EnquiryInput.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidEnquiry(problems) from exc
    if not model.consent:
        raise InvalidEnquiry("the visitor's consent is required to send an enquiry")
    if not model.message.strip() and not any(t.role == "user" for t in model.transcript):
        raise InvalidEnquiry("an enquiry needs a message or at least one question")
    if sum(len(t.content) for t in model.transcript) > MAX_TRANSCRIPT_CHARS:
        raise InvalidEnquiry(f"the conversation is longer than {MAX_TRANSCRIPT_CHARS} characters")
    return model.model_copy(update={"email": check_email(model.email)})


def build_email(enquiry: Enquiry, config: SmtpConfig) -> EmailMessage:
    """The e-mail for the inbox; visitor text only in the body and in folded header values."""
    labels = {"user": "Visitor", "assistant": "Assistant"}
    lines = [
        f"Enquiry {enquiry.id} from the district assistant",
        f"From: {enquiry.email} (consented to be contacted)",
        f"Language: {enquiry.language}",
        f"Page: {enquiry.page_url or '-'}",
        f"Received: {iso(enquiry.created_at)}",
        "",
    ]
    if enquiry.message:
        lines += ["Message:", enquiry.message, ""]
    if enquiry.transcript:
        lines.append("Conversation:")
        for turn in enquiry.transcript:
            lines += [f"{labels.get(turn['role'], turn['role'])}: {turn['content']}", ""]
    first = enquiry.message or next(
        (t["content"] for t in enquiry.transcript if t["role"] == "user"), ""
    )
    message = EmailMessage(policy=SMTP)
    message["From"] = config.sender
    message["To"] = config.recipient
    message["Reply-To"] = enquiry.email  # normalised by email-validator: one address, no CR/LF
    message["Subject"] = f"[assistant] {_one_line(first, 80) or 'enquiry'}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message["X-Enquiry-Id"] = enquiry.id
    message.set_content("\n".join(lines))
    return message


def send_email(message: EmailMessage, config: SmtpConfig) -> None:
    """Deliver one message to the configured recipient only; raises OSError/SMTPException."""
    if not config.host:
        raise HandoffDisabled("no SMTP host configured (KMR_SMTP_HOST)")
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if config.tls == "ssl":
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        if config.tls == "starttls":
            client.starttls(context=context)
        if config.username:
            client.login(config.username, config.password or "")
        # An explicit envelope: the recipient is the configured inbox whatever the headers say.
        client.send_message(message, from_addr=config.sender, to_addrs=[config.recipient])


def as_dict(row: Enquiry) -> dict[str, Any]:
    """An enquiry as JSON-ready data (the console's response model)."""
    return {
        "id": row.id,
        "created_at": iso(row.created_at),
        "email": row.email,
        "language": row.language,
        "page_url": row.page_url,
        "message": row.message,
        "transcript": list(row.transcript or []),
        "message_ids": list(row.message_ids or []),
        "status": row.status,
        "delivery": row.delivery,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "sent_at": iso(row.sent_at),
        "answered_at": iso(row.answered_at),
        "answered_by": row.answered_by,
        "reply": row.reply,
    }


class Handoff(StaffTables):
    """The enquiries table and the SMTP delivery of each enquiry."""

    def __init__(self, engine: Engine, config: SmtpConfig) -> None:
        super().__init__(engine)
        self.config = config

    @property
    def enabled(self) -> bool:
        """Whether enquiries are accepted (an SMTP host is configured)."""
        return bool(self.config.host)

    def submit(self, data: EnquiryInput | dict[str, Any]) -> dict[str, Any]:
        """Store a visitor's enquiry, then try to send it; returns it with its delivery state.

        Raises HandoffDisabled or InvalidEnquiry (nothing stored). A delivery failure is
        not raised: the enquiry is kept with ``delivery="failed"`` and its error.
        """
        if not self.enabled:
            raise HandoffDisabled("enquiries are turned off (no KMR_SMTP_HOST)")
        model = validated(data)
        row = Enquiry(
            id=uuid.uuid4().hex,
            created_at=now(),
            email=model.email,
            consent=True,
            language=model.language,
            page_url=str(model.page_url) if model.page_url else None,
            message=model.message.strip(),
            transcript=[turn.model_dump() for turn in model.transcript],
            message_ids=model.message_ids,
            status="open",
            delivery="pending",
            attempts=0,
        )
        with self._session.begin() as session:
            session.add(row)
        return self._deliver(row.id)

    def retry(self, enquiry_id: str) -> dict[str, Any]:
        """Send a stored enquiry again (after a failure); raises EnquiryNotFound."""
        return self._deliver(enquiry_id)

    def retry_failed(self) -> dict[str, int]:
        """Send every enquiry whose delivery failed or never happened; returns the counts."""
        with self._session() as session:
            ids = list(
                session.scalars(
                    select(Enquiry.id)
                    .where(Enquiry.delivery != "sent")
                    .order_by(Enquiry.created_at)
                )
            )
        counts = {"sent": 0, "failed": 0}
        for enquiry_id in ids:
            counts[self._deliver(enquiry_id)["delivery"]] += 1
        return counts

    def _deliver(self, enquiry_id: str) -> dict[str, Any]:
        with self._session() as session:
            row = session.get(Enquiry, enquiry_id)
        if row is None:
            raise EnquiryNotFound(enquiry_id)
        error: str | None = None
        try:
            send_email(build_email(row, self.config), self.config)
        except (OSError, smtplib.SMTPException, HandoffDisabled) as exc:
            # Kept for the console (the visitor only hears that the district will see it).
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("enquiry %s not sent: %s", enquiry_id, error)
        with self._session.begin() as session:
            stored = session.get(Enquiry, enquiry_id)
            if stored is None:  # purged or forgotten meanwhile
                raise EnquiryNotFound(enquiry_id)
            stored.attempts += 1
            stored.last_error = error
            stored.delivery = "failed" if error else "sent"
            if not error:
                stored.sent_at = now()
            result = as_dict(stored)
        return result

    def get(self, enquiry_id: str) -> dict[str, Any]:
        """One enquiry; raises EnquiryNotFound."""
        with self._session() as session:
            row = session.get(Enquiry, enquiry_id)
            if row is None:
                raise EnquiryNotFound(enquiry_id)
            return as_dict(row)

    def list_enquiries(self, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Enquiries, newest first, optionally only ``open`` or ``answered`` ones."""
        query = select(Enquiry).order_by(Enquiry.created_at.desc()).limit(limit)
        if status:
            query = query.where(Enquiry.status == status)
        with self._session() as session:
            return [as_dict(row) for row in session.scalars(query)]

    def mark_answered(
        self, enquiry_id: str, actor: str, reply: str | None = None
    ) -> dict[str, Any]:
        """Close an enquiry; ``reply`` (what staff answered) can become a curated answer."""
        who = " ".join(actor.split())[:200]
        if not who:
            raise InvalidEnquiry("marking an enquiry answered needs the name of who did it")
        if reply is not None and len(reply) > 8000:
            raise InvalidEnquiry("the reply is longer than 8000 characters")
        with self._session.begin() as session:
            row = session.get(Enquiry, enquiry_id)
            if row is None:
                raise EnquiryNotFound(enquiry_id)
            row.status, row.answered_at, row.answered_by = "answered", now(), who
            if reply is not None:
                row.reply = reply.strip() or None
            return as_dict(row)

    def delete(self, enquiry_id: str) -> bool:
        """Remove an enquiry and its e-mail address for good; False if it did not exist."""
        with self._session.begin() as session:
            return bool(rowcount(session.execute(delete(Enquiry).where(Enquiry.id == enquiry_id))))

    def purge(self, retention_days: int, at: datetime | None = None) -> int:
        """Delete enquiries (with their e-mail addresses) past retention; returns the count.

        An answered enquiry is kept ``retention_days`` after it was answered, an open one
        ``retention_days`` after it arrived.
        """
        cutoff = (at or now()) - timedelta(days=retention_days)
        with self._session.begin() as session:
            answered_old = (Enquiry.status == "answered") & (Enquiry.answered_at < cutoff)
            open_old = (Enquiry.status != "answered") & (Enquiry.created_at < cutoff)
            removed = rowcount(session.execute(delete(Enquiry).where(answered_old | open_old)))
        return int(removed or 0)


def curated_draft(enquiry: dict[str, Any]) -> dict[str, Any]:
    """A curated-answer draft from an answered enquiry (``curated.CuratedInput`` fields):
    the visitor's question and the staff reply, in the enquiry's language, for staff to edit
    and save; nothing is published until they do."""
    question = enquiry.get("message") or next(
        (turn["content"] for turn in enquiry.get("transcript", []) if turn["role"] == "user"), ""
    )
    language = "it" if enquiry.get("language") == "it" else "en"
    return {
        "questions": [" ".join(question.split())[:1000]] if question.strip() else [],
        f"answer_{language}": enquiry.get("reply") or "",
        "links": [],
        "enabled": False,  # a draft: staff review it, then enable it
    }
