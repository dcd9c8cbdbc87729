"""What a serving process holds in memory, and what adding one article costs, for one or more checkouts of
Byline on the same index (issue 8 target 2), each in a fresh process, the first being the baseline.

    BYLINE_MODEL=/tmp/tiny python benchmarks/serving_cost.py --work /tmp/byline-scale/100000 \\
        --code /path/to/baseline/checkout --code .

`--work` is a folder made by benchmarks/scale.py (corpus/ and index/). For each checkout, a fresh process
opens the service, warms it up and asks `--questions` MultiHop-RAG dev questions, then reports its resident
memory (VmRSS) split into anonymous memory (the process's own: Python objects, the model runtime,
anything read into memory) and file-backed pages (memory-mapped index files and libraries: shared with
the page cache, dropped by the kernel under pressure), with the largest mappings. Then it adds one article
(a new corpus file, reindexed through the service) and removes it again, `--adds` times; the first add of
a checkout may read every corpus file once (to record them), so the median of the later ones is given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from checkouts import ONE_MORE_FILE, run_in_checkout, write_one_more_article

HERE = Path(__file__).resolve().parent


def eval_folder() -> Path:
    """../shared/eval/multihop-rag beside the checkout or a folder above it (as bench_common finds it)."""
    for folder in HERE.parent.parents:
        if (folder / "shared/eval/multihop-rag").is_dir():
            return folder / "shared/eval/multihop-rag"
    return Path("shared/eval/multihop-rag")


def resident() -> dict:
    """This process's resident memory in MB: total, anonymous, file-backed, and the largest mappings."""
    rollup = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        rollup[name.rstrip(":")] = int(value) / 1024
    by_mapping: dict[str, float] = defaultdict(float)
    current = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
            current = fields[5] if len(fields) > 5 else "[anonymous]"
        elif fields[0] == "Rss:":
            by_mapping[_group(current)] += int(fields[1]) / 1024
    largest = sorted(by_mapping.items(), key=lambda item: -item[1])[:12]
    return {
        "rss": rollup["Rss"],
        "anonymous": rollup["Anonymous"],
        "file": rollup["Rss"] - rollup["Anonymous"],
        "largest": largest,
    }


def _group(path: str) -> str:
    """A mapping's name, with index files named by their kind and libraries by their package."""
    if "/generations/" in path:
        return "index: " + Path(path).name
    if "site-packages/" in path:
        return "library: " + path.split("site-packages/")[1].split("/")[0]
    return path


def serve(work_folder: str, questions: int, adds: int) -> dict:
    """Run in the measured process (this checkout's code first on sys.path)."""
    work = Path(work_folder)
    from bot.service import Byline
    from bot.settings import AnswerSettings, IndexSettings, load_section

    settings = load_section(IndexSettings, corpus_path=work / "corpus", index_path=work / "index")
    byline = Byline(settings, AnswerSettings(), with_library=False)
    started = time.perf_counter()
    byline.warm_up()
    warm = time.perf_counter() - started
    after_model = resident()
    asked = [json.loads(line)["question"] for line in (eval_folder() / "dev-questions.jsonl").read_text().splitlines()]
    for question in asked[:questions]:
        byline.ask(question)
    memory = resident()
    add_seconds = []
    for _ in range(adds):
        added = write_one_more_article(work / "corpus")
        started = time.perf_counter()
        outcome = byline.reindex()
        add_seconds.append(time.perf_counter() - started)
        assert outcome.report.added == [added], outcome.report
        (work / "corpus" / ONE_MORE_FILE).unlink()
        byline.reindex()
    loaded = sorted(name for name in ("torch", "transformers", "sentence_transformers") if name in sys.modules)
    return {
        "warm_up": warm,
        "after_model": after_model,
        "served": memory,
        "adds": add_seconds,
        "runtime": byline.encoder.runtime.value,
        "loaded": loaded,
    }


def measure(code: Path, work: Path, questions: int, adds: int) -> dict:
    return run_in_checkout(code, "serving_cost", "serve", str(work), questions, adds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument(
        "--code", type=Path, action="append", required=True, help="a checkout; the first is the baseline"
    )
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--adds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    baseline: dict | None = None
    for code in args.code:
        found = measure(code.resolve(), args.work, args.questions, args.adds)
        memory = found["served"]
        later = found["adds"][1:] or found["adds"]
        add = statistics.median(later)
        print(
            f"\n{code}: runtime {found['runtime']}, loaded {found['loaded'] or 'no torch'}; warm-up {found['warm_up']:.1f} s"
        )
        print(
            f"  after warm-up: RSS {found['after_model']['rss']:.0f} MB "
            f"(anonymous {found['after_model']['anonymous']:.0f}, file-backed {found['after_model']['file']:.0f})"
        )
        print(
            f"  after {args.questions} questions: RSS {memory['rss']:.0f} MB "
            f"(anonymous {memory['anonymous']:.0f}, file-backed {memory['file']:.0f})"
        )
        for name, size in memory["largest"]:
            print(f"    {size:7.0f} MB  {name}")
        print(
            f"  add one article: {', '.join(f'{s:.2f}' for s in found['adds'])} s (median after the first {add:.2f} s)"
        )
        if baseline is None:
            baseline = {"rss": memory["rss"], "anonymous": memory["anonymous"], "add": add}
        else:
            print(
                f"  against the baseline: RSS {memory['rss'] / baseline['rss']:.2f}x, "
                f"anonymous {memory['anonymous'] / baseline['anonymous']:.2f}x, add one {add / baseline['add']:.2f}x"
            )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
