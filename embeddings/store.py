"""The on-disk index: generations of segments (vectors, BM25, sentence vectors, SQLite metadata), swapped in
atomically.

Layout of an index folder:
    CURRENT                  name of the generation being served (replaced atomically)
    generations/<name>/      manifest.json; segments/<segment>/ (see segment.py); dead/<segment>.npy (rows
                             of that segment this generation no longer serves); removed.npy (chunk ids the
                             build that wrote it removed)
    generations/.building-*  a generation being written (or one a kill interrupted: the next build removes it)
    .CURRENT.*               a new pointer being written (likewise)
    embedding-cache.sqlite   vectors (and sentence vectors) by hash of the embedded text, so no text is
                             embedded twice
    corpus-files.json        what each corpus file held when last read, so unchanged files are not read again
                             (corpus/readers/recorded.py)
    .lock                    held by whoever is building a generation
A build writes a new generation beside the served one and only then points CURRENT at it, so a crash
or kill mid-build leaves the last good index serving. Generations are never changed once written; a
generation that keeps a segment of the previous one gets its files as hard links, so adding one article
writes only that article's segment.

Readers take no lock: a reader reads CURRENT, then loads that generation's files. So that a build
swapping generations meanwhile cannot pull the files from under it, the generation served before the
current one is kept until the next swap, and a reader whose generation vanished mid-load loads the
one CURRENT names now. Nothing proportional to the corpus is read at load: arrays are memory-mapped
and articles and chunk texts are read from SQLite a few rows at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar, overload

import numpy as np

from corpus.errors import BylineError, Remedy
from corpus.models import Article
from embeddings.chunking import Chunk, ChunkerSettings
from embeddings.files import (
    FilesDisagreeError,
    fsync_path,
    link_tree,
    load_npy,
    removed_on_failure,
    write_file,
    write_npy,
)
from embeddings.index_folder import location_error, writing_database, writing_to
from embeddings.lexical import LexicalStats
from embeddings.segment import METADATA_FILE, Segment, SegmentData, write_segment
from embeddings.vectors.faiss_store import HNSW_THRESHOLD

FORMAT_VERSION = 5  # 4: the author in each chunk's BM25 header; 5: each BM25 token's sentence
CURRENT_FILE = "CURRENT"
POINTER_TEMP_PREFIX = f".{CURRENT_FILE}."
GENERATIONS_DIR = "generations"
BUILDING_PREFIX = ".building-"
SCRATCH_PREFIX = ".scratch-"  # a build's working files beside the index, deleted when it ends
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


class IndexFormatError(IndexMismatchError):
    """The index was written in another format (an older Byline): a rebuild takes its vectors from the
    embedding cache, so nothing is embedded again."""


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
    vector_store: str = "faiss"  # "faiss": in the segments; "milvus": a collection shared by the generations
    segments: list[dict] = field(default_factory=list)  # {"name", "rows", "dead", "search"} in row order
    max_id: int = -1  # the largest chunk id this generation serves
    inputs: str = ""  # fingerprint of the corpus files and library it was built from ("" unknown)

    def check_compatible(
        self, model: str, chunker: ChunkerSettings, location: Path, vector_store: str | None = None
    ) -> None:
        """Raise IndexMismatchError unless this index was built the way the settings ask."""
        if self.format_version != FORMAT_VERSION:
            raise IndexFormatError(
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
        if vector_store is not None and self.vector_store != vector_store:
            raise IndexMismatchError(
                f"The index at {location} keeps its vectors in {self.vector_store}, but the settings ask for "
                f"{vector_store}."
            )


class IndexSnapshot:
    """One generation, opened for reading: its segments' arrays memory-mapped, articles and chunk texts
    read on demand. Global row numbers run through the segments in order."""

    def __init__(self, location: Path, manifest: Manifest, segments: list[Segment]) -> None:
        self.location = location
        self.manifest = manifest
        self.segments = segments
        self.starts = np.cumsum([0, *(s.rows for s in segments)]).astype(np.int64)

    @property
    def articles(self) -> Mapping[str, Article]:
        return ArticleMap(self)

    @property
    def chunks(self) -> Sequence[Chunk]:
        return ChunkList(self)

    @property
    def rows(self) -> int:
        return int(self.starts[-1])

    def locate(self, row: int) -> tuple[Segment, int]:
        index = int(np.searchsorted(self.starts, row, side="right")) - 1
        return self.segments[index], row - int(self.starts[index])

    def chunk(self, row: int) -> Chunk:
        segment, local = self.locate(row)
        return segment.chunks([local])[0]

    def article_of_row(self, row: int) -> Article:
        segment, local = self.locate(row)
        return segment.article(int(segment.chunk_articles[local]))

    def vector_count(self) -> int:
        return sum(segment.store.count() for segment in self.segments)

    @property
    def outlets(self) -> list[str]:
        return self.visible_outlets(None)

    def visible_outlets(self, tenant: str | None) -> list[str]:
        """Outlets of the articles `tenant` may see (None: all)."""
        return sorted(
            {outlet for _, outlet, owner in self._articles("outlet, tenant") if outlet and _sees(tenant, owner)}
        )

    def visible_articles(self, tenant: str | None) -> list[Article]:
        """Every article `tenant` may see (None: all), read in one pass over each segment."""
        return [
            Article.model_validate_json(data)
            for _, data, owner in self._articles("data, tenant")
            if _sees(tenant, owner)
        ]

    def visible_authors(self, tenant: str | None) -> list[str]:
        """Authors of the articles `tenant` may see (None: all)."""
        return sorted(
            {author for _, author, owner in self._articles("author, tenant") if author and _sees(tenant, owner)}
        )

    def article_hashes(self) -> dict[str, str]:
        return {article_id: content_hash for _, article_id, content_hash in self._articles("id, content_hash")}

    def source_files(self) -> dict[str, str]:
        return {article_id: source for _, article_id, source in self._articles("id, source_file")}

    def counts(self, tenant: str | None) -> tuple[int, int]:
        """Articles and chunks `tenant` may see (None: all)."""
        visible = [chunks for _, chunks, owner in self._articles("chunks, tenant") if _sees(tenant, owner)]
        return len(visible), sum(visible)

    def newest_published(self, tenant: str | None) -> datetime | None:
        """Publication time of the newest article `tenant` may see (None: all)."""
        dates = [
            published
            for _, published, owner in self._articles("published, tenant")
            if published and _sees(tenant, owner)
        ]
        return max((datetime.fromisoformat(d) for d in dates), default=None)

    def _articles(self, columns: str) -> Iterator[tuple]:
        for segment in self.segments:
            for row, *values in segment.live_articles(columns):
                yield (row, *values)

    def close(self) -> None:
        for segment in self.segments:
            segment.close()

    def __enter__(self) -> IndexSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sees(tenant: str | None, owner: str) -> bool:
    return tenant is None or owner in ("", tenant)


class ArticleMap(Mapping[str, Article]):
    """The served articles by id, read from the segments' SQLite files when asked for."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self._snapshot = snapshot

    def __getitem__(self, article_id: str) -> Article:
        for segment in self._snapshot.segments:
            row = segment.article_row(article_id)
            if row is not None:
                return segment.article(row)
        raise KeyError(article_id)

    def __iter__(self) -> Iterator[str]:
        return (article_id for _, article_id in self._snapshot._articles("id"))

    def __len__(self) -> int:
        return self._snapshot.manifest.articles


