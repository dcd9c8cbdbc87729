"""The `byline` command line: index, ask, sources, eval."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from tqdm import tqdm

from bot.answer_model import answer_record, source_name
from bot.cli_ingest import CliHelpers
from bot.cli_ingest import register as register_ingest_commands
from bot.evaluation import RetrievalMetrics, read_questions
from bot.render_text import render_answer
from bot.service import Byline, QuestionError, ReindexOutcome
from bot.settings import (
    AnswerSettings,
    DiscordSettings,
    IndexSettings,
    SettingsError,
    default_data_dir,
    env_example,
    load_section,
    parse_day,
)
from bot.wording import build_progress_line, counted, progress, report_line
from corpus.errors import BylineError, Remedy
from embeddings.indexer import BuildProgress, BuildReport
from embeddings.store import IndexUnavailableError

# No locals in tracebacks: they could show the bot token.
app = typer.Typer(
    pretty_exceptions_show_locals=False,
    add_completion=False,
    no_args_is_help=True,
    help="Answer questions about news coverage, with citations.",
)

REMEDIES = {
    Remedy.REINDEX: "Run `byline index` to rebuild it.",
    Remedy.RETRY_LATER: "Try again when it has finished.",
}


def error_line(error: BylineError) -> str:
    """An expected error as one line, with what to do about it in this face's words."""
    remedy = REMEDIES.get(error.remedy)
    return f"{error} {remedy}" if remedy else str(error)


CorpusOption = typer.Option(
    None, "--corpus", help="Folder (or file) of articles; default: BYLINE_CORPUS_PATH or the bundled corpus."
)
IndexOption = typer.Option(None, "--index", help="Index folder; default: BYLINE_INDEX_PATH.")


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a user's mistake as one clear line and exit 2, instead of a traceback."""
    try:
        yield
    except BylineError as error:
        typer.secho(f"error: {error_line(error)}", fg="red", err=True)
        raise typer.Exit(2) from None


def make_byline(
    corpus: Path | None = None, index: Path | None = None, with_library: bool = True, **answer: object
) -> Byline:
    index_settings = load_section(IndexSettings, corpus_path=corpus, index_path=index)
    answer_settings = load_section(AnswerSettings, **answer)
    return Byline(
        index_settings,
        answer_settings,
        with_library=with_library,
        index_path_setting="--index" if index else "BYLINE_INDEX_PATH",
    )


