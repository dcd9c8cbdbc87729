"""Reindexing a corpus with hostile files, through the real service: loader, chunker, model
tokenizer and encoder, SQLite and FAISS, then questions. The good articles always get indexed,
and what was skipped or changed reaches the CLI and the Discord report."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bot.cli import run_index
from bot.service import Byline
from bot.settings import AnswerSettings, IndexSettings, load_section
from corpus.readers import CorpusOptions
from embeddings.encoder import Encoder
from embeddings.store import open_index
from tests.bot.test_discord_bot import embed_text, make_bot
from tests.conftest import make_byline, news_files, write_corpus
from tests.discord_server import DiscordTestServer, running_bot

SEED_ID = "iran-iraq-border-security-2023-12-06"

# Surrogates written as JSON / YAML escapes, so the files themselves are valid UTF-8.
SURROGATE_RECORD = (
    '{"id": "lagoon-\\ud800", "title": "Lagoon \\udfff cleanup", "author": "\\udc80", "source": "Bay \\ud83d Times",'
    ' "published_at": "2024-03-01", "body": "Volunteers removed four tonnes of plastic from the Venice lagoon'
    ' \\ud800 on Sunday, the city said.\\n\\nThe cleanup will be repeated every spring."}'
)
SURROGATE_MARKDOWN = (
    '---\ntitle: "Harbour \\ud800 Crane Collapses"\noutlet: Dock Daily\ndate: 2024-04-02\n---\n\n'
    "A crane collapsed at the Rotterdam harbour \\udfff on Tuesday; nobody was hurt.\n"
)
BODY_ONLY_RECORD = (  # on its own, this one stopped the whole build in the tokenizer
    '{"id": "reef", "title": "Coral Reef Bleaching", "body": "Half the corals of the reef \\ud800 bleached in March."}'
)
UNDECODABLE_NAME = b"glacier-\xff\xfe.txt"  # not UTF-8: Python sees surrogates in the name
GLACIER_STORY = (
    "Glacier Retreat Speeds Up\n\nBy Anna Berg 5 May 2024\n\n"
    "The Rhone glacier lost two percent of its ice this year, Swiss scientists reported on Friday.\n"
)


def hostile_byline(encoder: Encoder, tmp_path: Path) -> Byline:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    (corpus / "lagoon.jsonl").write_text(SURROGATE_RECORD + "\n" + BODY_ONLY_RECORD + "\n", encoding="utf-8")
    (corpus / "harbour.md").write_text(SURROGATE_MARKDOWN, encoding="utf-8")
    (Path(os.fsdecode(os.fsencode(corpus) + b"/" + UNDECODABLE_NAME))).write_text(GLACIER_STORY, encoding="utf-8")
    index_settings = IndexSettings(corpus_path=corpus, index_path=tmp_path / "index")
    return Byline(index_settings, AnswerSettings(), encoder)


def test_lone_surrogates_anywhere_cost_nothing_and_are_reported(encoder: Encoder, tmp_path: Path) -> None:
    byline = hostile_byline(encoder, tmp_path)

    outcome = byline.reindex()

    assert outcome.report.articles == len(news_files()) + 4, "every article indexed, the repaired ones too"
    assert outcome.skipped == []
    notes = sorted(str(note) for note in outcome.notes)
    assert len(notes) == 4 and all("replaced with U+FFFD" in note for note in notes)
    assert any("lagoon.jsonl: line 1:" in note for note in notes)
    assert any("lagoon.jsonl: line 2: 1 invalid character" in note and "in the body" in note for note in notes)
    assert any("glacier-\\udcff\\udcfe.txt" in note for note in notes), "the file named so the user can find it"

    answer = byline.ask("How much plastic did volunteers remove from the Venice lagoon?")
    assert not answer.refused and answer.citations[0].article_id == "lagoon-\ufffd"
    assert "four tonnes of plastic" in answer.text
    glacier = byline.ask("How much ice did the Rhone glacier lose?")
    assert glacier.citations and glacier.citations[0].article_id == "glacier-\ufffd\ufffd"
    # The stored index reads back cleanly, and a second build finds nothing changed.
    snapshot = open_index(byline.index_settings.index_path, encoder.model_name, byline.chunker_settings)
    assert snapshot.articles["harbour"].title == "Harbour \ufffd Crane Collapses"
    assert byline.reindex().report.chunks_embedded == 0


def test_links_out_of_the_corpus_are_not_indexed_unless_the_setting_allows(encoder: Encoder, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text("Password File\n\nroot bin bash daemon nologin sync games shutdown halt.\n", encoding="utf-8")
    corpus = write_corpus(tmp_path / "corpus", news_files())
    (corpus / "passwd.txt").symlink_to(secret)
    byline = make_byline(encoder, corpus, tmp_path / "index")

    outcome = byline.reindex()

    assert [str(entry) for entry in outcome.skipped] == [
        f"{corpus / 'passwd.txt'}: symbolic link to a file outside the corpus folder ({secret}); "
        "links out of it are not followed"
    ]
    answer = byline.ask("root bin bash daemon nologin")
    assert "passwd" not in {passage.article_id for passage in answer.passages}

    following = Byline(
        IndexSettings(corpus_path=corpus, index_path=tmp_path / "index", corpus_follow_external_links=True),
        byline.answer_settings,
        encoder,
    )
    assert following.reindex().report.added == ["passwd"]


def test_a_new_file_reusing_an_indexed_id_does_not_replace_the_article(encoder: Encoder, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    real = {"id": "wire-1", "title": "Dam Opens in Laos", "body": "A hydropower dam opened on the Mekong in Laos."}
    write_corpus(corpus, {"zz-wire.jsonl": json.dumps(real) + "\n"})
    byline = make_byline(encoder, corpus, tmp_path / "index")
    byline.reindex()
    impostor = {"id": "wire-1", "title": "Fake Headline", "body": "Something else entirely."}
    write_corpus(corpus, {"aa-new.jsonl": json.dumps(impostor) + "\n"})  # sorts first

    outcome = byline.reindex()

    assert byline.searcher().snapshot.articles["wire-1"].title == "Dam Opens in Laos"
    assert outcome.report.changed == [] and outcome.report.unchanged == len(news_files()) + 1
    assert [str(entry).removeprefix(f"{corpus}/") for entry in outcome.skipped] == [
        "aa-new.jsonl: duplicate article id 'wire-1' (kept the article from zz-wire.jsonl, the indexed one)"
    ]


def test_size_limits_and_link_policy_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYLINE_CORPUS_FOLLOW_EXTERNAL_LINKS", "true")
    monkeypatch.setenv("BYLINE_CORPUS_MAX_FILE_MB", "2.5")
    monkeypatch.setenv("BYLINE_CORPUS_MAX_ARTICLE_CHARS", "50000")

    options = load_section(IndexSettings).corpus_options

    assert options == CorpusOptions(follow_external_links=True, max_file_bytes=2_500_000, max_article_chars=50_000)
    monkeypatch.setenv("BYLINE_CORPUS_MAX_FILE_MB", "0")
    with pytest.raises(ValueError, match="BYLINE_CORPUS_MAX_FILE_MB"):
        load_section(IndexSettings)


def test_the_cli_prints_what_was_skipped_and_what_was_kept_with_a_note(
    encoder: Encoder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            **news_files(),
            "undated.md": "---\ntitle: Ferry Strike\ndate: 2024-13-45\n---\n\nFerry crews walked out on Monday.\n",
            "huge.txt": "Huge\n\n" + "word " * 5_000,
        },
    )
    byline = Byline(
        IndexSettings(corpus_path=corpus, index_path=tmp_path / "index", corpus_max_article_chars=20_000),
        AnswerSettings(),
        encoder,
    )

    run_index(byline)

    err = capsys.readouterr().err
    assert f"skipped {corpus / 'huge.txt'}: article 'huge' too long (25,007 characters; the limit is 20,000)" in err
    assert (
        f"note: {corpus / 'undated.md'}: publication date '2024-13-45' is not a date; the article is kept without it"
    ) in err
    assert "Ferry Strike" in {article.title for article in byline.sources()}


def test_the_discord_reindex_report_shows_the_notes(
    encoder: Encoder, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    byline = make_byline(encoder, corpus, tmp_path / "index")
    byline.reindex()
    write_corpus(corpus, {"undated.md": "---\ntitle: Ferry Strike\ndate: yesterday\n---\n\nFerry crews walked out.\n"})

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server):
            interaction = await discord_server.send_interaction("reindex", user="owner")
            edits = rf"/webhooks/\d+/{interaction.token}/messages/.+"
            report = await discord_server.wait_until(
                lambda: next(
                    (
                        r
                        for r in discord_server.requests_matching("PATCH", edits)
                        if "Reindex finished" in embed_text(r.json or {})
                    ),
                    None,
                ),
                timeout=120,
                what="the final reindex report",
            )
            text = embed_text(report.json)
            assert "Kept with notes (1)" in text
            assert "undated.md: publication date 'yesterday' is not a date" in text
            await asyncio.sleep(0)
        discord_server.assert_clean()

    run(scenario(), timeout=180)
