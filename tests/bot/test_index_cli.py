"""The command line over the on-disk index: bad index paths, a full disk, `healthcheck` and `ask --corpus`.

Most cases run the typer app in this process; the full disk runs `byline index` in a subprocess whose
files cannot grow past a limit (RLIMIT_FSIZE, the same EFBIG a quota or a full disk gives).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from corpus.readers import load_corpus
from embeddings.encoder import Encoder
from embeddings.indexer import BuildOptions, build_index
from embeddings.store import CURRENT_FILE, current_generation
from tests.conftest import front_matter_article, make_byline, write_corpus
from tests.filesystems import file_size_limit

REPO_ROOT = str(Path(__file__).resolve().parents[2])


def byline(*args: str, env: dict[str, str]):
    return CliRunner().invoke(app, list(args), env=env)


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture
def env(tmp_path: Path, news_corpus: Path) -> dict[str, str]:
    return {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BYLINE_CORPUS_PATH": str(news_corpus),
        "BYLINE_INDEX_PATH": str(tmp_path / "index"),
        "BYLINE_DISCORD_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
    }


@pytest.mark.parametrize(
    "command, index_path, problem",
    [
        ("ask", "/etc/passwd", "is a file, not a folder"),
        ("ask", "/dev/null/index", "cannot be used: /dev/null is not a folder"),
        ("sources", "/etc/passwd", "is a file, not a folder"),
        ("index", "{tmp}/a-file", "is a file, not a folder"),
    ],
)
def test_an_index_path_that_is_not_a_folder_is_one_line_and_exit_2(
    env: dict[str, str], tmp_path: Path, command: str, index_path: str, problem: str
) -> None:
    (tmp_path / "a-file").write_text("x\n")
    index_path = index_path.format(tmp=tmp_path)
    args = [command, "What did Baqeri propose?"] if command == "ask" else [command]
    result = byline(*args, env={**env, "BYLINE_INDEX_PATH": index_path})
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: The index folder {index_path} (BYLINE_INDEX_PATH) {problem}")
    assert "byline index" not in line, "rebuilding the index is not the fix"


@pytest.mark.parametrize("change", ["add articles", "remove articles"])
def test_a_full_disk_mid_build_says_so_in_one_line_and_the_last_index_keeps_serving(
    encoder: Encoder, env: dict[str, str], news_corpus: Path, tmp_path: Path, change: str
) -> None:
    index = tmp_path / "index"
    service = make_byline(encoder, news_corpus, index)
    service.reindex()
    service.close()
    served = current_generation(index)
    generations = sorted(p.name for p in (index / "generations").iterdir())
    if change == "add articles":
        write_corpus(
            news_corpus,
            {
                "flood.md": front_matter_article(
                    "Flood report",
                    "City Paper",
                    "2023-11-15",
                    [f"District {j} built new flood walls. " * 20 for j in range(20)],
                )
            },
        )
    else:  # enough that the segments are merged: the index is written again (one gone only marks rows dead)
        (news_corpus / "rugby-final.md").unlink()
        (news_corpus / "chip-earnings.md").unlink()

    pythonpath = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))
    # Far smaller than the embedding cache already is, and than any file of a new generation.
    limit = 4096
    assert (index / "embedding-cache.sqlite").stat().st_size > limit
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "index"],
        env={**os.environ, **env, "PYTHONPATH": pythonpath},
        preexec_fn=file_size_limit(limit),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line == (
        f"error: The disk is full: the index at {index} could not be written (File too large). "
        "The last complete index is still served."
    )
    assert current_generation(index) == served
    assert sorted(p.name for p in (index / "generations").iterdir()) == generations, "nothing half-written is left"
    assert not [p for p in index.iterdir() if p.name.startswith(f".{CURRENT_FILE}.")]

    answer = byline("ask", "What did Baqeri propose?", "--json", env=env)
    assert answer.exit_code == 0, answer.stderr
    assert json.loads(answer.stdout)["answer"]["refused"] is False


def _stores(generation: Path) -> list[Path]:
    """The vector store folder of each segment of `generation`."""
    stores = sorted(generation.glob("segments/*/vectors"))
    assert stores, f"no segment in {generation}"
    return stores


def _damage(name: str, change: Callable[[Path], object]) -> Callable[[Path], None]:
    """Apply `change` to the file `name` in every segment's vector store."""

    def damage(generation: Path) -> None:
        for store in _stores(generation):
            change(store / name)

    return damage


def _rows_dropped(path: Path) -> None:
    """A readable .npy file of the right dimension holding one row fewer than there are chunks."""
    array = np.load(path)
    np.save(path, array[:-1])


