"""The `byline` commands that take in news: feeds add/list/remove, add, update, remove.

bot/cli.py registers them on its app, handing over its shared helpers (this module does not import
it, so `python -m bot.cli` loads it once). Everything the command line adds is shared by every
Discord server the bot is in (tenant ""); listing, updating and removing see every server's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import typer
from tqdm import tqdm

from bot.ingest import FeedAdded, Indexed, IngestService
from bot.service import Byline
from bot.settings import FeedsSettings, FetchSettings, load_section
from bot.wording import counted, report_line
from corpus.ingest import FeedCheck, FetchProgress, LinkOutcome
from corpus.library import FeedRecord
from embeddings.indexer import BuildProgress

feeds_app = typer.Typer(no_args_is_help=True, help="Follow RSS/Atom feeds: add, list, remove.")


class IndexBar(Protocol):
    """What bot/cli.py's index progress bar offers."""

    def __call__(self, progress: BuildProgress, /) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CliHelpers:
    """The main command line's own pieces: its error handling, its Byline and its index progress bar."""

    user_errors: Callable[[], AbstractContextManager[None]]
    make_byline: Callable[[], Byline]
    index_bar: Callable[[], IndexBar]


_helpers: CliHelpers | None = None


def helpers() -> CliHelpers:
    assert _helpers is not None, "register() hands the command line's helpers over first"
    return _helpers


def user_errors() -> AbstractContextManager[None]:
    return helpers().user_errors()


def make_ingest() -> IngestService:
    fetch = load_section(FetchSettings)
    feeds = load_section(FeedsSettings)
    return IngestService(helpers().make_byline(), fetch, feeds)


