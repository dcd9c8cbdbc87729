"""What a question asks about specifically: the names and numbers it gives, and the sources it names.

A question about what Bloomberg reported, or about a person no article mentions, shares topic and words
with the indexed articles (so similarity alone cannot tell it apart), but its specifics are absent from
the evidence. Names are found by capitalisation (a run of capitalised words, with "of", "de" or "&"
inside: "Times of India", "Procter & Gamble"); a name standing where a publication stands ("according to
X", "an X article", "reported by X") is a source. Outlets and authors the index knows, and dates, are
found by `embeddings.query` and left out here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Words that open a question or clause capitalised without naming anything.
_FUNCTION_WORDS = frozenset(
    """a about across after against all also although amid among an and any are as at based be because been
    before being between both but by can compared comparing considering could despite did do does during each
    either following for from given had has have how however i if in including into is it its many may more
    most much neither no nor not of on once or other over per please regarding should since so some such than
    that the their then there these they this those though through to under unlike until upon was were what
    whats what's when where whereas whether which while who whom whose why will with within would yes""".split()
)
_CALENDAR_WORDS = frozenset(
    """january february march april may june july august september october november december jan feb mar apr
    jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday""".split()
)
# Between two capitalised words these keep one name together.
_CONNECTORS = frozenset({"of", "de", "del", "da", "di", "van", "von", "der", "la", "le", "&"})
_TOKEN = re.compile(r"[$£€]?\d[\d,.]*\d%?|[$£€]?\d%?|[^\W_][\w'’.&-]*[\w']|[^\W_]|&")
_NUMBER = re.compile(r"^[$£€]?\d[\d,.]*%?$")
_POSSESSIVE = re.compile(r"['’]s?$")
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# Dates and times are the date hints' business, not names or numbers.
WHEN = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[+-]\d{2}:?\d{2}|Z)?)?|\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\b\.?)?"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\b\d{{1,2}}\s+(?:{_MONTHS})\.?(?:,?\s+\d{{4}})?",
    re.I,
)
# What stands next to a source's name: "an X article", "X's report", "according to X", "reported by X".
_SOURCE_AFTER = re.compile(
    r"^['’]?s?\s*(?:(?:first|second|third|latest|recent|own|earlier|later|subsequent|other|new|previous)\s+)?"
    r"(?:news\s+)?(?:article|articles|report|reports|reporting|piece|pieces|story|stories|coverage|analysis|column|"
    r"op-ed|editorial|publication|podcast|newsletter|journalists?|reporters?|website|site|magazine|newspaper)\b",
    re.I,
)
# ... standing after a determiner or preposition: "the Bloomberg article", not "the article about Sonos report".
_BEFORE_SOURCE_AFTER = re.compile(r"(?:^|\b(?:a|an|the|from|by|in|of|and|or|both|two|another))\s*$", re.I)
_SOURCE_BEFORE = re.compile(
    r"(?:according\s+to|(?:article|report|piece|story|coverage|analysis|column|review|interview|one|another)s?"
    r"\s+(?:from|by|in)|(?:reported|presented|discussed|highlighted|detailed|noted|mentioned|stated|described|"
    r"published|covered|written|analy[sz]ed|featured|outlined)\s+(?:by|in))\s+(?:both\s+)?(?:the\s+)?$",
    re.I,
)
# Names listed with a source are sources too: "from The New York Times and The Washington Post".
_LISTED = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+)(?:the\s+)?$", re.I)


@dataclass(frozen=True)
class Mention:
    """A name or number as the question writes it, and where."""

    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return normalise_name(self.text)


@dataclass(frozen=True)
class QuestionSpecifics:
    """Names (people, organisations, products, places, titles) and numbers, each once in question order;
    `sources` are the names that stand where a publication stands."""

    names: list[Mention] = field(default_factory=list)
    numbers: list[Mention] = field(default_factory=list)
    sources: list[Mention] = field(default_factory=list)


def normalise_name(text: str) -> str:
    """Lower case, straight apostrophes, no possessive, no leading "the", single spaces."""
    text = text.replace("’", "'").replace("‘", "'").strip(" '\"“”.,;:")
    text = _POSSESSIVE.sub("", text) if text.endswith(("'s", "'")) else text
    text = re.sub(r"\s+", " ", text.lower())
    return re.sub(r"^the\s+", "", text)


