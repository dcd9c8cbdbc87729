"""Whether the evidence covers what a question asks about: decided once, for any answer generator.

A question is answered only when the sources it names are indexed outlets (or authors) and the names it
asks about occur in the articles retrieved for it. Questions the corpus cannot answer are built to look
like answerable ones (same topics, same outlets), so similarity alone cannot separate them; their own
specifics can: "according to Bloomberg" when no Bloomberg article is indexed, or a person no retrieved
article mentions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from bot.specifics import Mention, QuestionSpecifics
from corpus.models import Article
from embeddings.search import SearchResult

_WORDS = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"['’]s?$")
ARTICLE_WORDS_CACHE = 256  # articles whose words are kept (tens of KB each): those of the recent questions


@dataclass(frozen=True)
class Coverage:
    """What the evidence lacks: sources the question names that are not indexed, and names (and numbers)
    no retrieved article mentions, each as the question writes it."""

    missing_sources: list[str] = field(default_factory=list)
    missing_names: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing_sources and not self.missing_names

    @property
    def missing(self) -> list[str]:
        return [*self.missing_sources, *self.missing_names]


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.replace("’", "'").lower())


def _name_words(mention: Mention) -> list[str]:
    """The name's words, lower case, without a possessive, a leading "the" or the lower-case part of a
    hyphenated word ("Spider-themed" is about "Spider")."""
    words = []
    for word in mention.text.replace("’", "'").split():
        word = _POSSESSIVE.sub("", word)
        pieces = word.split("-")
        words.append(" ".join(p for p in pieces if p[:1].isupper() or p[:1].isdigit()) if len(pieces) > 1 else word)
    found = _words(" ".join(words))
    return found[1:] if len(found) > 1 and found[0] == "the" else found


def _word_variants(word: str) -> tuple[str, ...]:
    """A plural name also matches its singular ("APIs", "CEOs")."""
    return (word, word[:-1]) if len(word) > 2 and word.endswith("s") else (word,)


@dataclass(frozen=True)
class _ArticleWords:
    text: str  # the article's words, lower case, joined by single spaces
    vocabulary: frozenset[str]


@lru_cache(maxsize=ARTICLE_WORDS_CACHE)
def _article_words(text: str) -> _ArticleWords:
    """Kept for the recently retrieved articles: their words are read once, not at every question."""
    words = _words(text)
    return _ArticleWords(" ".join(words), frozenset(words))


def _words_of(article: Article) -> _ArticleWords:
    return _article_words(f"{article.title}\n{article.outlet}\n{article.author}\n{article.body}")


class EvidenceText:
    """The words of the retrieved articles (title, outlet, author and body), for finding names in them."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self._articles = [_words_of(a) for a in articles]

    @cached_property
    def _text(self) -> str:
        return " " + " \n ".join(w.text for w in self._articles) + " "

    def _known(self, word: str) -> bool:
        return any(word in article.vocabulary for article in self._articles)

    def mentions(self, mention: Mention) -> bool:
        """The name occurs as written (case aside), or, for a name of several words, each word occurs."""
        words = _name_words(mention)
        if not words:
            return True
        if len(words) == 1:  # (a word occurs as written exactly when it is in the vocabulary)
            return any(self._known(v) for v in _word_variants(words[0]))
        if f" {' '.join(words)} " in self._text:
            return True
        return all(any(self._known(v) for v in _word_variants(w)) for w in words)


def asked_names(specifics: QuestionSpecifics, numbers: bool = False) -> list[Mention]:
    """The names (and, with `numbers`, numbers) the evidence must mention; sources are checked apart."""
    asked = [m for m in specifics.names if m not in specifics.sources]
    return asked + specifics.numbers if numbers else asked


def unmentioned(names: Sequence[Mention], results: Sequence[SearchResult]) -> list[Mention]:
    """The names no article of `results` mentions."""
    evidence = EvidenceText(list({r.article.id: r.article for r in results}.values()))
    return [m for m in names if not evidence.mentions(m)]


def check_coverage(
    specifics: QuestionSpecifics,
    results: Sequence[SearchResult],
    known_source: Callable[[str], bool],
    numbers: bool = False,
) -> Coverage:
    """Sources not indexed (`known_source` says which are) and names absent from the articles of `results`;
    with `numbers`, numbers absent from them too."""
    missing_sources = [m.text for m in specifics.sources if not known_source(m.text)]
    missing_names = [m.text for m in unmentioned(asked_names(specifics, numbers), results)]
    return Coverage(_clean(missing_sources), _clean(missing_names))


def _clean(texts: list[str]) -> list[str]:
    """As the question writes them, without a possessive ("Bloomberg's" reads "Bloomberg"), each once."""
    return list(
        dict.fromkeys(_POSSESSIVE.sub("", t.replace("’", "'")) if t.endswith(("'s", "’s")) else t for t in texts)
    )