class FetchBar:
    """A terminal progress bar over links, feeds or a feed's new entries, naming the latest address."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._stage = ""

    def __call__(self, progress: FetchProgress) -> None:
        if progress.stage == "entry" and self._stage == "feed":
            if self._bar is not None:
                self._bar.set_postfix_str(_short(progress.url), refresh=True)
            return
        if self._bar is None or progress.stage != self._stage or progress.total != self._bar.total:
            self.close()
            units = {"link": "link", "feed": "feed", "entry": "entry"}
            self._bar = tqdm(
                total=progress.total, unit=units[progress.stage], desc="Fetching", file=sys.stderr, disable=None
            )
            self._stage = progress.stage
        self._bar.n = progress.done
        self._bar.set_postfix_str(_short(progress.url), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def progress_bars() -> Iterator[tuple[FetchBar, IndexBar]]:
    fetch, index = FetchBar(), helpers().index_bar()
    try:
        yield fetch, index
    finally:
        fetch.close()
        index.close()


@feeds_app.command("add")
def feeds_add(
    url: str = typer.Argument(..., help="The feed's address, or a web page that advertises a feed."),
    name: str = typer.Option("", "--name", help="A name for the feed; default: the feed's own title."),
) -> None:
    """Follow an RSS/Atom feed: fetch it and its articles at once and index them."""
    with user_errors():
        ingest = make_ingest()
        with progress_bars() as (fetch_bar, index_bar):
            result: FeedAdded = ingest.add_feed(url, name, fetch_progress=fetch_bar, index_progress=index_bar)
    assert result.check is not None
    typer.echo(f"Following {result.check.feed.name} ({result.check.feed.url})")
    _print_check(result.check, show_status=False)
    _print_index(result)


@feeds_app.command("list")
def feeds_list() -> None:
    """Each followed feed: name, address, last check, last new article, articles taken, last error."""
    with user_errors():
        feeds = make_ingest().feeds(None)
    if not feeds:
        typer.echo("No feeds are followed. Add one with `byline feeds add URL`.")
        return
    for feed in feeds:
        typer.echo(_feed_block(feed))


@feeds_app.command("remove")
def feeds_remove(
    url: str = typer.Argument(..., help="The feed's address, as `byline feeds list` shows it."),
    purge: bool = typer.Option(False, "--purge", help="Also remove the articles the feed brought in."),
) -> None:
    """Stop following a feed; its articles stay in the index unless --purge is given."""
    with user_errors():
        ingest = make_ingest()
        with progress_bars() as (_, index_bar):
            result = ingest.remove_feed(url, tenant=None, purge=purge, index_progress=index_bar)
    for feed in result.feeds:
        typer.echo(f"No longer following {feed.name} ({feed.url}){_server(feed.tenant)}.")
    if purge:
        typer.echo(f"Removed the {counted(result.purged, 'article')} it brought in.")
    else:
        typer.echo("Its articles stay in the index (remove them with --purge).")
    _print_index(result)


def add(urls: list[str] = typer.Argument(..., help="Addresses of article pages (or feeds).")) -> None:
    """Fetch article pages and index them; an address that is a feed is followed as with `feeds add`."""
    with user_errors():
        ingest = make_ingest()
        with progress_bars() as (fetch_bar, index_bar):
            result = ingest.add_links(urls, fetch_progress=fetch_bar, index_progress=index_bar)
    for outcome in result.outcomes:
        typer.echo(_outcome_line(outcome), err=outcome.error is not None)
        if outcome.feed is not None:
            _print_check(outcome.feed, show_status=False)
    _print_index(result)
    if all(outcome.error is not None for outcome in result.outcomes):
        raise typer.Exit(1)


def update() -> None:
    """Check every followed feed once and index what is new: one line per feed (new, unchanged, failed)."""
    with user_errors():
        ingest = make_ingest()
        with progress_bars() as (fetch_bar, index_bar):
            result = ingest.update(None, fetch_progress=fetch_bar, index_progress=index_bar)
    if not result.checks:
        typer.echo("No feeds are followed. Add one with `byline feeds add URL`.")
        return
    for check in result.checks:
        _print_check(check, show_status=True)
    _print_index(result)
    if result.all_failed:
        raise typer.Exit(1)


def remove(
    article: str = typer.Argument(
        ..., metavar="ARTICLE_ID|URL", help="An article id (see `byline sources`) or its address."
    ),
) -> None:
    """Take one fetched, linked or uploaded article out of the index (feeds will not bring it back)."""
    with user_errors():
        ingest = make_ingest()
        with progress_bars() as (_, index_bar):
            result = ingest.remove(article, tenant=None, index_progress=index_bar)
    for stored in result.removed:
        item = stored.article
        typer.echo(f"Removed {item.title or item.id} — {item.outlet or '-'} [{item.id}]{_server(item.tenant)}")
    _print_index(result)


# --- wording


def _print_check(check: FeedCheck, show_status: bool) -> None:
    name = check.feed.name or check.feed.url
    if check.status == "failed":
        line = f"failed     {name}: {check.error}"
    elif check.status == "new":
        line = f"new        {name}: {_count(len(check.added), 'new article')}{_details(check)}"
    else:
        reason = "not modified" if check.not_modified else "no new articles"
        line = f"unchanged  {name}: {reason}{_details(check)}"
    if show_status:
        typer.echo(line, err=check.status == "failed")
    elif check.status != "failed":
        typer.echo(line.split(None, 1)[1])
    for failure in check.failures:
        typer.echo(f"    skipped entry: {failure.reason}", err=True)


def _details(check: FeedCheck) -> str:
    parts = []
    if check.from_feed_text:
        parts.append(f"{check.from_feed_text} from the feed's own text (the page gave no article)")
    also = sum(1 for d in check.duplicates if not d.same_page)
    if also:
        parts.append(f"{_count(also, 'copy')} of stories kept already (now listed as also in)")
    if check.failures:
        parts.append(f"{_count(len(check.failures), 'entry')} failed")
    if check.left_for_later:
        parts.append(f"{check.left_for_later:,} more new entries wait for later checks (at most {check.cap} per check)")
    return f" ({'; '.join(parts)})" if parts else ""


def _outcome_line(outcome: LinkOutcome) -> str:
    if outcome.error is not None:
        return f"failed     {outcome.error}"
    if outcome.added is not None:
        article = outcome.added
        return f"added      {article.title or article.url} — {article.outlet or '-'} [{article.id}]"
    if outcome.duplicate is not None:
        duplicate = outcome.duplicate
        kept = f"{duplicate.kept_title or duplicate.kept_id} [{duplicate.kept_id}]"
        if duplicate.same_page:
            return f"known      {outcome.url}: already indexed as {kept}"
        return f"also in    {outcome.url}: the same story as {kept}, now listed as also in"
    assert outcome.feed is not None
    return f"feed       {outcome.url}: now following {outcome.feed.feed.name}"


def _print_index(result: Indexed) -> None:
    if result.index is not None:
        typer.echo(f"Index: {report_line(result.index.report)}")
    elif result.index_pending:
        typer.echo("Index: another build is running; what was stored is indexed by the next build.", err=True)


def _feed_block(feed: FeedRecord) -> str:
    lines = [
        f"{feed.name or feed.url}{_server(feed.tenant)}",
        f"    {feed.url}",
        f"    last check {_when(feed.last_checked_at)}, last new article {_when(feed.last_new_at)}, "
        f"{_count(feed.articles_taken, 'article')} taken",
    ]
    if feed.last_error:
        lines.append(f"    last error: {feed.last_error}")
    return "\n".join(lines)


def _server(tenant: str) -> str:
    return f" (Discord server {tenant})" if tenant else ""


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n:,} {noun if n == 1 else plural}"


def _short(url: str, limit: int = 60) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


def register(app: typer.Typer, cli_helpers: CliHelpers) -> None:
    global _helpers
    _helpers = cli_helpers
    app.add_typer(feeds_app, name="feeds")
    app.command("add")(add)
    app.command("update")(update)
    app.command("remove")(remove)
