"""What a question costs on the 609-article MultiHop-RAG index (issue 8, target 1), against
sentence-transformers embedding the question alone, in the same run.

    python benchmarks/ask_speed.py [--work /tmp/byline-ask] [--questions 300]

Builds the index of ../shared/eval/multihop-rag/articles.jsonl once into the work folder (kept for the
next run), loads the model and opens the index, then, for each dev question in turn: the bundled
all-MiniLM-L6-v2 through sentence-transformers embeds the question (the baseline), and Byline answers
it end to end (`Byline.ask`: question embedding, search, cited answer). Prints p50/p90/p99 of both and
Byline's p50 as a ratio of the baseline's, then the CPU time each takes per question (a figure that
depends less on what else the machine runs than wall time does), and how much of Byline's is its own work
outside the model (search, coverage check, answer composition).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import EVAL  # noqa: E402

from bot.service import Byline  # noqa: E402
from bot.settings import AnswerSettings, IndexSettings, load_section  # noqa: E402
from embeddings.encoder import BUNDLED_MODEL, Encoder, resolve_model_path  # noqa: E402


def percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    at = [ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 for share in (0.5, 0.9, 0.99)]
    return "p50 {:.1f} ms, p90 {:.1f} ms, p99 {:.1f} ms".format(*at)


class ModelClock:
    """Counts the CPU time the asking thread spends inside the encoder's `encode` (the model's own work)."""

    def __init__(self, encoder: Encoder) -> None:
        self.cpu = 0.0
        self._encode = encoder.encode
        encoder.encode = self  # type: ignore[method-assign]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        started = time.thread_time()
        try:
            return self._encode(texts)
        finally:
            self.cpu += time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/byline-ask"))
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    corpus, index = args.work / "corpus", args.work / "index"
    if not corpus.exists():
        corpus.mkdir(parents=True)
        shutil.copy(EVAL / "articles.jsonl", corpus / "articles.jsonl")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    settings = load_section(IndexSettings, corpus_path=corpus, index_path=index)
    byline = Byline(settings, AnswerSettings(), with_library=False)
    started = time.perf_counter()
    outcome = byline.reindex()
    print(f"index: {outcome.report.chunks:,} chunks ({time.perf_counter() - started:.0f} s to build or check)")
    byline.warm_up()

    from sentence_transformers import SentenceTransformer

    baseline = SentenceTransformer(str(resolve_model_path(BUNDLED_MODEL)), device="cpu")
    baseline.encode(["warm up"])
    lines = (EVAL / "dev-questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines][: args.questions]
    model_clock = ModelClock(byline.encoder)
    embed, ask, embed_cpu, ask_cpu, own_cpu = [], [], [], [], []
    for question in questions:
        started, cpu = time.perf_counter(), time.process_time()
        baseline.encode([question], normalize_embeddings=True)
        embed.append(time.perf_counter() - started)
        embed_cpu.append(time.process_time() - cpu)
        started, cpu, thread_cpu, in_model = (
            time.perf_counter(),
            time.process_time(),
            time.thread_time(),
            model_clock.cpu,
        )
        byline.ask(question)
        ask.append(time.perf_counter() - started)
        ask_cpu.append(time.process_time() - cpu)
        own_cpu.append(time.thread_time() - thread_cpu - (model_clock.cpu - in_model))
    ratio = statistics.median(ask) / statistics.median(embed)
    print(f"sentence-transformers embedding the question alone, {len(questions)} questions: {percentiles(embed)}")
    print(f"Byline ask end to end ({settings.runtime} runtime): {percentiles(ask)}; p50 = {ratio:.2f}x the baseline")
    # CPU time (all the process's threads) depends less on what else the machine runs than wall time does.
    cpu_ratio = statistics.median(ask_cpu) / statistics.median(embed_cpu)
    print(
        f"CPU time per question, p50: sentence-transformers {statistics.median(embed_cpu) * 1000:.1f} ms, "
        f"Byline {statistics.median(ask_cpu) * 1000:.1f} ms = {cpu_ratio:.2f}x; Byline's own work outside the "
        f"model (CPU of the asking thread) {statistics.median(own_cpu) * 1000:.1f} ms"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
