"""The on-disk index: generations of FAISS vectors plus SQLite metadata, swapped in atomically.

Layout of an index folder:
    CURRENT                  name of the generation being served (replaced atomically)
    generations/<name>/      manifest.json, metadata.sqlite, dense.faiss
    embedding-cache.sqlite   vectors by hash of the embedded text, so no text is embedded twice
    .lock                    held by whoever is building a generation
A build writes a new generation beside the served one and only then points CURRENT at it, so a crash
or kill mid-build leaves the last good index serving.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from corpus.errors import BylineError, Remedy
from corpus.models import Article
from embeddings.chunking import Chunk, ChunkerSettings

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
GENERATIONS_DIR = "generations"
BUILDING_PREFIX = ".building-"


class IndexUnavailableError(BylineError):
    """The index cannot be served; the message says why. Rebuilding it is the remedy."""

    remedy = Remedy.REINDEX


class IndexMissingError(IndexUnavailableError):
    pass


class IndexCorruptError(IndexUnavailableError):
    pass


class IndexMismatchError(IndexUnavailableError):
    pass


@dataclass(frozen=True)
class Manifest:
    model: str
    dimension: int
    chunker: dict
    articles: int
    chunks: int
    built_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    format_version: int = FORMAT_VERSION

    def check_compatible(self, model: str, chunker: ChunkerSettings, location: Path) -> None:
        """Raise IndexMismatchError unless this index was built the way the settings ask."""
        if self.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index at {location} has format version {self.format_version}; this Byline reads "
                f"version {FORMAT_VERSION}."
            )
        if self.model != model:
            raise IndexMismatchError(
                f"The index at {location} was built with the model {self.model!r}, but the settings ask for {model!r}."
            )
        if self.chunker != asdict(chunker):
            raise IndexMismatchError(
                f"The index at {location} was built with chunking {self.chunker}, but the settings ask for "
                f"{asdict(chunker)}."
            )


@dataclass
class IndexSnapshot:
    """One generation, loaded whole into memory: what a search reads."""

    location: Path
    manifest: Manifest
    articles: dict[str, Article]
    article_hashes: dict[str, str]
    chunks: list[Chunk]
    dense: faiss.Index

    @property
    def outlets(self) -> list[str]:
        return sorted({a.outlet for a in self.articles.values() if a.outlet})


def open_index(index_path: Path, model: str, chunker: ChunkerSettings) -> IndexSnapshot:
    """Load the served generation, checking it matches the model and chunker settings."""
    generation = current_generation(index_path)
    if generation is None:
        raise IndexMissingError(f"There is no index at {index_path} yet.")
    snapshot = load_generation(generation)
    snapshot.manifest.check_compatible(model, chunker, index_path)
    return snapshot


def current_generation(index_path: Path) -> Path | None:
    pointer = index_path / CURRENT_FILE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise IndexCorruptError(f"The index pointer {pointer} cannot be read ({error}).") from error
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"The index pointer {pointer} is damaged.")
    return index_path / GENERATIONS_DIR / name


def read_manifest(location: Path) -> Manifest:
    """A generation's manifest (OSError, ValueError or TypeError when it is missing or damaged)."""
    return Manifest(**json.loads((location / "manifest.json").read_text(encoding="utf-8")))


def load_generation(location: Path) -> IndexSnapshot:
    try:
        manifest = read_manifest(location)
        articles, hashes, chunks = _read_metadata(location / "metadata.sqlite")
        dense = faiss.read_index(str(location / "dense.faiss"))
    except (OSError, ValueError, TypeError, KeyError, sqlite3.DatabaseError, RuntimeError) as error:
        raise IndexCorruptError(f"The index at {location} is damaged ({_first_line(error)}).") from error
    if dense.ntotal != len(chunks) or dense.d != manifest.dimension or len(articles) != manifest.articles:
        raise IndexCorruptError(
            f"The index at {location} is inconsistent ({dense.ntotal} vectors of {dense.d} dimensions for "
            f"{len(chunks)} chunks)."
        )
    return IndexSnapshot(location, manifest, articles, hashes, chunks, dense)


def write_generation(
    index_path: Path,
    manifest: Manifest,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
) -> Path:
    """Write a complete generation beside the served one and return its folder (not yet served)."""
    generations = index_path / GENERATIONS_DIR
    generations.mkdir(parents=True, exist_ok=True)
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    building = generations / (BUILDING_PREFIX + name)
    building.mkdir()
    dense = faiss.IndexFlatIP(manifest.dimension)
    if len(vectors):
        dense.add(vectors)
    faiss.write_index(dense, str(building / "dense.faiss"))
    _write_metadata(building / "metadata.sqlite", articles, chunks)
    (building / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
    _fsync_tree(building)
    final = generations / name
    building.rename(final)
    return final


def serve_generation(index_path: Path, generation: Path) -> None:
    """Point CURRENT at `generation` atomically, then remove every other generation."""
    temporary = index_path / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(generation.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_path / CURRENT_FILE)
    _fsync_dir(index_path)
    remove_stale_generations(index_path, keep=generation.name)


def remove_stale_generations(index_path: Path, keep: str | None) -> None:
    """Delete unfinished builds and generations no longer served."""
    generations = index_path / GENERATIONS_DIR
    if not generations.is_dir():
        return
    for folder in generations.iterdir():
        if folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)


_SCHEMA = """
CREATE TABLE articles (id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, article_id TEXT NOT NULL, position INTEGER NOT NULL,
                     start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
"""


def _write_metadata(path: Path, articles: list[Article], chunks: list[Chunk]) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO articles VALUES (?, ?, ?)",
            [(a.id, a.content_hash, a.model_dump_json()) for a in articles],
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
            [(row, c.article_id, c.index, c.start, c.end, c.text) for row, c in enumerate(chunks)],
        )
    # sqlite3's context manager commits but does not close.
    db.close()


def _read_metadata(path: Path) -> tuple[dict[str, Article], dict[str, str], list[Chunk]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        articles: dict[str, Article] = {}
        hashes: dict[str, str] = {}
        for article_id, content_hash, data in db.execute("SELECT id, content_hash, data FROM articles"):
            articles[article_id] = Article.model_validate_json(data)
            hashes[article_id] = content_hash
        chunks = [
            Chunk(article_id, position, start, end, text)
            for article_id, position, start, end, text in db.execute(
                "SELECT article_id, position, start, end, text FROM chunks ORDER BY row"
            )
        ]
    finally:
        db.close()
    return articles, hashes, chunks


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
