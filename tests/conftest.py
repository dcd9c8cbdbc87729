"""Shared fixtures: the real bundled model (loaded once), and small real corpora on disk."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from bot.service import Byline  # noqa: E402
from bot.settings import AnswerSettings, IndexSettings  # noqa: E402
from corpus.readers import default_corpus_path  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402

SEED_FILE = "iran-iraq-border-security-2023-12-06.txt"


def seed_text() -> str:
    return (default_corpus_path() / SEED_FILE).read_text(encoding="utf-8")


def front_matter_article(title: str, outlet: str, day: str, paragraphs: list[str], url: str = "") -> str:
    header = [f"title: {json.dumps(title)}", f"outlet: {json.dumps(outlet)}", f"date: {day}"]
    if url:
        header.append(f"url: {url}")
    return "---\n" + "\n".join(header) + "\n---\n\n" + "\n\n".join(paragraphs) + "\n"


def port_article(n: int) -> dict[str, str | bytes]:
    """A one-paragraph corpus file (day `n` of a port strike), for tests that add articles one by one."""
    return {
        f"port-{n}.md": front_matter_article(
            f"Port strike day {n}",
            "Harbour News",
            "2023-12-01",
            [f"Dock workers at the port of Saltmarsh voted on day {n} to continue the strike over pay."],
        )
    }


# Short, self-contained news articles with distinct outlets and dates, for filters and hints.
EXTRA_ARTICLES = {
    "rugby-final.md": front_matter_article(
        "South Africa win Rugby World Cup final",
        "Sporting Ledger",
        "2023-10-28",
        [
            "South Africa beat New Zealand 12-11 in the Rugby World Cup final at the Stade de France on Saturday.",
            "Handré Pollard kicked four penalties as the Springboks became the first team to win four titles.",
            "New Zealand captain Sam Cane was shown a red card in the first half for a high tackle.",
        ],
        url="https://example.org/sport/rugby-final",
    ),
    "chip-exports.md": front_matter_article(
        "New rules tighten exports of AI chips",
        "Tech Wire",
        "2023-10-17",
        [
            "The Commerce Department announced new rules restricting exports of advanced AI chips to China.",
            "Nvidia said the rules would block sales of its A800 and H800 processors in the region.",
            "Analysts expect the restrictions to cut into chipmakers' revenue next year.",
        ],
        url="https://example.org/tech/chip-exports",
    ),
    "chip-earnings.md": front_matter_article(
        "Nvidia revenue triples on AI demand",
        "Market Daily",
        "2023-11-21",
        [
            "Nvidia reported quarterly revenue of $18.1 billion, triple the figure a year earlier, driven by AI chips.",
            "The company warned that export restrictions to China would weigh on sales in the fourth quarter.",
        ],
        url="https://example.org/markets/nvidia-earnings",
    ),
}


@pytest.fixture(scope="session", autouse=True)
def model_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of converted models for the whole suite, kept between runs in pytest's cache (a
    temporary one without it), and handed to `byline` subprocesses through BYLINE_MODEL_CACHE (unless
    the environment sets one)."""
    cache = getattr(request.config, "cache", None)
    folder = os.environ.get("BYLINE_MODEL_CACHE") or (
        cache.mkdir("model-cache") if cache is not None else tmp_path_factory.mktemp("model-cache")
    )
    os.environ["BYLINE_MODEL_CACHE"] = str(folder)
    return Path(folder)


@pytest.fixture(scope="session")
def encoder(model_cache: Path) -> Encoder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole suite (on OpenVINO where it works)."""
    return Encoder(model_cache=model_cache)


def write_corpus(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def news_files() -> dict[str, str]:
    """The seed article plus three short articles from other outlets."""
    return {SEED_FILE: seed_text(), **EXTRA_ARTICLES}


@pytest.fixture
def news_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", news_files())


def make_byline(encoder: Encoder, corpus: Path, index: Path, **answer: Any) -> Byline:
    """A Byline over `corpus` that shares the session's loaded model."""
    return Byline(IndexSettings(corpus_path=corpus, index_path=index), AnswerSettings(**answer), encoder)


@pytest.fixture(scope="session")
def news_byline(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Byline:
    """A Byline with the news corpus indexed, shared by tests that only read from it."""
    folder = tmp_path_factory.mktemp("news")
    byline = make_byline(encoder, write_corpus(folder / "corpus", news_files()), folder / "index")
    byline.reindex()
    return byline