class ProgressBar:
    """A terminal progress bar over articles, from the first second: read, chunked, embedded, rates, ETA."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def __call__(self, build: BuildProgress) -> None:
        if self._bar is None:
            self._bar = tqdm(
                unit="article", desc="Indexing", file=sys.stderr, disable=None, bar_format="{desc}: {postfix}"
            )
        self._bar.set_postfix_str(build_progress_line(build), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_index(byline: Byline, only_if_missing: bool = False, before_answer: bool = False) -> ReindexOutcome | None:
    """Build or update the index; before an answer, report on stderr, and only when something changed."""
    bar = ProgressBar()
    try:
        outcome = byline.ensure_index(bar) if only_if_missing else byline.reindex(bar)
    finally:
        bar.close()
    if outcome is None or (before_answer and not _changed(outcome.report)):
        return outcome
    for skipped in outcome.skipped:
        typer.secho(f"skipped {skipped}", fg="yellow", err=True)
    for note in outcome.notes:
        typer.secho(f"note: {note}", fg="cyan", err=True)
    typer.echo(f"Indexed {byline.corpus_path}: {report_line(outcome.report)}", err=only_if_missing or before_answer)
    return outcome


def _changed(report: BuildReport) -> bool:
    return bool(report.added or report.changed or report.removed)


@app.command()
def index(corpus: Path | None = CorpusOption, index: Path | None = IndexOption) -> None:
    """Build or update the index from the corpus (only new and changed articles are embedded)."""
    with user_errors():
        run_index(make_byline(corpus, index))


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question, in quotes."),
    outlet: str | None = typer.Option(None, help="Only passages from this outlet."),
    author: str | None = typer.Option(None, help="Only articles by this author (any case; part of a name will do)."),
    since: str | None = typer.Option(None, help="Only articles published on or after this date (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, help="Only articles published on or before this date (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as one JSON object."),
    corpus: Path | None = CorpusOption,
    index: Path | None = IndexOption,
) -> None:
    """Answer a question with a short cited answer and its sources."""
    with user_errors():
        since_day, until_day = parse_day(since, "--since"), parse_day(until, "--until")
        byline = make_byline(corpus, index)
        byline.clean_question(question)
        # A corpus named here is what the answer should come from: bring the index up to date with it.
        run_index(byline, only_if_missing=corpus is None, before_answer=True)
        answer = byline.ask(question, outlet=outlet, since=since_day, until=until_day, author=author)
    typer.echo(json.dumps(answer_record(answer), ensure_ascii=False) if as_json else render_answer(answer))


@app.command()
def sources(corpus: Path | None = CorpusOption, index: Path | None = IndexOption) -> None:
    """List the indexed articles, newest first."""
    with user_errors():
        byline = make_byline(corpus, index)
        status = byline.status()
        typer.echo(
            f"{counted(status.articles, 'article')}, {counted(status.chunks, 'chunk')}, "
            f"{counted(status.outlets, 'outlet')}; model {status.model}; built {status.built_at}"
        )
        for article in byline.sources():
            day = article.date_label or "undated"
            typer.echo(f"{day}  {source_name(article) or '-'}  {article.title or article.id}  [{article.id}]")


@app.command("eval")
def evaluate(
    questions: Path = typer.Option(..., exists=True, dir_okay=False, help="Questions JSONL."),
    output: Path = typer.Option(..., help="Where to write one JSON object per question."),
    articles: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Articles JSONL (MultiHop-RAG fields) to index and evaluate on; without it, the configured index "
        "as it stands (corpus folder, feeds and links).",
    ),
    index: Path | None = typer.Option(None, help="Index folder (with --articles: reused when unchanged)."),
) -> None:
    """Answer every question, write the results and print retrieval metrics (indexing --articles first if given)."""
    with user_errors():
        if articles is not None:
            index = index or default_data_dir() / "eval" / articles.stem
            byline = make_byline(articles, index, with_library=False, top_k=10)
        else:
            byline = make_byline(index=index, top_k=10)
        try:
            records = read_questions(questions)
        except (OSError, ValueError) as error:
            raise QuestionError(str(error)) from error
        started = time.monotonic()
        if articles is not None:
            run_index(byline)
        else:
            byline.searcher()  # the index as it stands: IndexMissingError when there is none
        index_seconds = time.monotonic() - started
        metrics, timings = _answer_all(byline, records, output)
    _print_metrics(metrics, index_seconds, timings)


def _answer_all(byline: Byline, records: list[dict], output: Path) -> tuple[RetrievalMetrics, list[float]]:
    metrics = RetrievalMetrics()
    timings: list[float] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        for record in tqdm(records, desc="Questions", unit="q", file=sys.stderr, disable=None):
            started = time.perf_counter()
            answer = byline.ask(str(record["question"]))
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            line = {**answer_record(answer, record.get("id")), "elapsed_ms": round(elapsed * 1000, 2)}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            metrics.add_answer(answer, record)
    return metrics, timings


def _print_metrics(metrics: RetrievalMetrics, index_seconds: float, timings: list[float]) -> None:
    typer.echo(f"Indexing: {index_seconds:.1f} s")
    if timings:
        p50, p90, p99 = (percentile(timings, share) * 1000 for share in (0.5, 0.9, 0.99))
        typer.echo(
            f"Time per question (search and answer, question embedding included): p50 {p50:.1f} ms, "
            f"p90 {p90:.1f} ms, p99 {p99:.1f} ms over {counted(len(timings), 'question')}"
        )
    if metrics.questions:
        _print_row("all", metrics)
        for question_type, part in sorted(metrics.by_type.items()):
            _print_row(question_type, part)
    else:
        typer.echo("No question has gold evidence: retrieval metrics not computed.")
    if metrics.null_questions:
        typer.echo(
            f"Refused {progress(metrics.null_refused, metrics.null_questions, 'question')} without evidence "
            "(null queries)."
        )


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile of `values` (nearest rank, as latency percentiles are usually given)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _print_row(label: str, metrics: RetrievalMetrics) -> None:
    row = metrics.row()
    typer.echo(
        f"{label:18s} n={row['questions']:4d}  Hits@4 {row['hits@4']:.3f}  Hits@10 {row['hits@10']:.3f}  "
        f"MRR@10 {row['mrr@10']:.3f}  evidence recall@10 {row['evidence_recall@10']:.3f}  "
        f"citations with gold {row['citations_with_gold']:.3f}  gold evidence cited {row['gold_cited_share']:.3f}  "
        f"refused {row['refused_answerable']:.3f}"
    )


@app.command()
def feedback(
    since: str | None = typer.Option(None, help="Only votes cast or changed on or after this date (YYYY-MM-DD, UTC)."),
    index: Path | None = IndexOption,
) -> None:
    """Print the 👍/👎 feedback on Discord answers as JSONL, one vote per line, in the order of their last change."""
    with user_errors():
        since_day = parse_day(since, "--since")
        byline = make_byline(index=index)
        for record in byline.answers.feedback(since_day):
            typer.echo(json.dumps(record, ensure_ascii=False))


@app.command()
def run() -> None:
    """Start the Discord bot (needs BYLINE_DISCORD_TOKEN)."""
    from bot.runner import serve

    with user_errors():
        settings = load_section(DiscordSettings)
        if settings.token is None or not settings.token.get_secret_value().strip():
            raise SettingsError(
                "BYLINE_DISCORD_TOKEN is not set. Create a bot in the Discord developer portal, copy its token "
                "into .env as BYLINE_DISCORD_TOKEN=..., and start again (see the README)."
            )
        byline = make_byline()
        try:
            run_index(byline, only_if_missing=True)
        except IndexUnavailableError as error:
            typer.secho(f"warning: {error} The bot starts anyway; an admin can /reindex.", fg="yellow", err=True)
        raise typer.Exit(serve(byline, settings))


@app.command()
def healthcheck(
    max_age: float = typer.Option(90.0, help="Seconds after which the bot's heartbeat counts as stale."),
) -> None:
    """Exit 0 when the bot is connected and the index can be loaded, 1 (with the reason) otherwise."""
    from bot.health import heartbeat_problem, index_problem

    with user_errors():
        discord_settings = load_section(DiscordSettings)
        byline = make_byline()
        problems = [
            heartbeat_problem(discord_settings.heartbeat_file, max_age),
            index_problem(byline.index_settings.index_path, byline.index_settings.model, byline.chunker_settings),
        ]
    problems = [p for p in problems if p]
    for problem in problems:
        typer.echo(f"unhealthy: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("healthy")


@app.command("env-example")
def print_env_example() -> None:
    """Print every setting with its description and default (the text of .env.example)."""
    typer.echo(env_example(), nl=False)


# The news-taking commands (feeds, add, update, remove) live in their own module.
register_ingest_commands(app, CliHelpers(user_errors=user_errors, make_byline=make_byline, index_bar=ProgressBar))

if __name__ == "__main__":
    app()
