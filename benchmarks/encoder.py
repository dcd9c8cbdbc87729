"""Encoder speed and equality: OpenVINO against torch (sentence-transformers), measured in the same run.

    python benchmarks/encoder.py [--articles FILE.jsonl] [--passages N] [--queries N] [--rounds N]

Prints, for real MultiHop-RAG passages of 200-254 tokens (the chunker's own output) and dev
questions: passages per second on each runtime, the median time to embed one question alone, the
cost of sentence vectors pooled from the passage pass, and how far the runtimes' vectors are apart.
The runtimes take turns, `--rounds` times, and the best round of each counts, so a neighbour's
burst of work on a shared machine does not land on one side only. The load average is printed first:
figures from a busy machine are noisier, the ratios less so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import EVAL, configured_model_cache  # noqa: E402

from corpus.readers import load_corpus  # noqa: E402
from embeddings.chunking import Chunker, ChunkerSettings, sentence_spans  # noqa: E402
from embeddings.encoder import Encoder, Runtime  # noqa: E402


def long_passages(articles_file: Path, count: int, encoder: Encoder) -> list[str]:
    """The first `count` chunks of at least 200 tokens, in corpus order."""
    chunker = Chunker(encoder.tokenizer, ChunkerSettings())
    passages: list[str] = []
    for article in load_corpus(articles_file).articles:
        chunks = [c.text for c in chunker.chunk(article)]
        passages += [text for text, n in zip(chunks, chunker.count_tokens(chunks)) if n >= 200]
        if len(passages) >= count:
            break
    return passages[:count]


def best_of(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def median_latency(encoder: Encoder, queries: list[str]) -> float:
    times = []
    for query in queries:
        started = time.perf_counter()
        encoder.encode([query])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=EVAL / "articles.jsonl")
    parser.add_argument("--questions", type=Path, default=EVAL / "dev-questions.jsonl")
    parser.add_argument("--passages", type=int, default=96)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-cache", type=Path, default=None, help="default: BYLINE_MODEL_CACHE or its default")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    cache = args.model_cache or configured_model_cache()
    torch = Encoder(runtime=Runtime.TORCH)
    openvino = Encoder(runtime=Runtime.OPENVINO, model_cache=cache)
    started = time.perf_counter()
    openvino.encode(["warm up"])
    print(f"OpenVINO model ready in {time.perf_counter() - started:.1f} s (cache {cache})")
    torch.encode(["warm up"])

    passages = long_passages(args.articles, args.passages, torch)
    tokens = [len(e.ids) for e in torch.tokenizer.encode_batch(passages)]
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["question"] for line in lines[: args.queries]]
    print(
        f"{len(passages)} passages of {min(tokens)}-{max(tokens)} tokens (mean {statistics.mean(tokens):.0f}); "
        f"{len(queries)} questions"
    )

    spans = [sentence_spans(text) for text in passages]
    sentences = [text[s:e] for text, text_spans in zip(passages, spans) for s, e in text_spans]
    bulk = {Runtime.TORCH: float("inf"), Runtime.OPENVINO: float("inf")}
    latency = {Runtime.TORCH: float("inf"), Runtime.OPENVINO: float("inf")}
    with_spans = alone = float("inf")
    for _ in range(args.rounds):
        for name, encoder in ((Runtime.TORCH, torch), (Runtime.OPENVINO, openvino)):
            bulk[name] = min(bulk[name], best_of(1, partial(encoder.encode, passages)))
            latency[name] = min(latency[name], median_latency(encoder, queries))
        with_spans = min(with_spans, best_of(1, partial(openvino.encode_with_spans, passages, spans)))
        alone = min(alone, best_of(1, partial(openvino.encode, sentences)))
    rate = {name: len(passages) / seconds for name, seconds in bulk.items()}
    print(
        f"passages/s: torch {rate[Runtime.TORCH]:.1f}, OpenVINO {rate[Runtime.OPENVINO]:.1f} "
        f"= {rate[Runtime.OPENVINO] / rate[Runtime.TORCH]:.2f}x torch"
    )
    print(
        f"one question, p50: torch {latency[Runtime.TORCH] * 1000:.1f} ms, OpenVINO "
        f"{latency[Runtime.OPENVINO] * 1000:.1f} ms = {latency[Runtime.TORCH] / latency[Runtime.OPENVINO]:.2f}x faster"
    )

    print(
        f"OpenVINO, passages plus their {len(sentences)} sentence vectors pooled in the same pass: "
        f"{with_spans:.2f} s = {with_spans / bulk[Runtime.OPENVINO]:.2f}x the passages alone "
        f"(embedding the sentences on their own would add {alone:.2f} s = {alone / bulk[Runtime.OPENVINO]:.2f}x)"
    )

    vectors = {}
    for label, texts in (("passages", passages), ("questions", queries)):
        a, b = openvino.encode(texts), torch.encode(texts)
        vectors[label] = (a, b)
        cosine = np.sum(a * b, axis=1)
        print(f"{label}: OpenVINO vs torch min cosine {cosine.min():.6f}, max abs diff {np.abs(a - b).max():.2e}")
    top = {
        name: np.argsort(-(vectors["questions"][i] @ vectors["passages"][i].T), axis=1)[:, :10]
        for i, name in enumerate(("openvino", "torch"))
    }
    same_order = np.mean([list(x) == list(y) for x, y in zip(top["openvino"], top["torch"])])
    same_set = np.mean([set(x) == set(y) for x, y in zip(top["openvino"], top["torch"])])
    print(f"top 10 passages per question, OpenVINO vs torch: same set {same_set:.1%}, same order {same_order:.1%}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
