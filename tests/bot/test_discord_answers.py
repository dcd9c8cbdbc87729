"""Answers in Discord, over the protocol server with the real bot: the reply's layout, More sources, the
persistent buttons (across a restart, after pruning, across servers), feedback, readiness and shards."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.answer_model import Answer, AnswerSentence, source_name
from bot.answer_store import ANSWERS_FILE
from bot.cli import app
from bot.discord_bot import BylineBot, ShardedBylineBot, create_bot
from bot.render_discord import safe
from bot.service import Byline
from bot.settings import DiscordSettings
from embeddings.encoder import Encoder
from tests.conftest import front_matter_article, make_byline, news_files, write_corpus
from tests.discord_server import (
    GUILD_ID,
    DiscordServerConfig,
    DiscordTestServer,
    InteractionRecord,
    RecordedRequest,
    running_bot,
    second_guild,
    shard_of,
)

EPHEMERAL = 1 << 6
COMPARISON = "Did the Harbour Gazette report on the dredging plan before the Coast Times?"
REFUSED = "What recipe won the Great British Bake Off in 2019?"
# A guild on the other of two shards than the main one (Discord routes by (id >> 22) % shards).
OTHER_SHARD_GUILD = dataclasses.replace(second_guild(), id=(((GUILD_ID >> 22) + 1) << 22) + 5)
TWO_GUILDS = DiscordServerConfig(other_guilds=(second_guild(),))


def harbour_article(title: str, outlet: str, day: str, paragraphs: list[str], url: str = "", author: str = "") -> str:
    text = front_matter_article(title, outlet, day, paragraphs, url=url)
    if not outlet:
        text = text.replace('outlet: ""\n', "")
    return text.replace("---\n", f"---\nauthor: {author}\n", 1) if author else text


# Two outlets reporting one story on different days, a site that names no outlet, a letter with only an author.
HARBOUR = {
    "gazette.md": harbour_article(
        "Council approves harbour dredging",
        "Harbour Gazette",
        "2023-11-01",
        [
            "The city council approved the harbour dredging plan on Wednesday, after a two-hour debate.",
            "Dredging will start in the spring and cost 4 million euros, the council said.",
            "Fishermen welcomed the plan, saying silt had closed the northern channel.",
        ],
        url="https://gazette.example/dredging",
        author="Mara Quinn",
    ),
    "times.md": harbour_article(
        "Dredging plan passes",
        "Coast Times",
        "2023-11-03",
        [
            "Coast Times learned that the harbour dredging plan will cost more than the council said.",
            "Engineers expect the dredging of the northern channel to take two years.",
            "Environmental groups warned that dredging could harm the seagrass beds.",
        ],
        url="https://www.coasttimes.example/2023/dredging",
        author="Ivo Petrov",
    ),
    "watch.md": harbour_article(
        "Seagrass survey begins",
        "",
        "2023-11-05",
        [
            "Volunteers began a survey of the harbour's seagrass beds before the dredging starts.",
            "The survey will map every bed along the northern channel.",
        ],
        url="https://www.harbour-watch.example/seagrass",
        author="Lena Ortiz",
    ),
    "letter.md": harbour_article(
        "A letter on the harbour",
        "",
        "2023-11-06",
        [
            "Residents wrote that the harbour dredging noise will disturb the old town at night.",
            "They asked the council to limit dredging to daytime hours.",
        ],
        author="Dana Whitfield",
    ),
}


@pytest.fixture(scope="module")
def harbour_index(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The news corpus and the harbour articles, indexed once; each test serves a copy of its own."""
    folder = tmp_path_factory.mktemp("harbour")
    byline = make_byline(encoder, write_corpus(folder / "corpus", {**news_files(), **HARBOUR}), folder / "index")
    byline.reindex()
    return folder


@pytest.fixture
def harbour(encoder: Encoder, harbour_index: Path, tmp_path: Path) -> Byline:
    """A Byline serving its own copy of the harbour index (so its answers and feedback are its own)."""
    shutil.copytree(harbour_index, tmp_path / "harbour")
    return fresh_byline(encoder, tmp_path / "harbour")


