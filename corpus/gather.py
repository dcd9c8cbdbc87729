"""Everything the index is built from: the corpus folder (shared by every tenant) and the library.

Library articles were checked for duplicates when they were added; a corpus file added later may
still tell the same story, so a library article at a corpus article's address, or with near-duplicate
text, is folded into that corpus article here (its outlet joins the corpus article's also_in) instead
of being indexed twice. The result depends only on what is stored, so a rebuild gives the same index.

Library articles come as KnownArticle made from their records (no article's JSON is parsed; one is read
whole from the library only when the index must chunk it, or when it has also_in entries), and with
`folds` kept between calls only the library articles new or changed since are read and compared with the
corpus (see corpus/library_folds.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corpus.corpus_stories import CorpusStories
from corpus.library import Library, RecordKey
from corpus.library_folds import LibraryFolds
from corpus.models import AlsoIn, Article
from corpus.readers.folder import CorpusNote, CorpusOptions, EmptyCorpusError, SkippedFile, load_corpus
from corpus.readers.recorded import CorpusFileRecords, KnownArticle, whole
from corpus.urls import url_key


@dataclass
class Gathered:
    # Articles of corpus files unchanged since they were recorded, and library articles, may be KnownArticle
    # (whole(a) reads one).
    articles: list[Article | KnownArticle] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    from_library: int = 0  # library articles indexed
    folded: int = 0  # library articles folded into a corpus article telling the same story
    notes: list[CorpusNote] = field(default_factory=list)  # corpus articles kept with a change
    files_read: int | None = None  # corpus files read (None: all; else the others were unchanged since recorded)


def load_corpus_articles(
    corpus_path: Path, options: CorpusOptions | None = None, records: CorpusFileRecords | None = None
) -> list[Article | KnownArticle]:
    """The corpus folder's articles; a missing or empty folder gives none. With `records`, only the files
    changed since they were recorded there are read (the others' articles are KnownArticle)."""
    try:
        if records is None:
            return list(load_corpus(corpus_path, options).articles)
        return records.load_corpus(corpus_path, options).articles
    except EmptyCorpusError:
        return []


def gather_articles(
    corpus_path: Path,
    library: Library | None,
    allow_empty: bool = False,
    options: CorpusOptions | None = None,
    indexed_sources: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    records: CorpusFileRecords | None = None,
    stories: CorpusStories | None = None,
    folds: LibraryFolds | None = None,
) -> Gathered:
    """Corpus-folder articles plus the library's; EmptyCorpusError when there is nothing at all, unless
    `allow_empty` (after the last stored article was removed, the index must become empty too).
    `options` and `indexed_sources` go to load_corpus (limits, links, which file keeps an indexed id);
    with `records`, only the corpus files changed since they were recorded there are read; `stories` (kept
    between calls) spares comparing the library with every corpus article anew, and `folds` (kept between
    calls with the same `stories`) comparing library articles that did not change."""
    stored = library.record_keys() if library is not None and library.exists() else []
    files_read: int | None = None
    corpus_articles: list[Article | KnownArticle]
    try:
        if records is None:
            corpus = load_corpus(corpus_path, options, indexed_sources, progress)
            corpus_articles, skipped, notes = list(corpus.articles), corpus.skipped, corpus.notes
        else:
            recorded_load = records.load_corpus(corpus_path, options, indexed_sources, progress)
            corpus_articles, skipped, notes = recorded_load.articles, recorded_load.skipped, recorded_load.notes
            files_read = recorded_load.files_read
    except EmptyCorpusError as error:
        if stored or allow_empty:  # a corpus may be feeds and links only
            corpus_articles, skipped, notes = [], error.skipped, []
        else:
            raise
    # Copies of a corpus article's story count even while the library keeps no article of its own.
    recorded = library.also_in() if library is not None and library.exists() else {}
    if not stored and not recorded:
        return Gathered(corpus_articles, skipped, notes=notes, files_read=files_read)
    assert library is not None
    gathered = Gathered(skipped=skipped, notes=notes, files_read=files_read)
    extra_also_in = (
        _fold_into_corpus(
            corpus_articles,
            stored,
            library,
            gathered,
            stories if stories is not None else CorpusStories(),  # an empty one is falsy
            folds if folds is not None else LibraryFolds(),
        )
        if stored
        else {}
    )
    gathered.articles = [
        _with_also_in(
            article, _unique([*recorded.get(article.id, []), *extra_also_in.get(article.id, [])], article.url)
        )
        for article in [*corpus_articles, *gathered.articles]
    ]
    return gathered


def _with_also_in(article: Article | KnownArticle, also_in: list[AlsoIn]) -> Article | KnownArticle:
    """The article with these also_in entries (an unchanged corpus file's article read again only if it has
    some: as read from a file, an article has none)."""
    if isinstance(article, KnownArticle) and not also_in:
        return article
    return whole(article).model_copy(update={"also_in": also_in})


def _fold_into_corpus(
    corpus_articles: list[Article | KnownArticle],
    stored: list[RecordKey],
    library: Library,
    gathered: Gathered,
    stories: CorpusStories,
    folds: LibraryFolds,
) -> dict[str, list[AlsoIn]]:
    """Put each library article in gathered.articles unless a corpus article tells its story already;
    returns the also_in entries those corpus articles gain."""
    corpus_ids = {article.id for article in corpus_articles}
    stories.update(corpus_articles, library)
    for article_id, _, _ in stored:
        if article_id in corpus_ids:
            reason = f"article id {article_id!r} is also a corpus-folder article's; the corpus file is indexed"
            gathered.skipped.append(SkippedFile(library.path, reason))
    fold = folds.fold([key for key in stored if key[0] not in corpus_ids], stories, library)
    gathered.articles.extend(fold.articles)
    gathered.from_library, gathered.folded = len(fold.articles), fold.folded
    return fold.also_in


def _unique(entries: list[AlsoIn], own_url: str) -> list[AlsoIn]:
    """One entry per address and tenant, none at the article's own address."""
    if not entries:  # most articles: spare working out the own address's key
        return []
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
