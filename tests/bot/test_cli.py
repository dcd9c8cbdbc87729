"""The `byline` command as a user runs it: settings from the environment, output and exit codes.

One smoke test runs the command in a subprocess, exactly as a user does; the others invoke the same
typer app in this process (typer's CliRunner, with the environment set for the call), which saves
starting Python, torch and the model for every case.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import discord
import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import write_corpus
from tests.discord_server import DiscordTestServer

REPO = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret-part.do-not-print-me"


class Result(Protocol):
    """What a CliRunner call gives (click's or typer's own class, depending on the typer version)."""

    @property
    def exit_code(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def exception(self) -> BaseException | None: ...


def byline(*args: str, env: dict[str, str] | None = None) -> Result:
    """`byline ARGS...` in this process, with `env` added to the environment for the call."""
    return _runner().invoke(app, list(args), env=env)


def _runner() -> CliRunner:
    """A runner keeping stderr apart from stdout: the only way from click 8.2, an option before it."""
    separate: dict[str, Any] = {}
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        separate["mix_stderr"] = False
    return CliRunner(**separate)


def byline_subprocess(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, **env, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_exit(result: Result, code: int) -> None:
    """Exited with `code` by itself: no unexpected exception (which a user would see as a traceback)."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A fresh install: no index yet, the bundled corpus, data under a temporary home."""
    return {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BYLINE_CORPUS_PATH": "",
        "BYLINE_INDEX_PATH": str(tmp_path / "index"),
    }