def _one_vector_broken(path: Path) -> None:
    """Same size and shape, but one vector is no longer a vector the encoder gives."""
    array = np.load(path)
    array[len(array) // 2] = np.nan
    np.save(path, array)


def _ids_of_other_chunks(path: Path) -> None:
    """As many ids as there are chunks, but not the chunks' ids."""
    np.save(path, np.load(path) + 1000)


def _graph_with_fewer_vectors(path: Path) -> None:
    graph = faiss.read_index(str(path))
    fewer = faiss.IndexHNSWFlat(graph.d, 8, faiss.METRIC_INNER_PRODUCT)
    fewer.add(graph.reconstruct_n(0, graph.ntotal - 1).astype(np.float32))
    faiss.write_index(fewer, str(path))


@pytest.mark.parametrize(
    "damage, problem",
    [
        (_damage("vectors.npy", lambda p: p.write_bytes(b"not a numpy file")), "is damaged"),
        (_damage("vectors.npy", lambda p: p.write_bytes(p.read_bytes()[:-100])), "is damaged"),
        (_damage("vectors.npy", _rows_dropped), "is inconsistent"),
        (_damage("vectors.npy", Path.unlink), "is damaged"),
        (_damage("vectors.npy", _one_vector_broken), "is damaged"),
        (_damage("ids.npy", _ids_of_other_chunks), "is inconsistent"),
        (_damage("store.json", lambda p: p.write_text("{")), "is damaged"),
        (_damage("dense.faiss", lambda p: p.write_bytes(b"not a faiss index")), "is damaged"),
        (_damage("dense.faiss", lambda p: p.write_bytes(p.read_bytes()[:-100])), "is damaged"),
        (_damage("dense.faiss", _graph_with_fewer_vectors), "is inconsistent"),
        (_damage("dense.faiss", Path.unlink), "is damaged"),
    ],
    ids=[
        "garbage",
        "truncated",
        "vector-count",
        "missing",
        "unreadable-vector",
        "ids-of-other-chunks",
        "store-layout",
        "graph-garbage",
        "graph-truncated",
        "graph-count",
        "graph-missing",
    ],
)
def test_healthcheck_reads_the_vectors_and_checks_them_against_the_metadata(
    encoder: Encoder, env: dict[str, str], news_corpus: Path, tmp_path: Path, damage, problem: str
) -> None:
    index = tmp_path / "index"
    service = make_byline(encoder, news_corpus, index)
    # Every segment searched through an HNSW graph too, so that the graph is checked as well.
    build_index(
        load_corpus(news_corpus).articles,
        index,
        encoder,
        service.chunker_settings,
        options=BuildOptions(hnsw_threshold=1),
    )
    service.close()
    generation = current_generation(index)
    assert generation is not None
    (tmp_path / "heartbeat").write_text("1\n")
    assert all((store / "dense.faiss").is_file() for store in _stores(generation))
    healthy = byline("healthcheck", env=env)
    assert healthy.exit_code == 0 and "healthy" in healthy.stdout, healthy.stderr

    damage(generation)
    unhealthy = byline("healthcheck", env=env)
    assert unhealthy.exit_code == 1, unhealthy.stderr
    lines = unhealthy.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"unhealthy: The index at {current_generation(index)} {problem} ("
    ), lines


def test_ask_with_a_corpus_brings_the_index_up_to_date_with_it_first(
    encoder: Encoder, env: dict[str, str], news_corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    make_byline(encoder, news_corpus, index).reindex()
    write_corpus(
        news_corpus,
        {
            "ferry.md": front_matter_article(
                "Island ferry to resume",
                "Harbour News",
                "2023-12-02",
                ["The harbour authority announced that the island ferry will resume sailing on Monday after repairs."],
            )
        },
    )
    question = "When will the island ferry resume sailing?"
    others = {key: value for key, value in env.items() if key != "BYLINE_CORPUS_PATH"}
    changed = byline("ask", question, "--json", "--corpus", str(news_corpus), env=others)
    assert changed.exit_code == 0, (changed.stderr, changed.exception)
    assert "1 added" in changed.stderr
    record = json.loads(changed.stdout)
    assert record["answer"]["citations"][0]["article_id"] == "ferry"
    served = current_generation(index)

    unchanged = byline("ask", question, "--json", "--corpus", str(news_corpus), env=others)
    assert unchanged.exit_code == 0, unchanged.stderr
    assert "Indexed" not in unchanged.stderr, "an unchanged corpus is a no-op"
    assert json.loads(unchanged.stdout)["answer"]["citations"][0]["article_id"] == "ferry"
    assert current_generation(index) == served
