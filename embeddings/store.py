"""The on-disk index: generations of FAISS vectors plus SQLite metadata, swapped in atomically.

Layout of an index folder:
    CURRENT                  name of the generation being served (replaced atomically)
    generations/<name>/      manifest.json, metadata.sqlite, dense.faiss
    generations/.building-*  a generation being written (or one a kill interrupted: the next build removes it)
    .CURRENT.*               a new pointer being written (likewise)
    embedding-cache.sqlite   vectors by hash of the embedded text, so no text is embedded twice
    .lock                    held by whoever is building a generation
A build writes a new generation beside the served one and only then points CURRENT at it, so a crash
or kill mid-build leaves the last good index serving. Generations are never changed once written.

Readers take no lock: a reader reads CURRENT, then loads that generation's files. So that a build
swapping generations meanwhile cannot pull the files from under it, the generation served before the
current one is kept until the next swap, and a reader whose generation vanished mid-load loads the
one CURRENT names now.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import faiss
import numpy as np

from corpus.errors import BylineError, Remedy
from corpus.models import Article
from embeddings.chunking import Chunk, ChunkerSettings
from embeddings.index_folder import location_error, writing_to

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
POINTER_TEMP_PREFIX = f".{CURRENT_FILE}."
GENERATIONS_DIR = "generations"
BUILDING_PREFIX = ".building-"
# How many times a reader follows CURRENT when its generation is swapped out and removed mid-load.
OPEN_ATTEMPTS = 5

T = TypeVar("T")


class IndexUnavailableError(BylineError):
    """The index cannot be served; the message says why. Rebuilding it is the remedy."""

    remedy = Remedy.REINDEX


class IndexMissingError(IndexUnavailableError):
    pass


class IndexCorruptError(IndexUnavailableError):
    pass


class IndexMismatchError(IndexUnavailableError):
    pass


class IndexChangingError(BylineError):
    """Builds kept replacing the generation a reader was loading."""

    remedy = Remedy.RETRY_LATER


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
    snapshot = _from_served(index_path, load_generation)
    snapshot.manifest.check_compatible(model, chunker, index_path)
    return snapshot


def check_index(index_path: Path, model: str, chunker: ChunkerSettings) -> Manifest:
    """Check the served generation without loading its articles: it matches the settings, its vectors
    can be read, and their count agrees with its metadata and manifest. IndexUnavailableError otherwise."""
    manifest = _from_served(index_path, verify_generation)
    manifest.check_compatible(model, chunker, index_path)
    return manifest


def _from_served(index_path: Path, load: Callable[[Path], T]) -> T:
    """`load` the generation CURRENT names, following CURRENT if a build swaps it out and removes it meanwhile."""
    for _ in range(OPEN_ATTEMPTS):
        generation = current_generation(index_path)
        if generation is None:
            raise IndexMissingError(f"There is no index at {index_path} yet.")
        try:
            return load(generation)
        except IndexCorruptError:
            if current_generation(index_path) == generation:
                raise
    raise IndexChangingError(f"The index at {index_path} was replaced {OPEN_ATTEMPTS} times while it was loaded.")


def current_generation(index_path: Path) -> Path | None:
    pointer = index_path / CURRENT_FILE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (NotADirectoryError, PermissionError) as error:
        raise location_error(index_path, error, doing="read") from error
    except (OSError, UnicodeDecodeError) as error:
        raise IndexCorruptError(f"The index pointer {pointer} cannot be read ({error}).") from error
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"The index pointer {pointer} is damaged.")
    return index_path / GENERATIONS_DIR / name


def read_manifest(location: Path) -> Manifest:
    """A generation's manifest (OSError, ValueError or TypeError when it is missing or damaged)."""
    return Manifest(**json.loads((location / "manifest.json").read_text(encoding="utf-8")))


def load_generation(location: Path) -> IndexSnapshot:
    with _reading(location):
        manifest = read_manifest(location)
        articles, hashes, chunks = _read_metadata(location / "metadata.sqlite")
        dense = _read_dense(location / "dense.faiss")
    _check_consistent(location, manifest, len(articles), len(chunks), dense)
    return IndexSnapshot(location, manifest, articles, hashes, chunks, dense)


def verify_generation(location: Path) -> Manifest:
    """Read a generation's manifest, metadata counts and vectors, and check that they agree."""
    with _reading(location):
        manifest = read_manifest(location)
        articles, chunks = _count_metadata(location / "metadata.sqlite")
        dense = _read_dense(location / "dense.faiss")
    _check_consistent(location, manifest, articles, chunks, dense)
    return manifest


@contextmanager
def _reading(location: Path) -> Iterator[None]:
    """A generation that cannot be read is damaged, unless reading it is not allowed."""
    try:
        yield
    except PermissionError as error:
        raise location_error(location.parent.parent, error, doing="read") from error
    except (OSError, ValueError, TypeError, KeyError, sqlite3.DatabaseError, RuntimeError) as error:
        raise IndexCorruptError(f"The index at {location} is damaged ({_first_line(error)}).") from error


