"""What the scripts that time the index at scale share (scale.py, serving_cost.py, add_link.py): running one
benchmark function in a fresh process on another checkout's code, and the article added to time an add.
Nothing here imports Byline, so that a measured process imports only the checkout it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PREPARE = """
import sys
sys.path.insert(0, sys.argv[1])
from bot.service import Byline
from bot.settings import AnswerSettings, IndexSettings, load_section
Byline(load_section(IndexSettings), AnswerSettings(), with_library=False).encoder.encode(["warm up"])
"""

WORKER = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
measured = getattr(importlib.import_module(sys.argv[3]), sys.argv[4])
print("RESULT " + json.dumps(measured(*json.loads(sys.argv[5]))))
"""

ONE_MORE_FILE = "zz-one-more.jsonl"  # the corpus file write_one_more_article writes


def run_in_checkout(code: Path, module: str, function: str, *arguments: object, prepare: bool = True) -> dict:
    """`module.function(*arguments)` (a script of this folder; JSON arguments, a JSON result) in a fresh
    process whose Byline is the checkout at `code`. `prepare`: load the model once first (for what encodes)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # A process of its own first, so that a model not yet converted for this checkout is converted (and
    # cached) there rather than in the measured process.
    if prepare:
        subprocess.run([sys.executable, "-c", PREPARE, str(code)], env=env, capture_output=True, check=True)
    command = [sys.executable, "-c", WORKER, str(code), str(HERE), module, function, json.dumps(arguments)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{code}: the measured process failed:\n{done.stderr[-4000:]}")
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])


def write_one_more_article(corpus: Path) -> str:
    """A corpus file holding one new short article (a new id each time): its id."""
    record = {
        "id": f"one-more-{time.time_ns()}",
        "title": "Harbour council approves new sea wall",
        "source": "Benchmark Gazette",
        "published_at": "2023-12-20T10:00:00+00:00",
        "body": "The harbour council approved a new sea wall on Tuesday. Work starts in March.",
    }
    (corpus / ONE_MORE_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
    return record["id"]
