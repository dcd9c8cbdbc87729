"""What a question says about where and when to look: outlets it names and dates it gives."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from dateutil import parser as date_parser

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAY_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+(?:{_MONTHS})\.?,?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})\b",
    re.I,
)
_ALIAS_SPLIT = re.compile(r"\s+(?:-|\||:)\s+|:\s+")


@dataclass(frozen=True)
class QueryHints:
    """Outlets the question names (as indexed outlet names) and the calendar days it mentions."""

    outlets: list[str] = field(default_factory=list)
    days: list[date] = field(default_factory=list)


def normalise_outlet(name: str) -> str:
    name = name.lower().strip()
    name = re.sub(r"^the\s+", "", name)
    return re.sub(r"\s+", " ", name)


def outlet_aliases(outlets: list[str]) -> dict[str, list[str]]:
    """Every way a question may name an outlet, mapped to the indexed outlets it stands for.

    Keys are the names as written (case kept). "The Independent - Sports" answers to its full name and
    to "The Independent" (shared with the outlet's other sections); "Cnbc | World Business News Leader"
    to "Cnbc"; "CBSSports.com" also to "CBSSports".
    """
    aliases: dict[str, list[str]] = {}
    for outlet in outlets:
        names = {outlet.strip(), _ALIAS_SPLIT.split(outlet)[0].strip()}
        names |= {name.removesuffix(".com") for name in names if name.lower().endswith(".com")}
        for name in names:
            if len(normalise_outlet(name)) >= 3:
                aliases.setdefault(name, []).append(outlet)
    return aliases


def _alias_pattern(name: str) -> str:
    """Multi-word names match in any case, with or without "the"; a one-word name must be written as
    indexed ("The Age", never "the age"), because one word alone is too often an ordinary word."""
    bare = re.sub(r"^the\s+", "", name, flags=re.I)
    if " " in bare:
        return r"(?i:(?:the\s+)?" + re.escape(bare) + ")"
    if bare != name:
        return r"(?i:the)\s+" + re.escape(bare)
    return re.escape(bare)


class QueryAnalyzer:
    """Finds outlet names and dates in questions, for one set of indexed outlets."""

    def __init__(self, outlets: list[str]) -> None:
        self._aliases = outlet_aliases(outlets)
        self._by_normalised: dict[str, list[str]] = {}
        for name, found in self._aliases.items():
            self._by_normalised.setdefault(normalise_outlet(name), []).extend(found)
        names = sorted(self._aliases, key=len, reverse=True)
        self._patterns = [(re.compile(r"(?<!\w)" + _alias_pattern(n) + r"(?!\w)"), n) for n in names]

    def analyze(self, question: str) -> QueryHints:
        return QueryHints(outlets=self._outlets_in(question), days=_days_in(question))

    def resolve_outlet(self, name: str) -> list[str]:
        """Indexed outlets a user's --outlet value stands for (exact name first, then substring)."""
        wanted = normalise_outlet(name)
        if wanted in self._by_normalised:
            return sorted(set(self._by_normalised[wanted]))
        return sorted({o for alias, found in self._by_normalised.items() if wanted in alias for o in found})

    def _outlets_in(self, question: str) -> list[str]:
        found: list[tuple[int, str]] = []
        taken: list[range] = []
        for pattern, name in self._patterns:
            for match in pattern.finditer(question):
                if any(match.start() in span for span in taken):
                    continue
                taken.append(range(match.start(), match.end()))
                found.extend((match.start(), outlet) for outlet in self._aliases[name])
        ordered: list[str] = []
        for _, outlet in sorted(found):
            if outlet not in ordered:
                ordered.append(outlet)
        return ordered


def _days_in(question: str) -> list[date]:
    days: list[date] = []
    for match in _DAY_DATE.finditer(question):
        try:
            day = date_parser.parse(match.group(0), fuzzy=True).date()
        except (ValueError, OverflowError):
            continue
        if day not in days:
            days.append(day)
    return days