def fresh_byline(encoder: Encoder, folder: Path) -> Byline:
    """A new Byline (as a restarted bot makes) over the index in `folder`."""
    return make_byline(encoder, folder / "corpus", folder / "index")


def make_bot(service: Byline, server: DiscordTestServer, tmp_path: Path, **settings: Any) -> BylineBot:
    values: dict[str, Any] = {"guild_id": server.config.guild_id, "cooldown_questions": 50, **settings}
    discord_settings = DiscordSettings(heartbeat_file=tmp_path / "heartbeat", **values)
    return create_bot(service, discord_settings, guild_ready_timeout=0.05)


async def ask(server: DiscordTestServer, question: str, user: str = "reader", **options: Any) -> dict[str, Any]:
    """Send /ask; the stored message carrying the answer, once it has its buttons."""
    interaction = await server.send_interaction("ask", {"question": question, **options}, user=user)
    follow_up = await server.wait_for_request("POST", rf"/webhooks/\d+/{interaction.token}", timeout=60)
    return server.messages[int(follow_up.response["id"])]


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]


def answer_id_of(message: dict[str, Any]) -> str:
    ids = [m.group(1) for m in map(re.compile(r"byline:vote:up:([0-9a-f]{16})").fullmatch, custom_ids(message)) if m]
    assert len(ids) == 1, custom_ids(message)
    return ids[0]


def stored_answer(byline: Byline, message: dict[str, Any]) -> Answer:
    return byline.answers.answer_for(answer_id_of(message), message["guild_id"]).answer


async def click(server: DiscordTestServer, message: dict[str, Any], custom_id: str, user: str = "reader") -> Any:
    """Click a button; the interaction and the bot's first response to it."""
    record = await server.click_button(int(message["id"]), custom_id=custom_id, user=user)
    response = await server.wait_for_request("POST", rf"/interactions/{record.id}/.+/callback", timeout=30)
    return record, response


async def private_reply(server: DiscordTestServer, record: InteractionRecord, response: RecordedRequest) -> str:
    """The text the clicker was told privately: in the response itself, or in a follow-up after an update."""
    if response.json["type"] == 4:
        assert response.json["data"]["flags"] & EPHEMERAL
        return response.json["data"].get("content") or ""
    follow_up = await server.wait_for_request("POST", rf"/webhooks/\d+/{record.token}")
    assert follow_up.json["flags"] & EPHEMERAL
    return follow_up.json["content"]


def shown_sentences(answer: Answer) -> list[AnswerSentence]:
    return [*answer.sentences, *(s for c in answer.citations for s in answer.extra_sentences(c))]


# ---------------------------------------------------------------- the reply


def test_the_reply_shows_every_cited_sentence_once_dated_and_sourced_then_one_line_per_source(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(harbour, discord_server, tmp_path), discord_server):
            message = await ask(discord_server, COMPARISON)
            answer = stored_answer(harbour, message)
            (embed,) = message["embeds"]
            description = embed["description"]
            lines = description.splitlines()
            assert answer.is_comparison() and {c.outlet for c in answer.citations} >= {"Harbour Gazette", "Coast Times"}
            for sentence in shown_sentences(answer):
                assert description.count(safe(sentence.text)) == 1, "every cited sentence, once"
            for sentence in answer.sentences:  # "who reported first?" can be read off each line
                citation = answer.citation(sentence.n)
                assert citation is not None and citation.published is not None
                label = f"{citation.published.date().isoformat()} · {source_name(citation)}"
                assert f"**{label}**: {safe(sentence.text)} [{sentence.n}]" in lines
            for citation in answer.citations:
                source = next(line for line in lines if line.startswith(f"**[{citation.n}]** "))
                assert f"[{citation.title}](<{citation.url}>) — " in source
                assert citation.author and citation.author in source, "the byline is shown"
            assert "harbour-watch.example" in description, "a site without an outlet is named by its address"
            assert "Unknown outlet" not in json.dumps(message)
            assert [i.split(":")[1] for i in custom_ids(message)] == ["more", "vote", "vote"]
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_more_sources_shows_only_passages_not_cited_and_a_refusal_has_none(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(harbour, discord_server, tmp_path), discord_server):
            message = await ask(discord_server, COMPARISON)
            answer = stored_answer(harbour, message)
            more_id = next(i for i in custom_ids(message) if i.startswith("byline:more:"))
            _, response = await click(discord_server, message, more_id)
            assert response.json["type"] == 4 and response.json["data"]["flags"] & EPHEMERAL
            pages = [response.json["data"]["embeds"][0]]
            page_message = discord_server.messages[int(response.response["resource"]["message"]["id"])]
            while next_ids := [i for i in custom_ids(page_message) if i.endswith(f":{len(pages)}")]:
                _, turned = await click(discord_server, page_message, next_ids[0])
                assert turned.json["type"] == 7, "the private page turns in place"
                pages.append(turned.json["data"]["embeds"][0])
            shown = [field["value"] for page in pages for field in page["fields"]]
            assert (
                len(shown)
                == len(answer.uncited_passages())
                == len(answer.passages)
                - sum(any(s.overlaps(p.article_id, p.start, p.end) for s in answer.sentences) for p in answer.passages)
            )
            cited = [safe(s.text) for s in answer.sentences]
            assert not [text for text in cited for value in shown if text[:60] in value], "no cited text again"

            refused = await ask(discord_server, REFUSED)
            assert "couldn't find coverage" in refused["embeds"][0]["description"]
            assert [i.split(":")[1] for i in custom_ids(refused)] == ["vote", "vote"], "no More sources"
        discord_server.assert_clean()

    run(scenario(), timeout=120)


