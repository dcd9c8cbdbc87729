"""A tiny random sentence-transformers model, made by the benchmark script as a user would make it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make_tiny_model(folder: Path, *options: str) -> Path:
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "tiny_model.py"), str(folder), *options],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1-layer BERT (hidden 64), mean pooling, Dense to 384: the shape of the issue's scale benchmarks."""
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
