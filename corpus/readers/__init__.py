"""Readers that turn the files of a corpus folder into Articles; load_corpus is the entry point."""

from corpus.readers.folder import (
    CorpusLoad,
    CorpusNote,
    CorpusOptions,
    EmptyCorpusError,
    SkippedFile,
    default_corpus_path,
    load_corpus,
)
from corpus.readers.source import UnreadableFileError

__all__ = [
    "CorpusLoad",
    "CorpusNote",
    "CorpusOptions",
    "EmptyCorpusError",
    "SkippedFile",
    "UnreadableFileError",
    "default_corpus_path",
    "load_corpus",
]