def _check_consistent(location: Path, manifest: Manifest, articles: int, chunks: int, dense: faiss.Index) -> None:
    expected = (manifest.chunks, manifest.dimension, manifest.articles)
    if (dense.ntotal, dense.d, articles) != expected or chunks != dense.ntotal:
        raise IndexCorruptError(
            f"The index at {location} is inconsistent ({dense.ntotal} vectors of {dense.d} dimensions for "
            f"{chunks} chunks of {articles} articles; its manifest lists {manifest.chunks} chunks of "
            f"{manifest.articles} articles in {manifest.dimension} dimensions)."
        )


def write_generation(
    index_path: Path,
    manifest: Manifest,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
) -> Path:
    """Write a complete generation beside the served one and return its folder (not yet served).

    If writing fails (a full disk, say), nothing of the new generation is left behind.
    """
    generations = index_path / GENERATIONS_DIR
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    building = generations / (BUILDING_PREFIX + name)
    with writing_to(index_path), _removed_on_failure(building):
        generations.mkdir(parents=True, exist_ok=True)
        building.mkdir()
        dense = faiss.IndexFlatIP(manifest.dimension)
        if len(vectors):
            dense.add(vectors)
        _write_dense(building / "dense.faiss", dense)
        _write_file(building / "metadata.sqlite", _metadata_image(articles, chunks))
        _write_file(building / "manifest.json", json.dumps(asdict(manifest), indent=2).encode("utf-8"))
        _fsync_dir(building)
        final = generations / name
        building.rename(final)
        _fsync_dir(generations)
    return final


def serve_generation(index_path: Path, generation: Path) -> None:
    """Point CURRENT at `generation` atomically, then remove every generation but it and the one it replaces
    (a reader may still be loading that one). Call with the build lock held."""
    replaced = _served_name(index_path)
    temporary = index_path / f"{POINTER_TEMP_PREFIX}{uuid.uuid4().hex[:8]}"
    with writing_to(index_path), _removed_on_failure(temporary):
        _write_file(temporary, (generation.name + "\n").encode("utf-8"))
        os.replace(temporary, index_path / CURRENT_FILE)
        _fsync_dir(index_path)
    remove_leftovers(index_path)
    for folder in _generation_folders(index_path):
        if folder.name not in (generation.name, replaced):
            shutil.rmtree(folder, ignore_errors=True)


def remove_leftovers(index_path: Path) -> None:
    """Delete what interrupted builds leave: unfinished generations and pointer temp files. Call with the
    build lock held."""
    for temporary in index_path.glob(POINTER_TEMP_PREFIX + "*"):
        with suppress(OSError):
            temporary.unlink()
    for folder in _generation_folders(index_path, finished=False):
        shutil.rmtree(folder, ignore_errors=True)


def _served_name(index_path: Path) -> str | None:
    try:
        generation = current_generation(index_path)
    except IndexCorruptError:
        return None
    return generation.name if generation else None


def _generation_folders(index_path: Path, finished: bool = True) -> list[Path]:
    """Finished generations, or (finished=False) the folders of builds that never finished."""
    generations = index_path / GENERATIONS_DIR
    if not generations.is_dir():
        return []
    return [folder for folder in generations.iterdir() if folder.name.startswith(BUILDING_PREFIX) != finished]


_SCHEMA = """
CREATE TABLE articles (id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, article_id TEXT NOT NULL, position INTEGER NOT NULL,
                     start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
"""


def _metadata_image(articles: list[Article], chunks: list[Chunk]) -> bytes:
    """The metadata database, built in memory and returned as the bytes of its file.

    Writing those bytes ourselves, rather than letting SQLite write a file, turns a full disk into an
    OSError that says so (SQLite reports some of those as a bare "disk I/O error").
    """
    db = sqlite3.connect(":memory:")
    try:
        with db:
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT INTO articles VALUES (?, ?, ?)",
                [(a.id, a.content_hash, a.model_dump_json()) for a in articles],
            )
            db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                [(row, c.article_id, c.index, c.start, c.end, c.text) for row, c in enumerate(chunks)],
            )
        return db.serialize()
    finally:
        db.close()


def _read_metadata(path: Path) -> tuple[dict[str, Article], dict[str, str], list[Chunk]]:
    with _read_only(path) as db:
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
    return articles, hashes, chunks


def _count_metadata(path: Path) -> tuple[int, int]:
    """How many articles and chunks the metadata holds."""
    with _read_only(path) as db:
        (articles,) = db.execute("SELECT COUNT(*) FROM articles").fetchone()
        (chunks,) = db.execute("SELECT COUNT(*) FROM chunks").fetchone()
    return int(articles), int(chunks)


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def _write_dense(path: Path, dense: faiss.Index) -> None:
    # Through a Python file, so that a failed write raises OSError with its errno. (mypy cannot see
    # the callback classes: faiss's loader star-imports them from the SWIG module it picks at run time.)
    with open(path, "wb") as handle:
        faiss.write_index(dense, faiss.PyCallbackIOWriter(handle.write))  # type: ignore[attr-defined]
        handle.flush()
        os.fsync(handle.fileno())


def _read_dense(path: Path) -> faiss.Index:
    with open(path, "rb") as handle:
        return faiss.read_index(faiss.PyCallbackIOReader(handle.read))  # type: ignore[attr-defined]


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def _removed_on_failure(path: Path) -> Iterator[None]:
    """Remove `path` (a file or a folder) if the block fails, so no half-written file stays behind."""
    try:
        yield
    except BaseException:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with suppress(OSError):
                path.unlink()
        raise


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
