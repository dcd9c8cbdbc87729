"""The news-taking commands as a user runs them: `byline feeds ...`, `add`, `update`, `remove`, and `eval`
against the index as it stands, run in-process (as tests/bot/test_cli.py does), fetching from the local news site."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bot.test_cli import byline as invoke
from tests.ingest.news_site import NewsSite, article_page, feed_item, load_articles, rss_feed

ARTICLES = load_articles()


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def byline(*args: str, env: dict[str, str] | None = None, timeout: float | None = None) -> Ran:
    """The command run in-process; `timeout` is accepted for readability and not needed in-process."""
    result = invoke(*args, env=env)
    return Ran(result.exit_code, result.stdout, result.stderr)


FEED_ARTICLES = ("mhrag-0402", "mhrag-0461", "mhrag-0287")


@pytest.fixture
def news_env(tmp_path: Path) -> dict[str, str]:
    """A fresh install whose corpus is empty: the news comes from the site only."""
    (tmp_path / "corpus").mkdir()
    return {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BYLINE_CORPUS_PATH": str(tmp_path / "corpus"),
        "BYLINE_INDEX_PATH": str(tmp_path / "data" / "index"),
        "BYLINE_FETCH_ALLOW_PRIVATE": "true",
        "BYLINE_FETCH_HOST_INTERVAL_SECONDS": "0",
        "BYLINE_FETCH_TIMEOUT_SECONDS": "10",
    }


def serve_news(site: NewsSite) -> str:
    for article_id in (*FEED_ARTICLES, "mhrag-0412"):
        path = f"/news/{article_id}"
        site.serve(path, article_page(ARTICLES[article_id], canonical=site.url(path)))
    items = [feed_item(ARTICLES[i], site.url(f"/news/{i}")) for i in FEED_ARTICLES]
    return site.serve_feed("/feed.xml", rss_feed("Tech Desk", site.base, items))


def test_following_a_feed_and_adding_links_from_the_command_line(
    site: NewsSite, news_env: dict[str, str], tmp_path: Path
) -> None:
    feed = serve_news(site)
    added = byline("feeds", "add", feed, "--name", "Gadget feed", env=news_env)
    assert added.returncode == 0, added.stderr
    assert "Following Gadget feed" in added.stdout and "3 new articles" in added.stdout
    assert "Index: 3 articles" in added.stdout and "3 added" in added.stdout
    assert (tmp_path / "data" / "library.sqlite").is_file(), "the library sits beside the index"

    twice = byline("feeds", "add", feed + "?utm_source=x", env=news_env, timeout=120)
    assert twice.returncode == 2 and "followed already" in twice.stderr and "Traceback" not in twice.stderr

    listing = byline("feeds", "list", env=news_env, timeout=120)
    assert listing.returncode == 0
    assert "Gadget feed" in listing.stdout and feed in listing.stdout and "3 articles taken" in listing.stdout
    assert "last check 20" in listing.stdout and "last error" not in listing.stdout

    update = byline("update", env=news_env)
    assert update.returncode == 0 and "unchanged  Gadget feed: not modified" in update.stdout

    links = byline("add", site.url("/news/mhrag-0412"), site.url("/news/missing"), "ftp://x.example/a", env=news_env)
    assert links.returncode == 0, links.stderr
    assert "added      Billie Jean King" in links.stdout and "Fortune" in links.stdout
    assert f"failed     {site.url('/news/missing')}: not found (404" in links.stderr
    assert "not an http:// or https:// address" in links.stderr and "Traceback" not in links.stderr

    removed = byline("remove", site.url("/news/mhrag-0412") + "?utm_medium=email", env=news_env)
    assert removed.returncode == 0 and "Removed Billie Jean King" in removed.stdout
    sources = byline("sources", env=news_env, timeout=120)
    assert "3 articles" in sources.stdout and "Billie Jean King" not in sources.stdout
    assert "TechCrunch" in sources.stdout

    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "q1",
                "question": "What happened to Beeper Mini after Apple's attempt to shut it down?",
                "evidence": [{"excerpt": "Beeper Mini, the app bringing blue bubble iMessage texts to Android users"}],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "results.jsonl"
    evaluated = byline("eval", "--questions", str(questions), "--output", str(output), env=news_env)
    assert evaluated.returncode == 0, evaluated.stderr
    [record] = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert record["id"] == "q1" and record["passages"]
    top = record["passages"][0]
    assert top["outlet"] == "TechCrunch" and top["url"] == site.url("/news/mhrag-0402")
    citations = record["answer"]["citations"]
    assert citations and all({"url", "outlet", "article_id", "excerpt"} <= set(c) for c in citations)

    del site.routes["/feed.xml"]
    failing = byline("update", env=news_env, timeout=120)
    assert failing.returncode == 1, "nothing could be done: the only feed failed"
    assert "failed     Gadget feed:" in failing.stderr and "not found (404" in failing.stderr

    purged = byline("feeds", "remove", feed, "--purge", env=news_env)
    assert purged.returncode == 0 and "No longer following Gadget feed" in purged.stdout
    assert "Removed the 3 articles" in purged.stdout
    emptied = byline("sources", env=news_env, timeout=120)
    assert emptied.returncode == 0 and emptied.stdout.startswith("0 articles"), "the index no longer serves them"


def test_commands_explain_themselves() -> None:
    for command in (["feeds", "add"], ["feeds", "list"], ["feeds", "remove"], ["add"], ["update"], ["remove"]):
        shown = byline(*command, "--help", timeout=120)
        assert shown.returncode == 0 and "Usage" in shown.stdout
    assert "--purge" in byline("feeds", "remove", "--help", timeout=120).stdout
    assert "--name" in byline("feeds", "add", "--help", timeout=120).stdout


def test_update_with_no_feeds_says_so(news_env: dict[str, str]) -> None:
    result = byline("update", env=news_env, timeout=120)
    assert result.returncode == 0 and "No feeds are followed" in result.stdout
