"""Counts read as English wherever the CLI or Discord prints them: "1 article", "2 articles"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.discord_bot import BylineBot
from bot.settings import DiscordSettings
from bot.wording import counted, progress
from embeddings.encoder import Encoder
from tests.conftest import SEED_FILE, make_byline, seed_text, write_corpus
from tests.discord_server import DiscordTestServer, running_bot


@pytest.mark.parametrize(
    "number, expected",
    [(0, "0 articles"), (1, "1 article"), (2, "2 articles"), (1204, "1,204 articles"), (-1, "-1 articles")],
)
def test_counted_is_singular_for_exactly_one(number: int, expected: str) -> None:
    assert counted(number, "article") == expected


def test_counted_takes_an_irregular_plural() -> None:
    assert counted(1, "query", "queries") == "1 query"
    assert counted(3, "query", "queries") == "3 queries"


def test_progress_agrees_with_the_total() -> None:
    assert progress(0, 1, "article") == "0/1 article"
    assert progress(1, 1, "article") == "1/1 article"
    assert progress(3, 1500, "chunk") == "3/1,500 chunks"


def test_discord_reindex_report_of_one_article_is_singular(
    encoder: Encoder, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", {SEED_FILE: seed_text()})
    byline = make_byline(encoder, corpus, tmp_path / "index")
    settings = DiscordSettings(guild_id=discord_server.config.guild_id, heartbeat_file=tmp_path / "heartbeat")

    async def scenario() -> str:
        async with running_bot(BylineBot(byline, settings, guild_ready_timeout=0.05), discord_server):
            reindex = await discord_server.send_interaction("reindex", user="owner")
            edits = rf"/webhooks/\d+/{reindex.token}/messages/.+"
            report = await discord_server.wait_until(
                lambda: next(
                    (
                        r
                        for r in discord_server.requests_matching("PATCH", edits)
                        if "Reindex finished" in json.dumps(r.json or {})
                    ),
                    None,
                ),
                timeout=120,
                what="the final reindex report",
            )
            return str(report.json["embeds"][0]["description"])

    description = run(scenario(), timeout=180)
    assert description.startswith("1 article, ")
    sent = json.dumps([r.json for r in discord_server.requests if r.json], ensure_ascii=False)
    assert "1 articles" not in sent and "/1 articles" not in sent
    discord_server.assert_clean()
