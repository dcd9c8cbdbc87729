"""A tiny random sentence-transformers model, made by the benchmark script as a user would make it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def milvus_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Milvus server: the one BYLINE_TEST_MILVUS_URI names, else Milvus standalone 2.3 started here
    from the PyPI `milvus` package (a test dependency) on a free port, with its data in a temporary folder."""
    if uri := os.environ.get("BYLINE_TEST_MILVUS_URI"):
        yield uri
        return
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(tmp_path_factory.mktemp("milvus-server")))
    server.start()  # picks free ports from 19530 up and waits until the server answers
    try:
        yield f"http://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()
