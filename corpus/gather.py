"""Everything the index is built from: the corpus folder (shared by every tenant) and the library.

Library articles were checked for duplicates when they were added; a corpus file added later may
still tell the same story, so a library article at a corpus article's address, or with near-duplicate
text, is folded into that corpus article here (its outlet joins the corpus article's also_in) instead
of being indexed twice. The result depends only on what is stored, so a rebuild gives the same index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corpus.dedup import NearDuplicates, signature_of
from corpus.library import Library, StoredArticle
from corpus.models import AlsoIn, Article
from corpus.readers.folder import CorpusLoad, CorpusNote, CorpusOptions, EmptyCorpusError, SkippedFile, load_corpus
from corpus.urls import url_key


@dataclass
class Gathered:
    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    from_library: int = 0  # library articles indexed
    folded: int = 0  # library articles folded into a corpus article telling the same story
    notes: list[CorpusNote] = field(default_factory=list)  # corpus articles kept with a change


def load_corpus_articles(corpus_path: Path, options: CorpusOptions | None = None) -> list[Article]:
    """The corpus folder's articles; a missing or empty folder gives none."""
    try:
        return load_corpus(corpus_path, options).articles
    except EmptyCorpusError:
        return []


def gather_articles(
    corpus_path: Path,
    library: Library | None,
    allow_empty: bool = False,
    options: CorpusOptions | None = None,
    indexed_sources: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Gathered:
    """Corpus-folder articles plus the library's; EmptyCorpusError when there is nothing at all, unless
    `allow_empty` (after the last stored article was removed, the index must become empty too).
    `options` and `indexed_sources` go to load_corpus (limits, links, which file keeps an indexed id)."""
    stored = library.articles() if library is not None and library.exists() else []
    try:
        corpus = load_corpus(corpus_path, options, indexed_sources, progress)
    except EmptyCorpusError as error:
        if stored or allow_empty:  # a corpus may be feeds and links only
            corpus = CorpusLoad(skipped=error.skipped)
        else:
            raise
    if not stored:
        return Gathered(corpus.articles, corpus.skipped, notes=corpus.notes)
    assert library is not None
    corpus_articles = corpus.articles
    gathered = Gathered(skipped=corpus.skipped, notes=corpus.notes)
    extra_also_in = _fold_into_corpus(corpus_articles, stored, library, gathered)
    recorded = library.also_in()
    gathered.articles = [
        article.model_copy(
            update={
                "also_in": _unique([*recorded.get(article.id, []), *extra_also_in.get(article.id, [])], article.url)
            }
        )
        for article in [*corpus_articles, *gathered.articles]
    ]
    return gathered


def _fold_into_corpus(
    corpus_articles: list[Article], stored: list[StoredArticle], library: Library, gathered: Gathered
) -> dict[str, list[AlsoIn]]:
    """Put each library article in gathered.articles unless a corpus article tells its story already;
    returns the also_in entries those corpus articles gain."""
    corpus_ids = {article.id for article in corpus_articles}
    corpus_by_key = {url_key(a.url): a.id for a in corpus_articles if a.url}
    near = NearDuplicates()
    near.add_all(corpus_signatures(library, corpus_articles).items())
    extra: dict[str, list[AlsoIn]] = {}
    for item in stored:
        article = item.article
        if article.id in corpus_ids:
            reason = f"article id {article.id!r} is also a corpus-folder article's; the corpus file is indexed"
            gathered.skipped.append(SkippedFile(library.path, reason))
            continue
        kept_id = corpus_by_key.get(item.url_key) or near.closest(item.signature)
        if kept_id is None:
            gathered.articles.append(article)
            gathered.from_library += 1
            continue
        gathered.folded += 1
        extra.setdefault(kept_id, []).append(
            AlsoIn(
                outlet=article.outlet,
                url=article.url,
                title=article.title,
                published=article.published,
                tenant=article.tenant,
            )
        )
    return extra


def corpus_signatures(library: Library, corpus_articles: list[Article]) -> dict[str, bytes | None]:
    """Near-duplicate signatures of corpus-folder articles, computed once per content and cached in the library."""
    cached = library.corpus_signatures()
    signatures: dict[str, tuple[str, bytes | None]] = {}
    for article in corpus_articles:
        content_hash = article.content_hash
        hit = cached.get(article.id)
        signatures[article.id] = hit if hit and hit[0] == content_hash else (content_hash, signature_of(article.body))
    if signatures != cached:
        library.save_corpus_signatures(signatures)
    return {article_id: signature for article_id, (_, signature) in signatures.items()}


def _unique(entries: list[AlsoIn], own_url: str) -> list[AlsoIn]:
    """One entry per address and tenant, none at the article's own address."""
    own = url_key(own_url) if own_url else None
    seen: set[tuple[str, str]] = set()
    kept: list[AlsoIn] = []
    for entry in entries:
        key = (url_key(entry.url) if entry.url else entry.outlet, entry.tenant)
        if key in seen or (own is not None and key[0] == own):
            continue
        seen.add(key)
        kept.append(entry)
    return kept
