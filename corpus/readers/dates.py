"""The one date helper: every reader stores timezone-aware datetimes in UTC.

A date or time without a timezone is taken to be UTC already.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from dateutil import parser as date_parser

# Longer text is no date (and dateutil's cost grows with it).
MAX_DATE_CHARS = 200
# Fills the parts a date string leaves out ("December 2023" -> the 1st, no time -> midnight).
MISSING_PARTS = datetime(2000, 1, 1)


def to_utc(value: object) -> datetime | None:
    """A datetime in UTC from a string, date, datetime or feedparser time tuple; None if unknown.

    A number (e.g. a bare year from YAML) is read as text; anything else is no date.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, time.struct_time):  # feedparser gives these in UTC
        return datetime(*value[:6], tzinfo=UTC)
    if isinstance(value, str):
        return parse_date_text(value)
    if isinstance(value, int | float):
        return parse_date_text(str(value)) if abs(value) < 10**MAX_DATE_CHARS else None
    if not isinstance(value, date):
        return None
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +14:00
        return None


def parse_date_text(text: str) -> datetime | None:
    """Parse a date written any common way; None when it is empty or not a date."""
    if not text.strip() or len(text) > MAX_DATE_CHARS:
        return None
    try:
        return to_utc(date_parser.parse(text, default=MISSING_PARTS))
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return None
