"""Readers opening the index while it is rebuilt never see a removed generation.

Reader threads and a reader process open the index in a loop while real builds swap new generations
in. Before each build the test waits until every reader thread has finished an open since the last
swap, so each swap happens while the readers are busy opening. Set BYLINE_STRESS_REBUILDS to run it
longer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from corpus.readers import load_corpus
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.indexer import build_index
from embeddings.store import open_index
from tests.conftest import front_matter_article, write_corpus

SETTINGS = ChunkerSettings(max_tokens=128, overlap_tokens=24)
REBUILDS = int(os.environ.get("BYLINE_STRESS_REBUILDS", "4"))
READER_THREADS = 2
REPO_ROOT = str(Path(__file__).resolve().parents[2])
WAIT = 120  # seconds; only a safety net against a hang, never asserted on

READER_PROCESS = """
import json, sys
from pathlib import Path
from embeddings.chunking import ChunkerSettings
from embeddings.store import open_index

index, model, stop = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
settings = ChunkerSettings(max_tokens=128, overlap_tokens=24)
opens, failures = 0, []
while not stop.exists():
    try:
        open_index(index, model, settings)
        opens += 1
    except Exception as error:
        failures.append(f"{type(error).__name__}: {error}")
    if opens + len(failures) == 1:
        print("ready", flush=True)
print(json.dumps({"opens": opens, "failures": failures}), flush=True)
"""


class Readers:
    """Threads that open the index in a loop, counting opens and keeping every failure."""

    def __init__(self, index: Path, model: str, count: int) -> None:
        self._index, self._model = index, model
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self.opens = [0] * count
        self.failures: list[str] = []
        self._threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(count)]

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(WAIT)

    def _loop(self, n: int) -> None:
        while not self._stop.is_set():
            try:
                open_index(self._index, self._model, SETTINGS)
            except Exception as error:  # anything at all is a failure of the swap
                self.failures.append(f"{type(error).__name__}: {error}")
            with self._changed:
                self.opens[n] += 1
                self._changed.notify_all()

    def wait_for_fresh_opens(self) -> None:
        """Block until every reader has finished at least one more open than now."""
        with self._changed:
            seen = list(self.opens)
            assert self._changed.wait_for(lambda: all(a > b for a, b in zip(self.opens, seen)), WAIT)


def test_opening_the_index_during_rebuilds_never_fails(encoder: Encoder, news_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(load_corpus(news_corpus).articles, index, encoder, SETTINGS)
    stop = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, "-c", READER_PROCESS, str(index), encoder.model_name, str(stop)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))},
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        with Readers(index, encoder.model_name, READER_THREADS) as readers:
            for n in range(REBUILDS):
                readers.wait_for_fresh_opens()
                write_corpus(news_corpus, {f"update-{n}.md": _update(n)})
                build_index(load_corpus(news_corpus).articles, index, encoder, SETTINGS)
            readers.wait_for_fresh_opens()
    finally:
        stop.touch()
        out, _ = process.communicate(timeout=WAIT)
    other = json.loads(out.strip().splitlines()[-1])
    assert readers.failures == [], f"{len(readers.failures)} of {sum(readers.opens)} opens failed"
    assert other["failures"] == [], f"{len(other['failures'])} of {other['opens']} opens in another process failed"
    assert len(open_index(index, encoder.model_name, SETTINGS).articles) == 4 + REBUILDS


def _update(n: int) -> str:
    return front_matter_article(
        f"Council update {n}",
        "City Paper",
        "2023-11-20",
        [f"The council published update number {n} on the harbour wall repairs."],
    )
