"""What the enquiry tests share: the district's test inbox, the settings that send enquiries
to it (``support.smtp.SmtpServer`` on 127.0.0.1, no TLS) and a valid enquiry body."""

from __future__ import annotations

from typing import Any

INBOX = "enquiries@district.example"
SENDER = "assistant@district.example"


def smtp_settings(port: int, **overrides: Any) -> dict[str, Any]:
    """Settings fields that send enquiries to ``INBOX`` through 127.0.0.1:``port`` without
    TLS; keyword arguments override or add fields."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_sender": SENDER,
        "smtp_recipient": INBOX,
        "smtp_timeout": 5,
        **overrides,
    }


def enquiry(**changes: Any) -> dict[str, Any]:
    """A valid enquiry body (consent given, a message and the conversation it follows, in
    Italian); keyword arguments replace fields."""
    data: dict[str, Any] = {
        "email": "visitor@example.org",
        "consent": True,
        "language": "it",
        "page_url": "https://www.kilometrorosso.com/it/visita",
        "message": "Vorrei visitare i laboratori con una classe.",
        "transcript": [
            {"role": "user", "content": "Posso portare una scolaresca a visitare i laboratori?"},
            {"role": "assistant", "content": "Non trovo questa informazione nelle pagine."},
        ],
        "message_ids": ["a" * 32],
    }
    data.update(changes)
    return data