def question_specifics(question: str, known: Iterable[tuple[int, int]] = ()) -> QuestionSpecifics:
    """The specifics of `question`; `known` spans (indexed outlets and authors it names) are not names."""
    known = list(known)
    masked = _mask(question, [*known, *((m.start(), m.end()) for m in WHEN.finditer(question))])
    names: list[Mention] = []
    numbers: list[Mention] = []
    for mention in _runs(masked):
        mention = Mention(question[mention.start : mention.end], mention.start, mention.end)
        if _NUMBER.match(mention.text):
            numbers.append(mention)
        else:
            names.append(mention)
    names = [n for n in _unique(names) if n.key not in _FUNCTION_WORDS]
    known = list(known)
    sources = _listed_sources(question, names, [n for n in names if _stands_as_source(question, n)], known)
    return QuestionSpecifics(names=names, numbers=_unique(numbers), sources=sources)


def _mask(question: str, spans: list[tuple[int, int]]) -> str:
    """The question with `spans` blanked out (same length, so offsets hold); a blank breaks any name run."""
    chars = list(question)
    for start, end in spans:
        chars[start:end] = "\x00" * (end - start)
    return "".join(chars)


def _unique(mentions: list[Mention]) -> list[Mention]:
    seen: set[str] = set()
    out = []
    for mention in mentions:
        if mention.key and mention.key not in seen:
            seen.add(mention.key)
            out.append(mention)
    return out


def _runs(question: str) -> list[Mention]:
    """Runs of capitalised words, and numbers standing alone."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(question)]
    runs: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    for index, (word, start, end) in enumerate(tokens):
        joined = bool(current) and question[current[-1][2] : start].strip() in ("", "-")
        if _is_name_word(word) and not _ordinary(question, word, start):
            if not joined or _POSSESSIVE.search(current[-1][0]):
                _close(runs, current)
                current = []
            current.append((word, start, end))
        elif joined and word.lower() in _CONNECTORS and _next_is_name(tokens, index):
            current.append((word, start, end))
        else:
            _close(runs, current)
            current = []
            if _NUMBER.match(word):
                runs.append([(word, start, end)])
    _close(runs, current)
    return [Mention(question[run[0][1] : run[-1][2]], run[0][1], run[-1][2]) for run in runs]


def _next_is_name(tokens: list[tuple[str, int, int]], index: int) -> bool:
    return index + 1 < len(tokens) and _is_name_word(tokens[index + 1][0])


def _close(runs: list[list[tuple[str, int, int]]], run: list[tuple[str, int, int]]) -> None:
    if run and not all(word.lower().rstrip(".") in _CALENDAR_WORDS for word, _, _ in run):
        runs.append(run)


def _is_name_word(word: str) -> bool:
    """Capitalised ("Trump", "OpenAI's"), camel-cased ("iPhone") or letters with digits ("GPT-4")."""
    if _NUMBER.match(word):
        return False
    bare = _POSSESSIVE.sub("", word.replace("’", "'"))
    if not bare or (bare[0].islower() and "-" in bare):  # "non-UMG-affiliated" is an ordinary word
        return False
    return bare[0].isupper() or any(c.isupper() for c in bare[1:]) or _mixes_digits(bare)


def _mixes_digits(word: str) -> bool:
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def _ordinary(question: str, word: str, start: int) -> bool:
    """Not part of a name: a capitalised function word ("What" after a name) or a handle ("@Moderator")."""
    handle = start > 0 and question[start - 1] == "@"
    return handle or word.lower().replace("’", "'") in _FUNCTION_WORDS or _clause_start_word(question, word, start)


def _clause_start_word(question: str, word: str, start: int) -> bool:
    """A capitalised ordinary word opening the question or a sentence ("Which", "Considering", "The")."""
    before = question[:start].rstrip(" \"'“‘(")
    opens = not before or before[-1] in ".?!:;"
    return opens and word.lower().replace("’", "'") in _FUNCTION_WORDS


def _stands_as_source(question: str, mention: Mention) -> bool:
    after = question[mention.end :].lstrip('"” ')
    before = question[: mention.start].rstrip("'‘\"“ ")
    if _SOURCE_AFTER.match(after) and _BEFORE_SOURCE_AFTER.search(before[-20:]):
        return True
    return bool(_SOURCE_BEFORE.search(before[-60:] + " "))


def _listed_sources(
    question: str, names: list[Mention], sources: list[Mention], known: list[tuple[int, int]]
) -> list[Mention]:
    """Sources, with the names listed after a source or a known outlet ("from X and Y")."""
    anchors = [(m.start, m.end) for m in sources] + known
    found = list(sources)
    changed = True
    while changed:
        changed = False
        for name in names:
            if name in found:
                continue
            beside = any(_LISTED.match(question[end : name.start]) for _, end in anchors if end <= name.start)
            if beside:
                found.append(name)
                anchors.append((name.start, name.end))
                changed = True
    return sorted(found, key=lambda m: m.start)
