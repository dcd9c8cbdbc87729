"""Running one benchmark function in a fresh process on another checkout's code, for the scripts that
compare checkouts of Byline on the same index (serving_cost.py, add_link.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def run_in_checkout(code: Path, module: str, function: str, *arguments: object) -> dict:
    """`module.function(*arguments)` (a script of this folder; JSON arguments, a JSON result) in a fresh
    process whose Byline is the checkout at `code`."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # A process of its own first, so that a model not yet converted for this checkout is converted (and
    # cached) there rather than in the measured process.
    subprocess.run([sys.executable, "-c", PREPARE, str(code)], env=env, capture_output=True, check=True)
    command = [sys.executable, "-c", WORKER, str(code), str(HERE), module, function, json.dumps(arguments)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{code}: the measured process failed:\n{done.stderr[-4000:]}")
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
