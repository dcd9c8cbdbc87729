"""What a question says about where and when to look: outlets and authors it names, dates it gives."""

from __future__ import annotations

import functools
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
    """Outlets and authors the question names (as indexed) and the calendar days it mentions."""

    outlets: list[str] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NameMention:
    """Where a question names an indexed outlet or author, and which ones the words stand for."""

    start: int
    end: int
    names: list[str]


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


def author_names(authors: list[str], outlets: list[str]) -> dict[str, list[str]]:
    """The indexed bylines a question may name: people's names (two words or more), not an outlet's name
    standing as its own byline ("The New York Times")."""
    taken = {normalise_outlet(name) for name in outlet_aliases(outlets)}
    names: dict[str, list[str]] = {}
    for author in authors:
        name = " ".join(author.split())
        if len(name.split()) >= 2 and normalise_outlet(name) not in taken:
            names.setdefault(name, []).append(author)
    return names


class QueryAnalyzer:
    """Finds outlet and author names and dates in questions, for one set of indexed outlets and authors."""

    def __init__(self, outlets: list[str], authors: list[str] | None = None) -> None:
        self._aliases = outlet_aliases(outlets)
        self._by_normalised: dict[str, list[str]] = {}
        for name, found in self._aliases.items():
            self._by_normalised.setdefault(normalise_outlet(name), []).extend(found)
        names = sorted(self._aliases, key=len, reverse=True)
        self._patterns = [(re.compile(r"(?<!\w)" + _alias_pattern(n) + r"(?!\w)"), n) for n in names]
        # What a question must contain (lower case) for each pattern to match: most are then never tried.
        self._needles = [re.sub(r"^the\s+", "", n, flags=re.I).lower() for n in names]
        self._authors = author_names(authors or [], outlets)
        self._author_patterns = [
            (re.compile(r"(?<!\w)(?i:" + r"\s+".join(map(re.escape, n.split())) + r")(?!\w)"), n)
            for n in sorted(self._authors, key=len, reverse=True)
        ]
        self._authors_by_first_word: dict[str, list[int]] = {}  # positions in _author_patterns
        for position, (_, name) in enumerate(self._author_patterns):
            self._authors_by_first_word.setdefault(_first_word(name), []).append(position)

    def analyze(self, question: str) -> QueryHints:
        return QueryHints(
            outlets=self._outlets_in(question), days=_days_in(question), authors=self._authors_in(question)
        )

    def indexed_sources(self, name: str) -> list[str]:
        """Indexed outlets (or authors) a source named in a question may stand for: its words, in order, in an
        outlet's name ("BBC" in "BBC News - Entertainment & Arts") or an author's; none for "Bloomberg"."""
        wanted = normalise_outlet(re.sub(r"['’]s?$", "", name))
        if not wanted:
            return []
        pattern = re.compile(r"(?<!\w)" + re.escape(wanted) + r"(?!\w)")
        found = {o for alias, outlets in self._by_normalised.items() if pattern.search(alias) for o in outlets}
        found |= {a for n, authors in self._authors.items() if pattern.search(normalise_outlet(n)) for a in authors}
        return sorted(found)

    def outlet_mentions(self, question: str) -> list[NameMention]:
        """Each place the question names an indexed outlet (longest names first, no overlaps), in order."""
        patterns = self._patterns
        if question.isascii():  # case-insensitive matching is then plain lower-casing
            lowered = question.lower()
            patterns = [p for p, needle in zip(patterns, self._needles) if needle in lowered or not needle.isascii()]
        return _mentions(question, patterns, self._aliases)

    def author_mentions(self, question: str) -> list[NameMention]:
        """Each place the question names an indexed author, in order."""
        # Only the names whose first word the question has are tried: an index has thousands of bylines.
        words = set(re.findall(r"\w+", question.casefold()))
        positions = sorted(i for word in words for i in self._authors_by_first_word.get(word, ()))
        patterns = [self._author_patterns[i] for i in positions]
        return _mentions(question, patterns, self._authors)

    def _authors_in(self, question: str) -> list[str]:
        return list(dict.fromkeys(a for mention in self.author_mentions(question) for a in mention.names))

    def resolve_outlet(self, name: str) -> list[str]:
        """Indexed outlets a user's --outlet value stands for (exact name first, then substring)."""
        wanted = normalise_outlet(name)
        if wanted in self._by_normalised:
            return sorted(set(self._by_normalised[wanted]))
        return sorted({o for alias, found in self._by_normalised.items() if wanted in alias for o in found})

    def _outlets_in(self, question: str) -> list[str]:
        return list(dict.fromkeys(o for mention in self.outlet_mentions(question) for o in mention.names))


@functools.cache
def _first_word(name: str) -> str:
    return next(iter(re.findall(r"\w+", name.casefold())), "")


def _mentions(
    question: str, patterns: list[tuple[re.Pattern[str], str]], names: dict[str, list[str]]
) -> list[NameMention]:
    found: list[NameMention] = []
    for pattern, name in patterns:
        for match in pattern.finditer(question):
            if any(match.start() < m.end and m.start < match.end() for m in found):
                continue
            found.append(NameMention(match.start(), match.end(), sorted(names[name])))
    return sorted(found, key=lambda m: m.start)


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
