"""Cost per character of sentence splitting on one huge paragraph, against pysbd on the whole
paragraph at once (what Byline did before paragraphs were cut into bounded pieces).

    python benchmarks/sentence_splitting.py [--sizes 10000 100000 1000000] [--baseline-max 100000]

The paragraph is news prose (the bundled article's sentences, repeated with no paragraph break).
For each size it prints seconds and microseconds per character for `sentence_spans` (bounded
pieces) and for the whole chunker (sentences plus the model tokenizer), and, up to
--baseline-max characters (the baseline grows super-linearly: a megabyte would take hours), the
baseline and the ratio baseline / bounded.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

from corpus.models import Article
from corpus.readers import default_corpus_path, load_corpus
from embeddings.chunking import Chunker, ChunkerSettings, _segmenter, sentence_spans
from embeddings.encoder import Encoder


def paragraph_of(size: int) -> str:
    [seed] = load_corpus(default_corpus_path()).articles
    prose = " ".join(seed.paragraphs)
    return ((prose + " ") * (size // len(prose) + 1))[:size]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline-max", type=int, default=100_000)
    args = parser.parse_args()
    chunker = Chunker(Encoder().tokenizer, ChunkerSettings())
    chunker.chunk(Article(id="warm-up", paragraphs=[paragraph_of(10_000)]))
    print(
        f"{'characters':>10} | {'bounded s':>9} {'us/char':>7} | {'chunker s':>9} {'us/char':>7} | "
        f"{'baseline s':>10} {'us/char':>7} | {'baseline/bounded':>16}"
    )
    for size in args.sizes:
        text = paragraph_of(size)
        bounded = timed(partial(sentence_spans, text))
        article = Article(id="huge", paragraphs=[text])
        chunked = timed(partial(chunker.chunk, article))
        row = f"{size:>10,} | {bounded:>9.2f} {bounded / size * 1e6:>7.1f} | {chunked:>9.2f} {chunked / size * 1e6:>7.1f} | "
        if size <= args.baseline_max:
            baseline = timed(partial(_segmenter().segment, text))
            row += f"{baseline:>10.2f} {baseline / size * 1e6:>7.1f} | {baseline / bounded:>15.1f}x"
        else:
            row += f"{'(skipped)':>10} {'':>7} | {'':>16}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