class ChunkList(Sequence[Chunk]):
    """The served chunks, in row order, read from the segments' SQLite files when asked for."""

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return self._snapshot.manifest.chunks

    @overload
    def __getitem__(self, index: int) -> Chunk: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Chunk]: ...

    def __getitem__(self, index: int | slice) -> Chunk | Sequence[Chunk]:
        if isinstance(index, slice):
            return list(self)[index]
        return list(self)[index]

    def __iter__(self) -> Iterator[Chunk]:
        for segment in self._snapshot.segments:
            dead = set(segment.dead_rows.tolist())
            for row, chunk in segment.all_chunks():
                if row not in dead:
                    yield chunk


def open_index(
    index_path: Path, model: str, chunker: ChunkerSettings, vector_store: str | None = None
) -> IndexSnapshot:
    """Open the served generation, checking it matches the model, chunker and vector-store settings."""
    snapshot = _from_served(index_path, load_generation)
    try:
        snapshot.manifest.check_compatible(model, chunker, index_path, vector_store)
    except IndexMismatchError:
        snapshot.close()
        raise
    return snapshot


def check_index(index_path: Path, model: str, chunker: ChunkerSettings) -> Manifest:
    """Check the served generation: it matches the settings, its vectors can be read, and their counts
    agree with its metadata and manifest. IndexUnavailableError otherwise."""
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
    segments: list[Segment] = []
    try:
        with _reading(location):
            manifest = read_manifest(location)
            if manifest.format_version != FORMAT_VERSION:  # an older layout: say so, do not read it
                return IndexSnapshot(location, manifest, [])
            for entry in manifest.segments:
                dead = load_npy(location / "dead" / f"{entry['name']}.npy", mmap=False)
                segments.append(Segment(location / "segments" / entry["name"], dead, manifest.dimension))
        snapshot = IndexSnapshot(location, manifest, segments)
        _check_consistent(snapshot)
    except BaseException:
        for segment in segments:
            segment.close()
        raise
    return snapshot


