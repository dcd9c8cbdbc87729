"""Peak memory of building an index from scratch (issue 8: a 1M-chunk build must fit the machine), for one or
more checkouts of Byline, each in a fresh process, the first being the baseline.

    BYLINE_MODEL=/tmp/tiny python benchmarks/build_memory.py --chunks 30000 --work /tmp/build-memory \\
        --code /path/to/baseline/checkout --code .

The corpus is scale.py's synthetic one (MultiHop-RAG's articles copied to about N chunks), written once into
`--work`. Each checkout builds it into an empty index folder (no embedding cache: every chunk goes through
the model, as in a first build), in a process of its own, and reports the process's peak resident memory
(ru_maxrss) and the bytes of the sentence vectors the index stores (float16): the build holds those while
it assembles the segment, so they are what a build at 1M chunks (about 8 GB of them) must not hold twice.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from checkouts import run_in_checkout


def build_once(work: str) -> dict:
    """Build the work folder's corpus into a fresh index; what the process peaked at."""
    import resource

    from bot.service import Byline
    from bot.settings import AnswerSettings, IndexSettings, load_section

    index = Path(work) / "index"
    shutil.rmtree(index, ignore_errors=True)
    settings = load_section(IndexSettings, corpus_path=Path(work) / "corpus", index_path=index)
    byline = Byline(settings, AnswerSettings(), with_library=False)
    outcome = byline.reindex()
    sentence_bytes = sum(path.stat().st_size for path in index.glob("generations/*/segments/*/sentences.npy"))
    return {
        "chunks": outcome.report.chunks,
        "seconds": outcome.report.seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sentence_mb": sentence_bytes / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=30_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/build-memory"))
    parser.add_argument(
        "--code", type=Path, action="append", required=True, help="a checkout; the first is the baseline"
    )
    args = parser.parse_args()
    from bench_common import EVAL
    from scale import synthetic_corpus

    corpus = args.work / "corpus"
    if not corpus.exists():
        print(f"corpus: {synthetic_corpus(corpus, args.chunks, EVAL / 'articles.jsonl'):,} articles in {corpus}")
    results = [run_in_checkout(code.resolve(), "build_memory", "build_once", str(args.work)) for code in args.code]
    base = results[0]
    for code, result in zip(args.code, results):
        print(
            f"{code}: {result['chunks']:,} chunks in {result['seconds']:.0f} s; peak resident memory "
            f"{result['peak_mb']:,.0f} MB = {result['peak_mb'] / base['peak_mb']:.2f}x the baseline's "
            f"({base['peak_mb']:,.0f} MB); sentence vectors stored {result['sentence_mb']:,.0f} MB"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
