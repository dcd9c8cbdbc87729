"""A question's parts: the claims a multi-source question joins, each with the outlets and days it names.

MultiHop questions join two to four claims, each from its own source: "Does the TechCrunch article say A,
while The Verge reports B?", "Which company, according to Fortune, did A, and, as The Age reports, B?",
"After the report on October 7 about A, did the report on October 30 about B ...?". The question is cut
into clauses at commas, semicolons and the words that join claims ("while", "whereas", "compared to",
"and the ..."); a clause too short to be a claim (an attribution such as "according to Fortune") lends
its outlets and days to the claim it belongs to, and so does a clause that only names its source ("Between
the TechCrunch article published on October 31, 2023, regarding ..."): outlets, dates and words such as
"article" or "published" do not make a claim. Each part can then be searched on its own, so every
claim's best evidence comes near the top, and an answer can say which part no source covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from bot.specifics import WHEN
from embeddings.query import QueryAnalyzer, QueryHints

_JOINERS = re.compile(
    r"\s*[,;]\s*(?:and\s+|but\s+|or\s+)?|\s+(?:while|whereas|compared\s+(?:to|with)|in\s+contrast\s+to|unlike|"
    r"similar\s+to|as\s+opposed\s+to)\s+|\s+and\s+(?=(?:the|does|did|do|is|was|are|were|has|had|have|how|what|"
    r"also|then)\b)",
    re.I,
)
# A clause that says where something was reported belongs with the claim before it.
_ATTRIBUTION = re.compile(
    r"^(?:and\s+)?(?:as\s+)?(?:according\s+to|(?:as\s+)?(?:reported|mentioned|noted|stated|described|covered|"
    r"discussed|highlighted)\s+(?:by|in)|per)\b",
    re.I,
)
# Joining words left at the start of a clause cut at a comma ("…, while X reports Y").
_LEADING = re.compile(r"^(?:(?:and|but|or|while|whereas)\s+)+", re.I)
_WORD = re.compile(r"[^\W_][\w'’-]*")
_CLAUSE_WORDS = 4  # fewer content words than this: not a claim of its own
_SOURCE_CLAUSE_WORDS = 3  # a clause naming a source and fewer other words than this: where, not what
_QUESTION_WORDS = frozenset(
    """a an and are as at be been by did do does for from has have how in is it its of on or that the their
    this to was were what which who whom whose with both also article articles report reports reported
    according suggest suggests indicate indicates mention mentions""".split()
)

# Words that say where or when something was reported, not what.
_SOURCE_WORDS = frozenset(
    """article articles report reports reporting published publication story stories piece coverage between
    after before following prior earlier later since until during""".split()
)


@dataclass(frozen=True)
class QuestionPart:
    """One claim of a question: its text as written and the outlets, days and authors it names (or,
    when it names none, those of the attribution that goes with it)."""

    text: str
    start: int
    end: int
    outlets: list[str] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)

    def hints(self, question: QueryHints) -> QueryHints:
        """Hints for searching this part: its own outlets, days and authors, else the question's."""
        return QueryHints(
            outlets=self.outlets or question.outlets,
            days=self.days or question.days,
            authors=self.authors or question.authors,
        )


def question_parts(question: str, analyzer: QueryAnalyzer, source_clauses: bool = True) -> list[QuestionPart]:
    """The claims of `question`, in order; one part (the whole question) when it joins none. With
    `source_clauses`, a clause that only names where something was reported is no claim of its own."""
    clauses = _clauses(question)
    merged = _merge_short(question, clauses, analyzer if source_clauses else None)
    return [_part(question, start, end, analyzer) for start, end in merged]


def _clauses(question: str) -> list[tuple[int, int]]:
    """Clause spans, never cutting inside a date ("October 7, 2023")."""
    protected = [range(m.start(), m.end()) for m in WHEN.finditer(question)]
    cuts: list[tuple[int, int]] = []
    for match in _JOINERS.finditer(question):
        if not any(match.start() in span for span in protected):
            cuts.append((match.start(), match.end()))
    spans = []
    start = 0
    for cut_start, cut_end in cuts:
        if cut_start > start:
            spans.append((start, cut_start))
        start = cut_end
    if start < len(question):
        spans.append((start, len(question)))
    return [(s, e) for s, e in spans if question[s:e].strip(" ?.!")]


def _content_words(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if w.lower() not in _QUESTION_WORDS)


def _only_source(text: str, analyzer: QueryAnalyzer) -> bool:
    """Whether `text` names where or when something was reported (an outlet, a date) and hardly anything else."""
    names = [(m.start, m.end) for m in analyzer.outlet_mentions(text)] + [m.span() for m in WHEN.finditer(text)]
    if not names:
        return False
    for start, end in sorted(names, reverse=True):
        text = f"{text[:start]} {text[end:]}"
    return sum(w.lower() not in _QUESTION_WORDS | _SOURCE_WORDS for w in _WORD.findall(text)) < _SOURCE_CLAUSE_WORDS


def _merge_short(
    question: str, clauses: list[tuple[int, int]], analyzer: QueryAnalyzer | None = None
) -> list[tuple[int, int]]:
    """Short clauses join a neighbour: an attribution the claim before it, anything else the claim after it
    (given `analyzer`, so does a clause that names only a source, however long)."""
    merged: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None
    for start, end in clauses:
        text = question[start:end]
        if pending is not None:
            start = pending[0]
            pending = None
        if _content_words(text) >= _CLAUSE_WORDS and not (analyzer and _only_source(text, analyzer)):
            merged.append((start, end))
        elif merged and _ATTRIBUTION.match(text.strip()):
            merged[-1] = (merged[-1][0], end)
        else:
            pending = (start, end)
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], pending[1])
        else:
            merged.append(pending)
    return merged or [(0, len(question))]


def _part(question: str, start: int, end: int, analyzer: QueryAnalyzer) -> QuestionPart:
    text = _LEADING.sub("", question[start:end].strip())
    hints = analyzer.analyze(text)
    return QuestionPart(text=text, start=start, end=end, outlets=hints.outlets, days=hints.days, authors=hints.authors)