def verify_generation(location: Path) -> Manifest:
    """Open a generation's segments (metadata, vectors, BM25), check that their counts agree, then read
    every segment's vectors and ids and check them against its metadata."""
    snapshot = load_generation(location)
    try:
        with _reading(location):
            for segment in snapshot.segments:
                segment.verify()
    finally:
        snapshot.close()
    return snapshot.manifest


@contextmanager
def _reading(location: Path) -> Iterator[None]:
    """A generation whose files cannot be read is damaged (unless reading them is not allowed), and one
    whose files disagree is inconsistent. Any other exception is a bug, not damage, and passes."""
    try:
        yield
    except PermissionError as error:
        raise location_error(location.parent.parent, error, doing="read") from error
    except FilesDisagreeError as error:
        raise IndexCorruptError(f"The index at {location} is inconsistent ({_first_line(error)}).") from error
    except (OSError, ValueError, TypeError, KeyError, IndexError, sqlite3.DatabaseError) as error:
        raise IndexCorruptError(f"The index at {location} is damaged ({_reason(error, location)}).") from error


def _check_consistent(snapshot: IndexSnapshot) -> None:
    manifest = snapshot.manifest
    if manifest.format_version != FORMAT_VERSION:
        return
    chunks = sum(segment.live_rows for segment in snapshot.segments)
    articles = sum(segment.article_rows - len(segment.dead_articles) for segment in snapshot.segments)
    if (chunks, articles) != (manifest.chunks, manifest.articles):
        raise IndexCorruptError(
            f"The index at {snapshot.location} is inconsistent ({chunks} chunks of {articles} articles; its "
            f"manifest lists {manifest.chunks} chunks of {manifest.articles} articles)."
        )


