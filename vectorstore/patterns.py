"""Contact details, amounts of money and years as they are written, found with one pattern each.

- ``EMAIL``: an e-mail address.
- ``PHONE``: a phone number as written in a sentence ("+39 035 0690311", "(035) 069-0311");
  a match is a real number only with at least ``PHONE_MIN_DIGITS`` digits (``digits``), as
  years and figures have fewer together.
- ``PHONE_LIKE``: any run of digits and phone separators that could be a number in another
  layout ("035 69 03 11"): wider than ``PHONE``, for removing numbers rather than finding them.
- ``MONEY``: an amount of money (a currency sign or word next to a figure, "3 milioni di euro").
- ``YEAR``: a year of the recent past or the near future (1950-2099), as a whole word.

The answer engine reads them (abstention, the LLM's contact check) and so does ingest; they
live in ``vectorstore``, the lowest layer, so every package may use them.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(\+\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s./-]?\d{3,4}[\s./-]?\d{2,5}\b")
PHONE_LIKE = re.compile(r"\+?\d[\d\s()./-]{6,}\d")
PHONE_MIN_DIGITS = 8
MONEY = re.compile(
    r"(€|£|\$)\s?\d|\d[\d.,]*\s?(k|m|mln|mld|bn)?\s?(€|£|\$|eur\b|euros?\b|usd\b|dollars?\b|"
    r"pounds?\b|chf\b|milion[ie]\s+di\s+euro|miliard[oi]\s+di\s+euro|million\s+euros?|"
    r"billion\s+euros?)",
    re.IGNORECASE,
)
YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")

_NOT_DIGIT = re.compile(r"\D")


def digits(text: str) -> str:
    """The digits of a text alone ("+39 035 069" -> "39035069")."""
    return _NOT_DIGIT.sub("", text)
