"""Fixtures for the ingest tests: a news site on 127.0.0.1, and Byline with an ingest service over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from bot.ingest import IngestService
from bot.service import Byline
from bot.settings import AnswerSettings, FeedsSettings, FetchSettings, IndexSettings
from embeddings.encoder import Encoder
from tests.ingest.news_site import NewsSite


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """Tests only ever talk to the loopback address."""
    return ("127.0.0.1", 0)


@pytest.fixture
def site(httpserver: HTTPServer) -> NewsSite:
    return NewsSite(httpserver)


@pytest.fixture
def threaded_site() -> Iterator[NewsSite]:
    """A site that serves requests in parallel (a stalled request does not hold up the others)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield NewsSite(server)
    server.clear()
    server.stop()


def local_fetch_settings(**overrides: Any) -> FetchSettings:
    """Fetching allowed to reach the local test server, without pauses between requests."""
    values: dict[str, Any] = {"allow_private": True, "host_interval_seconds": 0.0, "timeout_seconds": 10.0, **overrides}
    return FetchSettings(**values)


def make_service(encoder: Encoder, root: Path, corpus: Path | None = None, **fetch: object) -> IngestService:
    """An IngestService over a Byline whose corpus folder is empty (unless given), index and library under root."""
    if corpus is None:
        corpus = root / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
    byline = Byline(IndexSettings(corpus_path=corpus, index_path=root / "index"), AnswerSettings(), encoder)
    return IngestService(byline, local_fetch_settings(**fetch), FeedsSettings(workers=2))


@pytest.fixture
def desk(encoder: Encoder, tmp_path: Path) -> Iterator[IngestService]:
    service = make_service(encoder, tmp_path)
    yield service
    service.close()
