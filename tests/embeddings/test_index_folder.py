"""The index folder in hostile places (not a folder, read-only, a full disk) and what a kill leaves in it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.errors import Remedy
from corpus.readers import load_corpus
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.index_folder import IndexDiskFullError, IndexLocationError
from embeddings.indexer import build_index
from embeddings.store import CURRENT_FILE, current_generation, open_index
from tests.conftest import front_matter_article, make_byline, write_corpus
from tests.filesystems import fill, held_open, read_only, small_disk

SETTINGS = ChunkerSettings(max_tokens=128, overlap_tokens=24)
REPO_ROOT = str(Path(__file__).resolve().parents[2])


def build(encoder: Encoder, corpus: Path, index: Path):
    return build_index(load_corpus(corpus).articles, index, encoder, SETTINGS)


def leftovers(index: Path) -> list[str]:
    """Generations, unfinished builds and pointer temp files: what a failed build must not add to."""
    names = [p.name for p in index.iterdir() if p.name.startswith(f".{CURRENT_FILE}.")]
    generations = index / "generations"
    return sorted(names + ([f"generations/{p.name}" for p in generations.iterdir()] if generations.is_dir() else []))


def long_articles(count: int) -> dict[str, str | bytes]:
    return {
        f"flood-{n}.md": front_matter_article(
            f"Flood report {n}",
            "City Paper",
            "2023-11-15",
            [f"Paragraph {j} of report {n} describes the flood defences in district {j}. " * 6 for j in range(8)],
        )
        for n in range(count)
    }


def _regular_file(tmp_path: Path) -> Path:
    (tmp_path / "index-file").write_text("not a folder\n")
    return tmp_path / "index-file"


@pytest.mark.parametrize(
    "where, problem",
    [
        (_regular_file, "is a file, not a folder"),
        (lambda tmp_path: Path("/etc/passwd"), "is a file, not a folder"),
        (lambda tmp_path: Path("/dev/null/byline-index"), "cannot be used: /dev/null is not a folder"),
        (lambda tmp_path: Path("/proc/byline-index"), "cannot be created (No such file or directory"),
    ],
    ids=["regular-file", "etc-passwd", "under-dev-null", "under-proc"],
)
def test_an_index_path_that_cannot_hold_an_index_gets_one_line_naming_the_setting(
    encoder: Encoder, news_corpus: Path, tmp_path: Path, where, problem: str
) -> None:
    index = where(tmp_path)
    byline = make_byline(encoder, news_corpus, index)
    # ensure_index is what asking does first; reindex is what building does.
    for attempt in (byline.ensure_index, byline.reindex):
        with pytest.raises(IndexLocationError) as raised:
            attempt()
        message = str(raised.value)
        assert message.startswith(f"The index folder {index} (BYLINE_INDEX_PATH) {problem}")
        assert "\n" not in message
        assert raised.value.remedy is Remedy.NONE, "rebuilding the index is not the fix"


def test_a_read_only_index_answers_and_building_into_it_says_it_cannot_be_written(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    make_byline(encoder, news_corpus, index).reindex()
    served, before = current_generation(index), leftovers(index)
    write_corpus(news_corpus, long_articles(1))
    with read_only(index):
        byline = make_byline(encoder, news_corpus, index)
        assert byline.ensure_index() is None
        answer = byline.ask("What did Baqeri propose?")
        assert not answer.refused and "drills" in answer.text
        with pytest.raises(IndexLocationError, match=r"\(BYLINE_INDEX_PATH\) cannot be written \(") as raised:
            byline.reindex()
        assert raised.value.remedy is Remedy.NONE
        byline.close()  # the served index's files are memory-mapped: let go of them before unmounting
    assert current_generation(index) == served and leftovers(index) == before


@pytest.mark.parametrize("change", ["add articles", "remove an article"])
def test_a_full_disk_mid_build_says_so_and_the_last_index_keeps_serving(
    encoder: Encoder, news_corpus: Path, tmp_path: Path, change: str
) -> None:
    with small_disk(tmp_path / "disk", size="2m") as disk:
        index = disk / "index"
        build(encoder, news_corpus, index)
        served, before = current_generation(index), leftovers(index)
        if change == "add articles":
            write_corpus(news_corpus, long_articles(4))  # the embedding cache grows first
        else:
            (news_corpus / "rugby-final.md").unlink()  # nothing to embed: the new generation is all that is written
        filler = fill(disk, leave=8192)

        with pytest.raises(IndexDiskFullError) as raised:
            build(encoder, news_corpus, index)
        message = str(raised.value)
        assert message.startswith(f"The disk is full: the index at {index} could not be written (")
        assert "The last complete index is still served." in message and "\n" not in message
        assert current_generation(index) == served
        assert leftovers(index) == before, "no half-written generation or pointer is left behind"
        assert held_open(disk) == [], "the failed build closed every file it opened"
        with open_index(index, encoder.model_name, SETTINGS) as snapshot:  # closed: the disk is unmounted after
            assert len(snapshot.articles) == 4

        filler.unlink()
        report = build(encoder, news_corpus, index)
        assert current_generation(index) == index / "generations" / report.generation
        with open_index(index, encoder.model_name, SETTINGS) as snapshot:
            assert len(snapshot.articles) == report.articles
        assert held_open(disk) == []


KILLED_BEFORE_THE_POINTER_IS_REPLACED = """
import os, signal, sys
from pathlib import Path
from embeddings import store

index = Path(sys.argv[1])
# The process dies at the worst moment: the new pointer is written, but not yet renamed over CURRENT.
os.replace = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
store.serve_generation(index, store.current_generation(index))
"""


def test_a_kill_before_the_pointer_is_replaced_leaves_a_temp_file_that_the_next_build_removes(
    encoder: Encoder, news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build(encoder, news_corpus, index)
    served = current_generation(index)
    pythonpath = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))
    for _ in range(2):
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_BEFORE_THE_POINTER_IS_REPLACED, str(index)],
            env={**os.environ, "PYTHONPATH": pythonpath},
            capture_output=True,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    temporary = [p.name for p in index.iterdir() if p.name.startswith(f".{CURRENT_FILE}.")]
    assert len(temporary) == 2, "each kill left its temp file"
    assert current_generation(index) == served

    build(encoder, news_corpus, index)  # nothing changed: the build only tidies up
    assert [p.name for p in index.iterdir() if p.name.startswith(f".{CURRENT_FILE}.")] == []
    assert current_generation(index) == served