# ---------------------------------------------------------------- persistent buttons


def test_an_answer_s_buttons_work_in_a_new_bot_after_a_restart(
    encoder: Encoder, harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    folder = tmp_path / "harbour"

    async def scenario() -> None:
        async with running_bot(make_bot(harbour, discord_server, tmp_path), discord_server):
            message = await ask(discord_server, COMPARISON)
        # A new bot, with a new Byline over the same index folder: nothing of the first one's memory.
        restarted = fresh_byline(encoder, folder)
        async with running_bot(make_bot(restarted, discord_server, tmp_path), discord_server):
            more_id, up_id, _ = custom_ids(message)
            _, more = await click(discord_server, message, more_id)
            assert more.json["type"] == 4 and more.json["data"]["embeds"][0]["title"].startswith("More sources")
            record, voted = await click(discord_server, message, up_id)
            assert "you marked this answer helpful" in await private_reply(discord_server, record, voted)
        assert [r["vote"] for r in restarted.answers.feedback()] == ["up"]
        assert len(discord_server.connections) == 2
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_a_button_whose_answer_was_pruned_says_so_and_disables_the_message_s_buttons(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(harbour, discord_server, tmp_path, answers_kept=1), discord_server):
            old = await ask(discord_server, COMPARISON)
            new = await ask(discord_server, "What did Baqeri propose?")  # keeps 1 answer: the old one goes
            record, response = await click(discord_server, old, custom_ids(old)[1])
            assert response.json["type"] == 7, "the clicked message is updated"
            told = await private_reply(discord_server, record, response)
            assert "no longer kept" in told and "Ask the question again" in told
            buttons = [c for row in discord_server.messages[int(old["id"])]["components"] for c in row["components"]]
            assert len(buttons) == 3 and all(b["disabled"] for b in buttons)
            assert custom_ids(discord_server.messages[int(old["id"])]) == custom_ids(old), "the same buttons"
            record, response = await click(discord_server, new, custom_ids(new)[-1])
            assert "not helpful" in await private_reply(discord_server, record, response), "newer answers work"
        assert [r["question"] for r in harbour.answers.feedback()] == ["What did Baqeri propose?"]
        discord_server.assert_clean()

    run(scenario(), timeout=120)


def test_an_answer_that_cannot_be_kept_is_sent_without_buttons(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path, caplog
) -> None:
    harbour.answers.path.mkdir()  # a folder where the store's file should be: it cannot be written

    async def scenario() -> None:
        async with running_bot(make_bot(harbour, discord_server, tmp_path), discord_server):
            message = await ask(discord_server, COMPARISON)
            assert "Coast Times" in message["embeds"][0]["description"]
            assert not message.get("components"), "buttons that could only fail are left out"
        discord_server.assert_clean()

    run(scenario(), timeout=120)
    assert any("sent without buttons" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


@pytest.mark.parametrize("discord_config", [TWO_GUILDS])
def test_a_button_clicked_from_another_server_reads_nothing_of_the_answer(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(make_bot(harbour, discord_server, tmp_path), discord_server):
            message = await ask(discord_server, COMPARISON)
            for custom_id in custom_ids(message):
                record = await discord_server.send_component_interaction(
                    int(message["id"]), custom_id, user="reader-b", channel_id=discord_server.channel_id("b-general")
                )
                reply = await discord_server.wait_for_request("POST", rf"/interactions/{record.id}/.+/callback")
                assert reply.json["type"] == 4 and reply.json["data"]["flags"] & EPHEMERAL
                assert reply.json["data"]["content"] == "This answer belongs to another server."
                assert not reply.json["data"].get("embeds")
        assert list(harbour.answers.feedback()) == []
        discord_server.assert_clean()

    run(scenario(), timeout=120)


# ---------------------------------------------------------------- feedback


def test_feedback_is_one_changeable_vote_per_user_kept_exported_and_counted(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    async def scenario() -> str:
        async with running_bot(make_bot(harbour, discord_server, tmp_path), discord_server):
            message = await ask(discord_server, COMPARISON, author="mara")
            assert {p.author for p in stored_answer(harbour, message).passages} == {"Mara Quinn"}, "/ask author"
            up, down = custom_ids(message)[-2:]
            told = []
            for user, button in (("reader", up), ("reader", up), ("reader", down), ("moderator", up)):
                record, response = await click(discord_server, message, button, user=user)
                told.append(await private_reply(discord_server, record, response))
            assert told == [
                "Thanks: you marked this answer helpful. Click 👎 to change your vote.",
                "You marked this answer helpful already; your vote stays.",
                "Changed your vote: this answer is not helpful.",
                "Thanks: you marked this answer helpful. Click 👎 to change your vote.",
            ]
            status = await discord_server.send_interaction("status")
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{status.id}/.+/callback")
            feedback = next(f for f in reply.json["data"]["embeds"][0]["fields"] if f["name"] == "Feedback")
            assert feedback["value"] == "👍 1 · 👎 1"
        discord_server.assert_clean()
        return answer_id_of(message)

    answer_id = run(scenario(), timeout=120)
    env = {"BYLINE_INDEX_PATH": str(harbour.index_settings.index_path), "BYLINE_CORPUS_PATH": ""}
    exported = CliRunner().invoke(app, ["feedback"], env=env)
    assert exported.exit_code == 0, exported.output
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["vote"] for r in records] == ["down", "up"], "in order of change: the reader's, then the moderator's"
    reader = records[0]
    assert reader["answer_id"] == answer_id and reader["server"] == str(GUILD_ID)
    assert reader["question"] == COMPARISON and reader["options"] == {"author": "mara"}
    assert reader["answer"] and reader["refused"] is False and reader["citations"][0]["excerpt"]
    assert reader["citations"][0]["author"] == "Mara Quinn" and reader["passages"]
    assert reader["first_voted_at"] <= reader["voted_at"] and reader["asked_at"] <= reader["first_voted_at"]
    assert re.fullmatch(r"[0-9a-f]{32}", reader["user"]) and records[1]["user"] != reader["user"]
    raw_ids = [str(discord_server.user(name).id) for name in ("reader", "moderator")]
    stored = b"".join(p.read_bytes() for p in harbour.index_settings.index_path.glob(f"{ANSWERS_FILE}*"))
    assert not any(raw.encode() in stored or raw in exported.stdout for raw in raw_ids), "never the raw user id"
    later = CliRunner().invoke(app, ["feedback", "--since", "2999-01-01"], env=env)
    assert later.exit_code == 0 and later.stdout == ""


# ---------------------------------------------------------------- readiness


def test_the_model_and_the_index_are_loaded_before_the_bot_connects(
    harbour_index: Path, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    cold = Encoder()  # not loaded yet: the session's model is shared by the other tests
    shutil.copytree(harbour_index, tmp_path / "harbour")
    byline = fresh_byline(cold, tmp_path / "harbour")
    assert not cold.loaded and not byline.index_loaded
    seen_at_connect: list[tuple[bool, bool]] = []

    async def scenario() -> None:
        bot = make_bot(byline, discord_server, tmp_path)

        async def on_connect() -> None:
            seen_at_connect.append((cold.loaded, byline.index_loaded))

        bot.add_listener(on_connect)
        async with running_bot(bot, discord_server, ready_timeout=180):
            assert seen_at_connect == [(True, True)], "loaded before the gateway connection, not by the first question"
            status = await discord_server.send_interaction("status")
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{status.id}/.+/callback")
            ready = next(f for f in reply.json["data"]["embeds"][0]["fields"] if f["name"] == "Ready")
            assert ready["value"].startswith("Yes: the model and the index were loaded at start")
            message = await ask(discord_server, "What did Baqeri propose?")
            assert "proposed joint drills" in message["embeds"][0]["description"]
        discord_server.assert_clean()

    run(scenario(), timeout=240)


def test_status_says_why_the_index_is_unavailable_and_still_counts_feedback(
    encoder: Encoder, discord_server: DiscordTestServer, run, tmp_path: Path
) -> None:
    byline = make_byline(encoder, write_corpus(tmp_path / "corpus", news_files()), tmp_path / "no-index-yet")

    async def scenario() -> None:
        async with running_bot(make_bot(byline, discord_server, tmp_path), discord_server):
            status = await discord_server.send_interaction("status")
            reply = await discord_server.wait_for_request("POST", rf"/interactions/{status.id}/.+/callback")
            fields = {f["name"]: f["value"] for f in reply.json["data"]["embeds"][0]["fields"]}
            assert fields["Ready"].startswith("No: the index is unavailable.") and "/reindex" in fields["Ready"]
            assert fields["Feedback"] == "👍 0 · 👎 0" and "Articles" not in fields
        discord_server.assert_clean()

    run(scenario(), timeout=60)


# ---------------------------------------------------------------- shards


@pytest.mark.parametrize(
    "discord_config, shards",
    [
        (DiscordServerConfig(other_guilds=(OTHER_SHARD_GUILD,), recommended_shards=2), "auto"),
        (DiscordServerConfig(other_guilds=(OTHER_SHARD_GUILD,)), 2),
    ],
    ids=["auto", "two"],
)
def test_two_shards_each_serve_their_own_server(
    harbour: Byline, discord_server: DiscordTestServer, run, tmp_path: Path, shards: str | int
) -> None:
    main, other = (guild.id for guild in discord_server.config.guilds)
    assert {shard_of(main, 2), shard_of(other, 2)} == {0, 1}

    async def scenario() -> None:
        bot = make_bot(harbour, discord_server, tmp_path, shards=shards, guild_id=None)
        assert isinstance(bot, ShardedBylineBot)
        async with running_bot(bot, discord_server, ready_timeout=60):
            assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
            identified = [frame.data["shard"] for frame in discord_server.gateway_received(op=2)]
            assert sorted(identified) == [[0, 2], [1, 2]]
            asked_gateway = bool(discord_server.requests_matching("GET", "/gateway/bot"))
            assert asked_gateway == (shards == "auto"), "auto asks Discord how many shards to run"
            for guild_id in (main, other):
                guild = bot.get_guild(guild_id)
                assert guild is not None and guild.shard_id == shard_of(guild_id, 2)
            answers = []
            for user, channel in (("reader", "general"), ("reader-b", "b-general")):
                interaction = await discord_server.send_interaction(
                    "ask",
                    {"question": "What did Baqeri propose?"},
                    user=user,
                    channel_id=discord_server.channel_id(channel),
                )
                answered = await discord_server.wait_for_request(
                    "POST", rf"/webhooks/\d+/{interaction.token}", timeout=60
                )
                answers.append(answered.json["embeds"][0]["description"])
            assert all("proposed joint drills" in answer for answer in answers)
            delivered = {f.connection for f in discord_server.gateway_sent("INTERACTION_CREATE")}
            assert len(delivered) == 2, "each server's interactions came over its own shard's connection"
        discord_server.assert_clean()

    run(scenario(), timeout=180)
