"""Taking in news, in Discord's words: progress lines, one line per link/feed/entry outcome, the feed
list, the headline digest and the feed fields of /status, all within Discord's limits.

Everything from the web or an upload (titles, outlets, reasons, addresses) is escaped with `safe()`:
it shows as written and pings nobody.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.ingest import FeedAdded, FeedRemoved, FeedsOverview, Indexed, LinksAdded
from bot.render_discord import ACCENT, DESCRIPTION_LIMIT, FIELD_VALUE_LIMIT, safe, shorten
from corpus.ingest import Duplicate, FeedCheck, FetchProgress, LinkOutcome
from corpus.library import FeedRecord
from corpus.models import Article
from embeddings.indexer import BuildProgress

TITLE_CHARS = 150
REASON_CHARS = 300
ADDRESS_CHARS = 120
DIGEST_HEADLINES = 10
FEEDS_PER_PAGE = 8
_STAGES = {"link": "links", "feed": "feeds", "entry": "new entries"}


# --- progress


def fetch_progress_line(progress: FetchProgress) -> str:
    return f"Fetching: {progress.done:,}/{progress.total:,} {_STAGES[progress.stage]} ({_address(progress.url)})"


def index_progress_line(progress: BuildProgress) -> str:
    return (
        f"Indexing: {progress.articles_done:,}/{progress.articles_total:,} articles, "
        f"{progress.chunks_done:,}/{progress.chunks_total:,} chunks ({progress.chunks_per_second:.1f} chunks/s)"
    )


# --- results


def feed_added_embed(result: FeedAdded) -> discord.Embed:
    assert result.check is not None
    feed = result.check.feed
    lines = [f"Now following **{safe(feed.name or feed.url)}** ({_address(feed.url)})", *check_lines(result.check)]
    return _report("Feed added", lines, result)


def links_added_embed(result: LinksAdded, title: str) -> discord.Embed:
    lines: list[str] = []
    for outcome in result.outcomes:
        lines.append(outcome_line(outcome))
        if outcome.feed is not None:
            lines.extend(check_lines(outcome.feed))
    return _report(title, lines, result)


def feed_removed_embed(result: FeedRemoved, purge: bool) -> discord.Embed:
    lines = [f"No longer following **{safe(feed.name or feed.url)}** ({_address(feed.url)})" for feed in result.feeds]
    if purge:
        lines.append(f"Removed the {_count(result.purged, 'article')} it brought in.")
    else:
        lines.append("Its articles stay in the index (remove them too with purge).")
    return _report("Feed removed", lines, result)


def outcome_line(outcome: LinkOutcome) -> str:
    """One link's (or one uploaded article's) outcome."""
    if outcome.error is not None:
        return f"**failed** {_reason(outcome.error)}"
    if outcome.added is not None:
        return f"**added** {article_line(outcome.added)}"
    if outcome.duplicate is not None:
        return duplicate_line(outcome.duplicate)
    assert outcome.feed is not None
    return f"**feed** {_address(outcome.url)}: now following **{safe(outcome.feed.feed.name)}**"


def duplicate_line(duplicate: Duplicate) -> str:
    kept = f"“{safe(shorten(duplicate.kept_title or duplicate.kept_id, TITLE_CHARS))}”"
    if duplicate.same_page:
        return f"**known** {_address(duplicate.url)}: already indexed as {kept}"
    return f"**also in** {_address(duplicate.url)}: the same story as {kept}, now listed as also in"


def check_lines(check: FeedCheck) -> list[str]:
    """One line per entry a feed check took, found known, or could not take; then what waits."""
    if check.status == "failed":
        return [f"**failed** {_reason(check.error or 'unknown error')}"]
    lines = [f"**added** {article_line(article)}" for article in check.added]
    lines += [duplicate_line(duplicate) for duplicate in check.duplicates]
    lines += [f"**failed** {_reason(failure.reason)}" for failure in check.failures]
    if check.from_feed_text:
        lines.append(f"{_count(check.from_feed_text, 'article')} taken from the feed's own text (no article page).")
    if check.left_for_later:
        lines.append(
            f"{check.left_for_later:,} more new entries wait for later checks (at most {check.cap} per check)."
        )
    if not lines:
        lines.append("Nothing new: " + ("not modified." if check.not_modified else "no new entries."))
    return lines


def article_line(article: Article) -> str:
    """`date` headline (linked) — outlet."""
    title = safe(shorten(article.title or article.id, TITLE_CHARS))
    headline = f"[{title}](<{article.url}>)" if _linkable(article.url) else title
    outlet = safe(shorten(article.outlet, 80)) if article.outlet else "unknown outlet"
    return f"`{article.date_label or 'undated'}` {headline} — {outlet}"


def _report(title: str, lines: list[str], result: Indexed) -> discord.Embed:
    embed = discord.Embed(title=title, colour=ACCENT, description=fit_lines(lines, DESCRIPTION_LIMIT))
    embed.add_field(name="Index", value=index_line(result), inline=False)
    return embed


def index_line(result: Indexed) -> str:
    """How the index took the change, without figures about other servers' articles."""
    if result.index is not None:
        return f"Updated in {result.index.report.seconds:.1f} s: the new articles can be asked about now."
    if result.index_pending:
        return "Another index build is running; what was stored is indexed by the next build."
    return "Nothing new to index."


