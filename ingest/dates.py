"""Dates and periods stated in a text: "11 October 2025", "12-14 marzo 2025", "July 2024 - June
2025", "as of January 2026", "dal 2009", "entro il 31 gennaio 2025".

Finding is split from parsing. A small pattern finds *candidate spans* that hold a four-digit
year (optionally preceded by a day, a day range and a month name, or written as 11/10/2025 or
2025-10-11); the month names come from dateparser's own Italian and English locale data, not from
a list kept here. dateparser (``DateDataParser``) then parses each span and says its precision
(day, month, quarter, year); a span it cannot parse (31 February, year 0) is skipped with a
logged reason. Nothing reads the clock: a date without a year ("11/10", "21 May") cannot be
placed without guessing the year and is not kept, and relative phrases ("next month") are
never parsed (only dateparser's absolute-time parser runs).

``dateparser.search.search_dates`` was tried first and dropped: on our pages it turned
"10 June 2025" into 2010-06-01, "23 and 30 May" into 2030 and "the 11-year renewal" into 2011.

Mentions are stored with each chunk (``chunk_metadata``) as a compact JSON list, plus the
earliest and latest day as ISO strings, because Chroma metadata holds only scalars.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache

log = logging.getLogger(__name__)

_MONTH_KEYS = [m.lower() for m in calendar.month_name[1:]]


@dataclass(frozen=True)
class DateOptions:
    """How dates are read. ``date_order`` decides 11/10/2025 (day first on Italian sites)."""

    languages: tuple[str, ...] = ("it", "en")
    date_order: str = "DMY"
    min_year: int = 1800
    max_year: int = 2200


@dataclass(frozen=True)
class DateMention:
    """One date or period found in a text: its words, first and last day, precision."""

    text: str
    start: date
    end: date
    precision: str  # "day" | "month" | "quarter" | "year"
    relation: str = ""  # "since" | "until" | "" (a point or a period)

    def to_json(self) -> list[str]:
        return [self.text, self.start.isoformat(), self.end.isoformat(), self.precision,
                self.relation]  # fmt: skip

    @classmethod
    def from_json(cls, row: list[str]) -> DateMention:
        text, start, end, precision, *rest = row
        return cls(
            str(text),
            date.fromisoformat(start),
            date.fromisoformat(end),
            str(precision),
            str(rest[0]) if rest else "",
        )


# Words that turn a date into the start of an open period or a deadline. A short closed list
# of prepositions, not topic words: "since 2009", "dal 2009", "by 31 January", "entro il ...".
_SINCE = re.compile(
    r"(?:\bsince|\bfrom|\bdal(?:l['’])?|\bdalla|\bdai|\bda)\s*(?:the\s+|il\s+)?$", re.I
)
_UNTIL = re.compile(
    r"(?:\bby|\buntil|\btill|\bdeadline:?|\bentro(?:\s+il|\s+l['’])?|\bfino\s+al(?:l['’])?"
    r"|\bscadenza:?)\s*(?:the\s+)?$",
    re.I,
)
# An open period written as a range with no end: "2017–", "2017 - present", "2017–oggi",
# "dal 2017 ad oggi": the date starts a state that still holds (relation "since").
_OPEN_END = re.compile(
    r"^\s*(?:(?:[-–—]|\bto|\bad?|\bfino\s+ad?)\s*(?:(?:the\s+)?(?:present|today|now|date)"
    r"|oggi|in\s+corso|ongoing)(?!\w)|[-–—]\s*(?=[|,;)\]]|\Z))",
    re.I,
)
_RANGE_JOIN = re.compile(r"^\s*(?:[-–—/]|to|until|al(?:l['’])?|a)\s*$", re.I)


@cache
def _month_names(languages: tuple[str, ...]) -> str:
    """Month names and abbreviations of the languages, from dateparser's locale data."""
    from dateparser.languages.loader import default_loader

    names: set[str] = set()
    for language in languages:
        info = default_loader.get_locale(language).info
        for key in _MONTH_KEYS:
            names.update(str(n) for n in info.get(key, []))
    # Longest first, so "settembre" wins over "set".
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if len(n) >= 3)


_YEAR = r"(?:1[0-9]|2[0-9])\d\d"


@cache
def _candidates(languages: tuple[str, ...]) -> re.Pattern[str]:
    months = _month_names(languages)
    day = r"(?:\d{1,2}(?:st|nd|rd|th|°|º)?)"
    return re.compile(
        rf"(?<![\w.,/-])(?:"
        rf"(?P<iso>{_YEAR}-\d{{1,2}}-\d{{1,2}})"
        rf"|(?P<num>\d{{1,2}}[/.]\d{{1,2}}[/.]{_YEAR})"
        rf"|(?:(?P<day>{day})(?:\s*(?:[-–]|al|to)\s*(?P<day2>{day}))?\s+)?"
        rf"(?P<month>(?:{months})\.?)\s+(?:del\s+|of\s+)?(?P<year>{_YEAR})"
        rf"|(?P<bare>{_YEAR})"
        rf")(?![\w]|[.,]\d|-year|-anni)",
        re.IGNORECASE,
    )


@lru_cache(maxsize=4)
def _parser(languages: tuple[str, ...], order: str) -> object:
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(languages),
        settings={
            "DATE_ORDER": order,
            "PREFER_DAY_OF_MONTH": "first",
            "REQUIRE_PARTS": ["year"],
            "PARSERS": ["absolute-time"],  # never "relative-time": it reads the clock
        },
    )


