"""The `byline` command as a user runs it: in a subprocess, with settings from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_corpus


def byline(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A fresh install: no index yet, the bundled corpus, data under a temporary home."""
    return {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BYLINE_CORPUS_PATH": "",
        "BYLINE_INDEX_PATH": str(tmp_path / "index"),
    }


def test_first_ask_builds_the_default_index_and_prints_a_cited_answer(user_env: dict[str, str]) -> None:
    result = byline("ask", "What did Baqeri propose?", env=user_env)
    assert result.returncode == 0, result.stderr
    assert "Indexed" in result.stderr and "1 added" in result.stderr
    assert "proposed joint drills with Iraq" in result.stdout and "[1]" in result.stdout
    assert "Sources" in result.stdout and "Iran, Iraq Discuss Border Security" in result.stdout

    as_json = byline("ask", "What did Baqeri propose?", "--json", env=user_env)
    assert as_json.returncode == 0 and "Indexed" not in as_json.stderr, "the index is reused"
    record = json.loads(as_json.stdout)
    assert set(record) >= {"id", "question", "passages", "answer"}
    assert record["answer"]["refused"] is False
    assert record["answer"]["citations"][0]["n"] == 1
    assert all({"text", "article_id", "score"} <= set(p) for p in record["passages"])

    listing = byline("sources", env=user_env)
    assert listing.returncode == 0 and "2023-12-06" in listing.stdout and "1 articles" in listing.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"BYLINE_CHUNK_TOKENS": "5"}, "BYLINE_CHUNK_TOKENS: Input should be greater than or equal to 32"),
        ({"BYLINE_CHUNK_TOKENS": "many"}, "BYLINE_CHUNK_TOKENS: Input should be a valid integer"),
        ({"BYLINE_ANSWER_TOP_K": "0"}, "BYLINE_ANSWER_TOP_K"),
        ({"BYLINE_CHUNK_OVERLAP": "150", "BYLINE_CHUNK_TOKENS": "100"}, "must be smaller than BYLINE_CHUNK_TOKENS"),
    ],
)
def test_invalid_settings_fail_at_start_naming_the_setting(
    user_env: dict[str, str], env: dict[str, str], message: str
) -> None:
    result = byline("ask", "What did Baqeri propose?", env={**user_env, **env}, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_input_gets_one_clear_line(user_env: dict[str, str], tmp_path: Path) -> None:
    empty = byline("ask", "   ", env=user_env, timeout=60)
    assert empty.returncode == 2 and "Ask a question" in empty.stderr
    bad_date = byline("ask", "What happened?", "--since", "last week", env=user_env, timeout=60)
    assert bad_date.returncode == 2 and "--since must be a date like 2023-12-06" in bad_date.stderr
    missing = byline("index", "--corpus", str(tmp_path / "nowhere"), env=user_env, timeout=60)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


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
    assert result.returncode == 0, result.stderr
    assert "broken.json" in result.stderr and "latin1.txt" in result.stderr and "UTF-8" in result.stderr
    assert "1 articles" in result.stdout and "1 added" in result.stdout


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
    assert result.returncode == 0, result.stderr
    assert "Hits@10 1.000" in result.stdout and "MRR@10 1.000" in result.stdout
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2", "q3"]
    first = records[0]
    assert first["passages"][0]["article_id"] == "a-1" and first["passages"][0]["text"].startswith(
        "The bridge reopened"
    )
    assert first["answer"]["citations"][0]["article_id"] == "a-1"
    again = byline(*command, env=user_env)
    assert "0 chunks embedded" in again.stdout, "the index built from the same articles is reused"


def test_run_without_a_token_says_how_to_get_one(user_env: dict[str, str]) -> None:
    result = byline("run", env={**user_env, "BYLINE_DISCORD_TOKEN": ""}, timeout=60)
    assert result.returncode == 2
    assert "BYLINE_DISCORD_TOKEN is not set" in result.stderr and "developer portal" in result.stderr


def test_run_never_prints_the_token_when_discord_cannot_be_used(user_env: dict[str, str]) -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret-part.do-not-print-me"
    result = byline("run", env={**user_env, "BYLINE_DISCORD_TOKEN": token}, timeout=120)
    # No Discord is reachable from the test machine (or the token is refused): a clear error, not a traceback.
    assert result.returncode in (1, 2)
    assert "Could not reach Discord" in result.stderr or "rejected the bot token" in result.stderr
    assert "Traceback" not in result.stderr
    assert token not in result.stdout + result.stderr and "do-not-print-me" not in result.stdout + result.stderr


def test_healthcheck_needs_a_fresh_heartbeat_and_a_loadable_index(user_env: dict[str, str], tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    env = {**user_env, "BYLINE_DISCORD_HEARTBEAT_FILE": str(heartbeat)}
    missing = byline("healthcheck", env=env, timeout=60)
    assert missing.returncode == 1 and "no heartbeat file" in missing.stderr and "no index" in missing.stderr
    assert byline("index", env=env).returncode == 0
    heartbeat.write_text("1\n")
    assert byline("healthcheck", env=env, timeout=60).returncode == 0
    os.utime(heartbeat, (1, 1))
    stale = byline("healthcheck", env=env, timeout=60)
    assert stale.returncode == 1 and "not connected" in stale.stderr
