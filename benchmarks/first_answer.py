"""The first answer after a start, with and without the bot's warm-up, as ratios to a later answer.

    python benchmarks/first_answer.py [--corpus DIR] [--runs N]

Indexes the corpus (default: the bundled one) once, then starts fresh Python processes, each a cold
start as `byline run` has: one asks its first question straight away (what the bot did before it warmed
up), the other first runs `Byline.warm_up()` (what the bot now does in setup_hook, before it connects)
and then asks. Each process then asks the same question again: the baseline, measured in the same
process. Prints seconds and the first answer's time as a ratio to the second's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTION = "What did Baqeri propose?"


def child(corpus: Path | None, index: Path, warm: bool) -> None:
    started = time.perf_counter()
    from bot.service import Byline
    from bot.settings import AnswerSettings, IndexSettings

    byline = Byline(IndexSettings(corpus_path=corpus, index_path=index), AnswerSettings(), with_library=False)
    warm_up = 0.0
    if warm:
        begun = time.perf_counter()
        byline.warm_up()
        warm_up = time.perf_counter() - begun
    timings = []
    for _ in range(2):
        begun = time.perf_counter()
        byline.ask(QUESTION)
        timings.append(time.perf_counter() - begun)
    total = time.perf_counter() - started
    print(json.dumps({"warm_up": warm_up, "first": timings[0], "second": timings[1], "process": total}))


def run_child(corpus: Path | None, index: Path, warm: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", "--index", str(index)] + (["--warm"] if warm else [])
    if corpus is not None:
        args += ["--corpus", str(corpus)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.corpus, args.index, args.warm)
        return
    with tempfile.TemporaryDirectory() as folder:
        index = Path(folder) / "index"
        from bot.service import Byline
        from bot.settings import AnswerSettings, IndexSettings

        Byline(IndexSettings(corpus_path=args.corpus, index_path=index), AnswerSettings(), with_library=False).reindex()
        for label, warm in (("no warm-up (before)", False), ("warm-up at start (now)", True)):
            runs = [run_child(args.corpus, index, warm) for _ in range(args.runs)]
            first = statistics.median(r["first"] for r in runs)
            second = statistics.median(r["second"] for r in runs)
            warm_up = statistics.median(r["warm_up"] for r in runs)
            print(
                f"{label:24s} first answer {first:6.2f} s = {first / second:5.1f}x a later answer ({second:.3f} s)"
                + (f"; warm-up before connecting {warm_up:.2f} s" if warm else "")
            )


if __name__ == "__main__":
    main()