@dataclass
class GenerationPlan:
    """What a new generation holds: segments kept from the served one (with the rows they no longer
    serve), at most one new segment, and the chunk ids removed since the served generation."""

    kept: list[tuple[Segment, np.ndarray]] = field(default_factory=list)
    new: SegmentData | None = None
    lexical_stats: LexicalStats | None = None  # of the first kept segment, for weighting the new one
    removed_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def write_generation(
    index_path: Path, manifest: Manifest, plan: GenerationPlan, hnsw_threshold: int = HNSW_THRESHOLD
) -> Path:
    """Write a complete generation beside the served one and return its folder (not yet served).

    If writing fails (a full disk, say), nothing of the new generation is left behind.
    """
    generations = index_path / GENERATIONS_DIR
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    building = generations / (BUILDING_PREFIX + name)
    entries: list[dict] = []
    with writing_to(index_path), removed_on_failure(building):
        generations.mkdir(parents=True, exist_ok=True)
        building.mkdir()
        (building / "segments").mkdir()
        (building / "dead").mkdir()
        for segment, dead in plan.kept:
            link_tree(segment.folder, building / "segments" / segment.name)
            write_npy(building / "dead" / f"{segment.name}.npy", np.asarray(dead, dtype=np.int64))
            entries.append(
                {"name": segment.name, "rows": segment.rows, "dead": len(dead), "search": segment.store.kind}
            )
        if plan.new is not None and len(plan.new):
            segment_name = f"{int(plan.new.ids[0]):012d}-{uuid.uuid4().hex[:6]}"
            stats = plan.lexical_stats if plan.kept else None
            folder = building / "segments" / segment_name
            with writing_database(index_path, folder / METADATA_FILE):
                write_segment(folder, plan.new, stats, hnsw_threshold)
            write_npy(building / "dead" / f"{segment_name}.npy", np.zeros(0, dtype=np.int64))
            search = "hnsw" if len(plan.new) >= hnsw_threshold else "flat"
            entries.append({"name": segment_name, "rows": len(plan.new), "dead": 0, "search": search})
        write_npy(building / "removed.npy", np.asarray(plan.removed_ids, dtype=np.int64))
        final_manifest = Manifest(**{**asdict(manifest), "segments": entries})
        write_file(building / "manifest.json", json.dumps(asdict(final_manifest), indent=2).encode("utf-8"))
        fsync_path(building)
        final = generations / name
        building.rename(final)
        fsync_path(generations)
    return final


def serve_generation(index_path: Path, generation: Path) -> None:
    """Point CURRENT at `generation` atomically, then remove every generation but it and the one it replaces
    (a reader may still be loading that one). Call with the build lock held."""
    replaced = _served_name(index_path)
    temporary = index_path / f"{POINTER_TEMP_PREFIX}{uuid.uuid4().hex[:8]}"
    with writing_to(index_path), removed_on_failure(temporary):
        write_file(temporary, (generation.name + "\n").encode("utf-8"))
        os.replace(temporary, index_path / CURRENT_FILE)
        fsync_path(index_path)
    remove_leftovers(index_path)
    for folder in _generation_folders(index_path):
        if folder.name not in (generation.name, replaced):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def discarded_unless_served(index_path: Path, generation: Path) -> Iterator[None]:
    """Remove the finished `generation` if the block fails before CURRENT names it, so a failed build
    leaves nothing of its own behind."""
    try:
        yield
    except BaseException:
        if _served_name(index_path) != generation.name:
            shutil.rmtree(generation, ignore_errors=True)
        raise


def remove_leftovers(index_path: Path) -> None:
    """Delete what interrupted builds leave: unfinished generations, pointer temp files and scratch files. Call with the
    build lock held."""
    for temporary in [*index_path.glob(POINTER_TEMP_PREFIX + "*"), *index_path.glob(SCRATCH_PREFIX + "*")]:
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


def _reason(error: BaseException, location: Path) -> str:
    """Why a generation's file could not be read, naming the file from the generation's folder."""
    filename = getattr(error, "filename", None)
    if isinstance(error, OSError) and error.strerror and filename:
        path = Path(os.fsdecode(filename))
        return f"{error.strerror}: {path.relative_to(location) if path.is_relative_to(location) else path}"
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def removed_ids(generation: Path) -> np.ndarray:
    """The chunk ids the build of `generation` removed (none when unknown)."""
    try:
        return load_npy(generation / "removed.npy", mmap=False)
    except (OSError, ValueError):
        return np.zeros(0, dtype=np.int64)