def fit_lines(lines: list[str], limit: int) -> str:
    """As many whole lines as fit in `limit` characters, then "… and N more"."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index - 1
        tail = len(f"\n… and {rest:,} more") if rest else 0
        if used + len(line) + 1 + tail > limit:
            kept.append(f"… and {len(lines) - index:,} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept) or "Nothing to report."


# --- the feed list


def feeds_list_embed(own: list[FeedRecord], shared: list[FeedRecord], page: int, pages: int) -> discord.Embed:
    """Page `page` of this server's feeds, and the shared feeds every server's answers draw on."""
    shown = own[page * FEEDS_PER_PAGE : (page + 1) * FEEDS_PER_PAGE]
    blocks = [feed_block(feed) for feed in shown]
    description = "\n\n".join(blocks) if blocks else "This server follows no feeds yet: add one with /feeds add."
    embed = discord.Embed(
        title=f"Feeds of this server ({len(own):,})",
        colour=ACCENT,
        description=shorten(description, DESCRIPTION_LIMIT),
    )
    if shared:
        names = [f"{safe(shorten(f.name or f.url, 80))}{' (failing)' if f.last_error else ''}" for f in shared]
        embed.add_field(
            name=f"Shared feeds ({len(shared):,}), answered in every server",
            value=fit_lines(names, FIELD_VALUE_LIMIT),
            inline=False,
        )
    if pages > 1:
        embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed


def feed_block(feed: FeedRecord) -> str:
    lines = [
        f"**{safe(shorten(feed.name or feed.url, TITLE_CHARS))}** — {_address(feed.url)}",
        f"last check {when(feed.last_checked_at)} · last new article {when(feed.last_new_at)} · "
        f"{_count(feed.articles_taken, 'article')} taken",
    ]
    if feed.last_error:
        lines.append(f"last error: {_reason(feed.last_error)}")
    return "\n".join(lines)


# --- the digest and /status


def digest_embed(articles: list[Article]) -> discord.Embed:
    """The headlines a feed check brought in, newest first."""
    newest = sorted(
        articles, key=lambda a: (a.published is not None, a.published.timestamp() if a.published else 0), reverse=True
    )
    lines = [article_line(article) for article in newest[:DIGEST_HEADLINES]]
    if len(newest) > DIGEST_HEADLINES:
        lines.append(f"… and {len(newest) - DIGEST_HEADLINES:,} more")
    title = f"New in the index: {_count(len(articles), 'article')}"
    return discord.Embed(title=title, colour=ACCENT, description=fit_lines(lines, DESCRIPTION_LIMIT))


def status_feed_fields(
    overview: FeedsOverview | None,
    newest_article: datetime | None,
    next_check: datetime | None,
    checks_enabled: bool = True,
) -> list[tuple[str, str]]:
    """(name, value) fields for /status: feeds and failing ones, last and next check, newest article."""
    fields = [("Newest article", newest_article.date().isoformat() if newest_article else "none")]
    if overview is None:
        return fields
    failing = f", {overview.failing:,} failing (see /feeds list)" if overview.failing else ""
    fields.append(("Feeds", f"{overview.feeds:,}{failing}"))
    fields.append(("Last feed check", when(overview.last_check)))
    if overview.feeds:
        planned = when(next_check) if next_check else "soon"
        fields.append(("Next feed check", planned if checks_enabled else "off (BYLINE_FEEDS_INTERVAL_MINUTES is 0)"))
    return fields


# --- small pieces


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def _address(url: str) -> str:
    return safe(shorten(url, ADDRESS_CHARS))


def _reason(text: str) -> str:
    return safe(shorten(text, REASON_CHARS))


def _linkable(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 500 and not any(c in url for c in "<> ")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun if n == 1 else noun + 's'}"
