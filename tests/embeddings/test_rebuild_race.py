"""Readers opening the index while it is rebuilt never see a removed generation.

Reader threads and a reader process open the index in a loop while real builds swap new generations
in. Before each build the test waits until every reader thread has finished an open since the last
swap, so each swap happens while the readers are busy opening. Set BYLINE_STRESS_REBUILDS to run it
longer.
"""

from __future__ import annotations

import ast
import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from corpus.readers import load_corpus
from embeddings.chunking import ChunkerSettings
from embeddings.encoder import Encoder
from embeddings.files import load_npy, write_npy
from embeddings.indexer import build_index
from embeddings.store import open_index
from tests.conftest import front_matter_article, write_corpus

SETTINGS = ChunkerSettings(max_tokens=128, overlap_tokens=24)
REBUILDS = int(os.environ.get("BYLINE_STRESS_REBUILDS", "4"))
READER_THREADS = 2
REPO_ROOT = str(Path(__file__).resolve().parents[2])
WAIT = 120  # seconds; only a safety net against a hang, never asserted on
PAUSE = 2  # seconds a paused reader waits for another to read (never asserted on)

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


def test_a_thread_reads_npy_files_while_another_is_paused_inside_reading_a_header(tmp_path: Path) -> None:
    """CPython 3.11's AST constructor keeps its recursion depth in state all threads share
    (python/cpython#106905), and numpy parses .npy headers with ast.literal_eval: a thread that parses
    while another is paused mid-parse made the paused one fail with "AST constructor recursion depth
    mismatch". Here the pause is forced: a garbage collection inside the first thread's parse runs a
    finalizer that waits for the second thread to read a .npy file."""
    path = tmp_path / "array.npy"
    write_npy(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    first_paused, second_done, finished = threading.Event(), threading.Event(), threading.Event()
    first: list[int] = []
    errors: list[str] = []

    class Cycle:
        """Garbage only the cyclic collector frees, whose finalizer pauses the first thread mid-parse."""

        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            if finished.is_set() or first_paused.is_set():
                return
            if first and threading.get_ident() == first[0] and _inside_ast_parse():
                first_paused.set()
                second_done.wait(PAUSE)  # with the fix the second thread waits for this one instead
            else:
                Cycle()  # not there yet: leave garbage for the next collection

    def read(depth: int = 0) -> None:
        if depth:  # the two threads parse at different stack depths, as real threads do
            return read(depth - 1)
        try:
            assert load_npy(path).shape == (3, 4)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")

    def read_first() -> None:
        first.append(threading.get_ident())
        Cycle()
        read()

    def read_second() -> None:
        try:
            read(depth=8)
        finally:
            second_done.set()

    thresholds = gc.get_threshold()
    gc.set_threshold(1)  # collect at (nearly) every allocation, so one happens inside the parse
    try:
        paused = threading.Thread(target=read_first)
        paused.start()
        assert first_paused.wait(WAIT), "no collection ran inside the header's parse"
        reader = threading.Thread(target=read_second)
        reader.start()
        paused.join(WAIT)
        reader.join(WAIT)
    finally:
        finished.set()
        gc.set_threshold(*thresholds)
    assert errors == []


def _inside_ast_parse() -> bool:
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code is ast.parse.__code__:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False
