"""Peak memory of building an index from scratch (issue 8: a 1M-chunk build must fit the machine), for one or
more checkouts of Byline, each in a fresh process, the first being the baseline.

    BYLINE_MODEL=/tmp/tiny python benchmarks/build_memory.py --chunks 30000 --work /tmp/build-memory \\
        --code /path/to/baseline/checkout --code .

The corpus is scale.py's synthetic one (MultiHop-RAG's articles copied to about N chunks), written once into
`--work`. Each checkout builds it into an empty index folder (no embedding cache: every chunk goes through
the model, as in a first build), in a process of its own, and reports the process's peak resident memory
(ru_maxrss), its peak anonymous memory (sampled) and the bytes of the sentence vectors the index stores
(float16): the build holds those while it assembles the segment, so they are what a build at 1M chunks
(about 8 GB of them) must not hold twice.

With `--merge`, what is measured is a full merge instead: the index already built in `--work` (by scale.py,
say) is copied for each checkout, and the copy is reindexed with the last `--remove` share of the corpus
files left out, so that every chunk that stays is written again into one segment (what an archive's index
does when a fifth of it has been added or removed since it was last merged):

    BYLINE_MODEL=/tmp/tiny python benchmarks/build_memory.py --merge --work /tmp/byline-scale/100000 \\
        --code /path/to/baseline/checkout --code .
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from checkouts import run_in_checkout

if TYPE_CHECKING:
    from bot.service import Byline


class MemorySampler:
    """The process's peak anonymous memory (RssAnon: what no page cache can give back, what runs a machine out
    of memory), sampled every 20 ms in a thread while the block runs; ru_maxrss also counts file pages
    mapped (index files read, scratch files written), which the kernel can drop."""

    def __init__(self) -> None:
        import threading

        self.peak_anon_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        self.peak_anon_mb = max(self.peak_anon_mb, int(line.split()[1]) / 1024)
            if self._stop.wait(0.02):
                return


def _peaks(sampler: MemorySampler) -> dict:
    import resource

    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "anon_mb": sampler.peak_anon_mb}


def _byline(corpus: Path, index: Path) -> Byline:
    from bot.service import Byline
    from bot.settings import AnswerSettings, IndexSettings, load_section

    settings = load_section(IndexSettings, corpus_path=corpus, index_path=index)
    return Byline(settings, AnswerSettings(), with_library=False)


def build_once(work: str) -> dict:
    """Build the work folder's corpus into a fresh index; what the process peaked at."""
    index = Path(work) / "index"
    shutil.rmtree(index, ignore_errors=True)
    byline = _byline(Path(work) / "corpus", index)
    with MemorySampler() as sampler:
        report = byline.reindex().report
    sentence_bytes = sum(path.stat().st_size for path in index.glob("generations/*/segments/*/sentences.npy"))
    summary = (
        f"{report.chunks:,} chunks in {report.seconds:.0f} s (sentence vectors stored {sentence_bytes / 1e6:,.0f} MB)"
    )
    return {"summary": summary, **_peaks(sampler)}


def merge_once(work: str, remove: float) -> dict:
    """Copy the work folder's index, then reindex the copy without the last `remove` share of the corpus
    files (a full merge); what the process peaked at while doing so."""
    source = Path(work)
    copy = source / "merge-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source / "index", copy / "index")
    files = sorted((source / "corpus").glob("*.jsonl"))
    (copy / "corpus").mkdir()
    for path in files[: len(files) - max(1, round(len(files) * remove))]:
        os.link(path, copy / "corpus" / path.name)  # links out of a corpus folder are not followed
    byline = _byline(copy / "corpus", copy / "index")
    with MemorySampler() as sampler:
        report = byline.reindex().report
    shutil.rmtree(copy, ignore_errors=True)
    summary = (
        f"full merge to {report.chunks:,} chunks ({len(report.removed):,} articles removed, "
        f"{report.segments} segment(s)) in {report.seconds:.0f} s"
    )
    return {"summary": summary, **_peaks(sampler)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=30_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/build-memory"))
    parser.add_argument(
        "--code", type=Path, action="append", required=True, help="a checkout; the first is the baseline"
    )
    parser.add_argument("--merge", action="store_true", help="measure a full merge of the index in --work")
    parser.add_argument("--remove", type=float, default=0.25, help="with --merge: share of corpus files left out")
    args = parser.parse_args()
    if args.merge:
        results = [
            run_in_checkout(code.resolve(), "build_memory", "merge_once", str(args.work), args.remove, prepare=False)
            for code in args.code
        ]
    else:
        from bench_common import EVAL
        from scale import synthetic_corpus

        corpus = args.work / "corpus"
        if not corpus.exists():
            print(f"corpus: {synthetic_corpus(corpus, args.chunks, EVAL / 'articles.jsonl'):,} articles in {corpus}")
        results = [run_in_checkout(code.resolve(), "build_memory", "build_once", str(args.work)) for code in args.code]
    base = results[0]
    for code, result in zip(args.code, results):
        print(
            f"{code}: {result['summary']}; peak anonymous memory {result['anon_mb']:,.0f} MB = "
            f"{result['anon_mb'] / base['anon_mb']:.2f}x the baseline's ({base['anon_mb']:,.0f} MB); peak resident "
            f"memory with mapped files {result['peak_mb']:,.0f} MB = {result['peak_mb'] / base['peak_mb']:.2f}x "
            f"({base['peak_mb']:,.0f} MB)"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