def _period(value: date, precision: str) -> tuple[date, date]:
    if precision == "year":
        return date(value.year, 1, 1), date(value.year, 12, 31)
    if precision == "month":
        last = calendar.monthrange(value.year, value.month)[1]
        return date(value.year, value.month, 1), date(value.year, value.month, last)
    if precision == "quarter":
        first = 3 * ((value.month - 1) // 3) + 1
        last = calendar.monthrange(value.year, first + 2)[1]
        return date(value.year, first, 1), date(value.year, first + 2, last)
    return value, value


@lru_cache(maxsize=20_000)
def parse_span(span: str, options: DateOptions = DateOptions()) -> tuple[date, date, str] | None:
    """First and last day and precision of one date span, or None when it is not a real date."""
    digits = re.sub(r"(\d)(?:st|nd|rd|th|°|º)\b", r"\1", span.strip())
    try:
        data = _parser(options.languages, options.date_order).get_date_data(digits)  # type: ignore[attr-defined]
    except (ValueError, OverflowError, KeyError, TypeError) as exc:
        log.debug("date %r skipped: %s", span, exc)
        return None
    if data is None or data.date_obj is None:
        log.debug("date %r skipped: not a date", span)
        return None
    value = data.date_obj.date()
    if not options.min_year <= value.year <= options.max_year:
        log.debug("date %r skipped: year outside %s-%s", span, options.min_year, options.max_year)
        return None
    precision = data.period if data.period in {"day", "month", "quarter", "year"} else "day"
    start, end = _period(value, precision)
    return start, end, precision


def find_dates(text: str, options: DateOptions = DateOptions()) -> list[DateMention]:
    """The dates and periods stated in ``text``, in order of appearance.

    "12-14 marzo 2025" is one period (12 to 14 March); two dates joined by a dash, "to" or
    "al" ("July 2024 - June 2025") are one period too. A date after "since"/"dal" is the start
    of an open period (relation "since"), after "by"/"entro" a deadline (relation "until").
    """
    pattern = _candidates(options.languages)
    found: list[tuple[int, int, DateMention]] = []
    for match in pattern.finditer(text):
        span = match.group(0)
        parsed = None
        if match.group("day2"):
            # "12-14 marzo 2025": parse both ends with the month and year of the second.
            tail = f"{match.group('month')} {match.group('year')}"
            first = parse_span(f"{match.group('day')} {tail}", options)
            last = parse_span(f"{match.group('day2')} {tail}", options)
            if first and last and first[0] <= last[0]:
                parsed = (first[0], last[1], "day")
        else:
            parsed = parse_span(span, options)
        if parsed is None:
            continue
        start, end, precision = parsed
        before = text[max(0, match.start() - 20) : match.start()]
        relation = ""
        if not match.group("day2"):  # "dal 12-14 marzo" is a period, not an open start
            relation = (
                "since" if _SINCE.search(before) else "until" if _UNTIL.search(before) else ""
            )
        words = " ".join(span.split())
        open_end = _OPEN_END.match(text[match.end() :].partition("\n")[0])
        if open_end is not None and relation != "until":
            # "2017–present", "2017–": the words of the open period are the date's.
            relation = "since"
            words = " ".join(text[match.start() : match.end() + open_end.end()].split())
        mention = DateMention(words, start, end, precision, relation)
        if found and _RANGE_JOIN.match(text[found[-1][1] : match.start()]):
            # "July 2024 – June 2025", "2020-2022": one period from the first to the second.
            a_start, _, a = found[-1]
            if a.start <= start and not relation:
                joined = text[a_start : match.end()]
                mention = DateMention(" ".join(joined.split()), a.start, end, "period", a.relation)
                found[-1] = (a_start, match.end(), mention)
                continue
        found.append((match.start(), match.end(), mention))
    return [m for _, _, m in found]


_WORD = re.compile(r"[^\W\d_]{2,}")


def _folded(text: str) -> str:
    return " ".join(text.replace("\\", "").split()).casefold()


def words_besides(text: str, mentions: Iterable[DateMention]) -> int:
    """How many words (two letters or more) ``text`` holds besides the words of ``mentions``:
    a date line ("Friday 4 December 2026, 09:30") holds few. The chunker carries such a line
    to the heading after it, and the timeline reads it back as that heading's date."""
    rest = _folded(text)
    for mention in mentions:
        rest = rest.replace(_folded(mention.text), " ")
    return len(_WORD.findall(rest))


def encode(mentions: list[DateMention]) -> str:
    """Mentions as a compact JSON list (for chunk metadata); duplicates once."""
    seen: list[list[str]] = []
    for mention in mentions:
        row = mention.to_json()
        if row not in seen:
            seen.append(row)
    return json.dumps(seen, ensure_ascii=False, separators=(",", ":")) if seen else ""


def decode(raw: object) -> list[DateMention]:
    """Mentions from chunk metadata; anything unreadable (an older index) gives none."""
    if not raw or not isinstance(raw, str):
        return []
    try:
        return [DateMention.from_json(row) for row in json.loads(raw)]
    except (ValueError, TypeError) as exc:
        log.warning("unreadable date metadata skipped: %s", exc)
        return []


def chunk_metadata(text: str, options: DateOptions = DateOptions()) -> dict[str, str]:
    """``dates`` (JSON list), ``date_min`` and ``date_max`` (ISO days) for one chunk."""
    try:
        mentions = find_dates(text, options)
    except Exception as exc:  # noqa: BLE001 - a date never stops the ingest of a page
        log.warning("date extraction skipped for a chunk: %s", exc)
        mentions = []
    if not mentions:
        return {"dates": "", "date_min": "", "date_max": ""}
    return {
        "dates": encode(mentions),
        "date_min": min(m.start for m in mentions).isoformat(),
        "date_max": max(m.end for m in mentions).isoformat(),
    }
