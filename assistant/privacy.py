"""Privacy controls: forget a conversation, and purge each kind of data on its own clock.

A conversation is its conversation id (a random 128-bit value the service gave the widget
with the first answer, stored on every message of it) and the message ids the widget
received; holding them is what entitles a visitor to delete them. ``forget_conversation``
deletes those rows and their feedback: a ``DELETE``, not a flag, so nothing is left to leak
or to restore.

Retention (``purge``): conversations ``retention_days`` (``records_db.RecordsDB.purge``),
feedback ``feedback_retention_days`` when that is shorter, enquiries (with their visitors'
e-mail addresses) ``enquiry_retention_days`` after they were answered or, if never answered,
after they arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select

from assistant.config import Settings
from assistant.errors import InvalidInput
from assistant.handoff import Handoff
from assistant.records_db import RecordsDB
from assistant.records_tables import Feedback, Message
from assistant.staff_db import now, rowcount

log = logging.getLogger(__name__)

MAX_FORGET_IDS = 500


class TooManyIds(InvalidInput, ValueError):
    """More message ids in one request than ``MAX_FORGET_IDS``."""


def forget_conversation(
    db: RecordsDB, message_ids: Sequence[str], conversation_id: str | None = None
) -> int:
    """Delete these messages, every message of ``conversation_id``, and their feedback;
    returns how many messages were removed.

    Ids that do not exist are ignored (deleting twice is not an error, and the answer does
    not reveal which ids ever existed).
    """
    ids = [item for item in dict.fromkeys(message_ids) if isinstance(item, str) and item]
    if len(ids) > MAX_FORGET_IDS:
        raise TooManyIds(f"at most {MAX_FORGET_IDS} message ids per request")
    if not ids and not conversation_id:
        return 0
    which: ColumnElement[bool] = Message.id.in_(ids)
    if conversation_id:
        which = which | (Message.conversation_id == conversation_id)
    db.flush()  # rows still queued for the writer would otherwise be written after the delete
    with db.engine.begin() as connection:
        doomed = select(Message.id).where(which)
        connection.execute(delete(Feedback).where(Feedback.message_id.in_(doomed)))
        removed = rowcount(connection.execute(delete(Message).where(which)))
    return int(removed or 0)


def purge_feedback(db: RecordsDB, days: int, at: datetime | None = None) -> int:
    """Delete feedback older than ``days`` (the answers it rated stay); returns the count."""
    cutoff = (at or now()) - timedelta(days=days)
    db.flush()
    with db.engine.begin() as connection:
        removed = rowcount(connection.execute(delete(Feedback).where(Feedback.created_at < cutoff)))
    return int(removed or 0)


def purge(
    settings: Settings, db: RecordsDB, handoff: Handoff | None, at: datetime | None = None
) -> dict[str, int]:
    """Apply every retention setting once; returns rows removed per kind.

    Called at start and periodically. A database that cannot be written (``db.problem``:
    read-only or unusable; enquiries live in the same database) is left alone: nothing removed.
    """
    removed = {"conversations": 0, "feedback": 0, "enquiries": 0}
    if not db.writable:
        log.info("retention purge skipped: %s", db.problem)
        return removed
    removed["conversations"] = db.purge(at)
    days = settings.feedback_retention_days
    if days is not None and days < settings.retention_days:
        removed["feedback"] = purge_feedback(db, days, at)
    if handoff is not None:
        removed["enquiries"] = handoff.purge(settings.enquiry_retention_days, at)
    if any(removed.values()):
        log.info("retention purge removed %s", removed)
    return removed