@pytest.fixture
def root_logging() -> Iterator[None]:
    """`byline run` sets up logging on the root logger (to this call's stderr); undo it afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_first_ask_builds_the_default_index_and_prints_a_cited_answer(user_env: dict[str, str]) -> None:
    result = byline_subprocess("ask", "What did Baqeri propose?", env=user_env)
    assert result.returncode == 0, result.stderr
    assert "Indexed" in result.stderr and "1 added" in result.stderr
    assert "1 article, " in result.stderr and "1 articles" not in result.stderr
    assert "proposed joint drills with Iraq" in result.stdout and "[1]" in result.stdout
    assert "Sources" in result.stdout and "Iran, Iraq Discuss Border Security" in result.stdout

    as_json = byline("ask", "What did Baqeri propose?", "--json", env=user_env)
    assert_exit(as_json, 0)
    assert "Indexed" not in as_json.stderr, "the index is reused"
    record = json.loads(as_json.stdout)
    assert set(record) >= {"id", "question", "passages", "answer"}
    assert record["answer"]["refused"] is False
    assert record["answer"]["citations"][0]["n"] == 1
    assert all({"text", "article_id", "score"} <= set(p) for p in record["passages"])

    listing = byline("sources", env=user_env)
    assert_exit(listing, 0)
    assert listing.stdout.startswith("1 article, ") and "0 outlets;" in listing.stdout, "the seed names no outlet"
    assert "2023-12-06" in listing.stdout


def test_help_lists_the_commands_and_a_missing_argument_is_a_usage_error() -> None:
    help_text = byline("--help")
    assert_exit(help_text, 0)
    for command in ("index", "ask", "sources", "eval", "run", "healthcheck", "env-example"):
        assert command in help_text.stdout
    missing = byline("ask")
    assert_exit(missing, 2)
    assert "Missing argument" in missing.stderr


@pytest.mark.parametrize(
    "command, env, message",
    [
        ("ask", {"BYLINE_CHUNK_TOKENS": "5"}, "BYLINE_CHUNK_TOKENS: Input should be greater than or equal to 32"),
        ("ask", {"BYLINE_CHUNK_TOKENS": "many"}, "BYLINE_CHUNK_TOKENS: Input should be a valid integer"),
        ("ask", {"BYLINE_ANSWER_TOP_K": "0"}, "BYLINE_ANSWER_TOP_K"),
        (
            "ask",
            {"BYLINE_CHUNK_OVERLAP": "150", "BYLINE_CHUNK_TOKENS": "100"},
            "must be smaller than BYLINE_CHUNK_TOKENS",
        ),
        ("run", {"BYLINE_DISCORD_ADMIN_ROLE_IDS": "[1, 2,"}, "BYLINE_DISCORD_ADMIN_ROLE_IDS: must be a JSON list"),
    ],
)
def test_invalid_settings_fail_at_start_naming_the_setting(
    user_env: dict[str, str], command: str, env: dict[str, str], message: str
) -> None:
    args = [command, "What did Baqeri propose?"] if command == "ask" else [command]
    result = byline(*args, env={**user_env, **env})
    assert_exit(result, 2)
    assert message in result.stderr


def test_bad_input_gets_one_clear_line(user_env: dict[str, str], tmp_path: Path) -> None:
    empty = byline("ask", "   ", env=user_env)
    assert_exit(empty, 2)
    assert "Ask a question" in empty.stderr
    bad_date = byline("ask", "What happened?", "--since", "last week", env=user_env)
    assert_exit(bad_date, 2)
    assert "--since must be a date like 2023-12-06" in bad_date.stderr
    missing = byline("index", "--corpus", str(tmp_path / "nowhere"), env=user_env)
    assert_exit(missing, 2)
    assert "does not exist" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_index_reports_skipped_files_and_keeps_the_rest(user_env: dict[str, str], tmp_path: Path) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "good.md": "---\ntitle: Bridge reopens\noutlet: City Paper\ndate: 2023-11-02\n---\n\nThe bridge reopened on Thursday after repairs.\n",
            "broken.json": "{not json",
            "latin1.txt": "Caf\xe9 owners protest new rules.".encode("latin-1"),
        },
    )
    result = byline("index", "--corpus", str(corpus), env=user_env)
    assert_exit(result, 0)
    assert "broken.json" in result.stderr and "latin1.txt" in result.stderr and "UTF-8" in result.stderr
    assert re.search(
        r": 1 article, 1 chunk: 1 added, 0 changed, 0 removed, 0 unchanged; 1 chunk embedded in ", result.stdout
    )


def test_eval_writes_one_record_per_question_and_prints_metrics(user_env: dict[str, str], tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    rows = [
        {
            "id": "a-1",
            "title": "Bridge reopens",
            "source": "City Paper",
            "url": "https://example.org/1",
            "published_at": "2023-11-02T10:00:00+00:00",
            "body": "The bridge reopened on Thursday after two years of repairs.\n\nTraffic returned to normal by the evening.",
            "author": "",
            "category": "local",
        },
        {
            "id": "a-2",
            "title": "Storm closes schools",
            "source": "Weather Desk",
            "url": "https://example.org/2",
            "published_at": "2023-11-05T08:00:00+00:00",
            "body": "A winter storm closed every school in the county on Monday.\n\nForecasters expect more snow on Wednesday.",
            "author": "",
            "category": "weather",
        },
    ]
    articles.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "id": "q1",
                    "question": "When did the bridge reopen according to City Paper?",
                    "extra": 1,
                    "evidence": [
                        {"article_id": "a-1", "excerpt": "The bridge reopened on Thursday after two years of repairs."}
                    ],
                    "question_type": "inference_query",
                },
                {"id": "q2", "question": "What closed the schools?"},
                {"id": "q3", "question": "Who won the chess olympiad?", "evidence": [], "question_type": "null_query"},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "out" / "results.jsonl"
    command = ["eval", "--articles", str(articles), "--questions", str(questions), "--output", str(output)]
    command += ["--index", str(tmp_path / "eval-index")]
    result = byline(*command, env=user_env)
    assert_exit(result, 0)
    assert "Hits@10 1.000" in result.stdout and "MRR@10 1.000" in result.stdout
    assert re.search(r"Refused [0-2]/2 questions without evidence", result.stdout)
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2", "q3"]
    first = records[0]
    assert first["passages"][0]["article_id"] == "a-1" and first["passages"][0]["text"].startswith(
        "The bridge reopened"
    )
    assert first["answer"]["citations"][0]["article_id"] == "a-1"
    again = byline(*command, env=user_env)
    assert_exit(again, 0)
    assert "0 chunks embedded" in again.stdout, "the index built from the same articles is reused"


def test_run_without_a_token_says_how_to_get_one(user_env: dict[str, str]) -> None:
    result = byline("run", env={**user_env, "BYLINE_DISCORD_TOKEN": ""})
    assert_exit(result, 2)
    assert "BYLINE_DISCORD_TOKEN is not set" in result.stderr and "developer portal" in result.stderr


def _closed_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_says_when_discord_cannot_be_reached_and_never_prints_the_token(
    user_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    # Discord's API "address" is a local port nothing listens on: the connection is refused at once.
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{_closed_local_port()}/api/v10")
    result = byline("run", env={**user_env, "BYLINE_DISCORD_TOKEN": TOKEN})
    assert_exit(result, 1)
    assert "Could not reach Discord" in result.stderr
    assert "Traceback" not in result.stderr
    assert "do-not-print-me" not in result.stdout + result.stderr


@pytest.fixture
def discord_serving(discord_loop: asyncio.AbstractEventLoop, discord_server: DiscordTestServer) -> Iterator[None]:
    """The protocol server answering from a thread of its own while `byline run` runs its loop here."""
    thread = threading.Thread(target=discord_loop.run_forever, name="discord-server", daemon=True)
    thread.start()
    yield
    discord_loop.call_soon_threadsafe(discord_loop.stop)
    thread.join(10)


def test_run_with_a_rejected_token_says_so_and_never_prints_it(
    user_env: dict[str, str], discord_server: DiscordTestServer, discord_serving: None, root_logging: None
) -> None:
    assert TOKEN != discord_server.config.token
    result = byline("run", env={**user_env, "BYLINE_DISCORD_TOKEN": TOKEN})
    assert_exit(result, 2)
    assert "Discord rejected the bot token (BYLINE_DISCORD_TOKEN)" in result.stderr
    assert "Traceback" not in result.stderr
    assert "do-not-print-me" not in result.stdout + result.stderr
    assert [r.status for r in discord_server.requests_matching("GET", r"/users/@me")] == [401]


def test_healthcheck_needs_a_fresh_heartbeat_and_a_loadable_index(user_env: dict[str, str], tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    env = {**user_env, "BYLINE_DISCORD_HEARTBEAT_FILE": str(heartbeat)}
    missing = byline("healthcheck", env=env)
    assert_exit(missing, 1)
    assert "no heartbeat file" in missing.stderr and "no index" in missing.stderr
    assert_exit(byline("index", env=env), 0)
    heartbeat.write_text("1\n")
    assert_exit(byline("healthcheck", env=env), 0)
    os.utime(heartbeat, (1, 1))
    stale = byline("healthcheck", env=env)
    assert_exit(stale, 1)
    assert "not connected" in stale.stderr


def test_ask_shows_each_sentence_once_with_the_byline_and_filters_by_author(user_env: dict[str, str]) -> None:
    shown = byline("ask", "What did Baqeri propose?", env=user_env)
    assert_exit(shown, 0)
    answer, sources = shown.stdout.split("\nSources\n")
    assert "[1]" in answer and "Unknown outlet" not in shown.stdout
    assert sources.splitlines()[0] == (
        "[1] Iran, Iraq Discuss Border Security, Military Cooperation — Nigar Bayramli · 2023-12-06"
    ), "the seed names no outlet and no address: its author stands in, once"
    record = json.loads(
        byline("ask", "What did Baqeri propose?", "--author", "BAYRAMLI", "--json", env=user_env).stdout
    )
    assert re.fullmatch(r"[0-9a-f]{16}", record["answer"]["answer_id"])
    assert record["answer"]["citations"][0]["author"] == "Nigar Bayramli"
    for sentence in record["answer"]["sentences"]:
        assert sentence["text"] in answer.replace("\n", " "), "the text output shows the same sentences"
        assert sources.count(sentence["text"][:30]) == 0, "and does not repeat them under Sources"
    unknown = byline("ask", "What did Baqeri propose?", "--author", "Nobody", env=user_env)
    assert_exit(unknown, 2)
    assert "No indexed author matches 'Nobody'. Indexed authors: Nigar Bayramli." in unknown.stderr


def test_feedback_export_is_empty_before_any_vote_and_checks_its_date(user_env: dict[str, str]) -> None:
    empty = byline("feedback", env=user_env)
    assert_exit(empty, 0)
    assert empty.stdout == ""
    bad = byline("feedback", "--since", "yesterday", env=user_env)
    assert_exit(bad, 2)
    assert "--since must be a date like 2023-12-06" in bad.stderr
