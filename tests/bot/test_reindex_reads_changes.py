"""A reindex reads only the corpus files whose size or modification time changed since they were last read
(corpus/readers/recorded.py), through the real service, model and index: what changed, went or moved is
indexed exactly as a full read would index it, and an unchanged file is not read at all."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bot.service import CORPUS_RECORDS_FILE, Byline
from corpus.readers.recorded import RECORDS_FORMAT
from embeddings.encoder import Encoder
from tests.conftest import make_byline, news_files, write_corpus

HOUR = 3600


def age(folder: Path, seconds: int = HOUR) -> None:
    """Date every file of `folder` back, as files written long before a reindex are (a file modified just
    before it is read is read again next time: its timestamp may not show a change made within its resolution)."""
    then = time.time() - seconds
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def jsonl(*records: dict[str, str]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def record(article_id: str, title: str, body: str | None = None) -> dict[str, str]:
    return {"id": article_id, "title": title, "body": body or f"{title}. Officials confirmed it on Monday."}


def titles(byline: Byline) -> dict[str, str]:
    return {article.id: article.title for article in byline.sources()}


def test_a_reindex_reads_the_changed_file_only(encoder: Encoder, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    write_corpus(corpus, {"wire.jsonl": jsonl(record("dam", "Dam Opens in Laos"), record("port", "Port Reopens"))})
    age(corpus)
    byline = make_byline(encoder, corpus, tmp_path / "index")
    first = byline.reindex()
    assert first.files_read == len(news_files()) + 1

    # Same size, same modification time, other bytes: a file whose stamp is unchanged is not read again.
    wire = corpus / "wire.jsonl"
    stamp = wire.stat()
    wire.write_text(wire.read_text().replace("Port Reopens", "Port Shuts!!"), encoding="utf-8")
    os.utime(wire, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    write_corpus(corpus, {"zz-new.jsonl": jsonl(record("bridge", "Bridge Closes for Repairs"))})

    added = byline.reindex()

    assert added.files_read == 1, "only the new file is read"
    assert added.report.added == ["bridge"] and added.report.changed == [] and added.report.removed == []
    assert added.report.unchanged == len(news_files()) + 2
    assert titles(byline)["port"] == "Port Reopens"

    age(corpus, seconds=HOUR // 2)  # a new modification time: the file is read again
    changed = byline.reindex()

    assert changed.files_read == len(news_files()) + 2
    assert changed.report.changed == ["port"] and changed.report.added == []
    assert titles(byline)["port"] == "Port Shuts!!"


def test_changed_removed_and_moved_articles_of_read_files_are_indexed_as_a_full_read_would(
    encoder: Encoder, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    write_corpus(
        corpus,
        {
            "a.jsonl": jsonl(record("dam", "Dam Opens in Laos"), record("port", "Port Reopens")),
            "b.jsonl": jsonl(record("mine", "Mine Closes")),
            "c.jsonl": jsonl(record("farm", "Farm Floods")),
        },
    )
    age(corpus)
    byline = make_byline(encoder, corpus, tmp_path / "index")
    byline.reindex()

    # "port" moves from a.jsonl to c.jsonl unchanged, "dam" changes, b.jsonl goes; the news files stay.
    write_corpus(
        corpus,
        {
            "a.jsonl": jsonl(record("dam", "Dam Opens in Laos After Delays")),
            "c.jsonl": jsonl(record("farm", "Farm Floods"), record("port", "Port Reopens")),
        },
    )
    (corpus / "b.jsonl").unlink()
    outcome = byline.reindex()

    assert outcome.files_read == 2
    assert outcome.report.changed == ["dam"] and outcome.report.removed == ["mine"] and outcome.report.added == []
    full = make_byline(encoder, corpus, tmp_path / "full-read")
    full.reindex()
    assert hashes(byline) == hashes(full), "the same articles as a build that read every file"
    assert titles(byline)["dam"] == "Dam Opens in Laos After Delays" and "mine" not in titles(byline)


def test_an_unchanged_files_article_takes_over_its_id_when_the_indexed_one_goes(
    encoder: Encoder, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    write_corpus(corpus, {"zz-wire.jsonl": jsonl(record("wire-1", "Dam Opens in Laos"))})
    age(corpus)
    byline = make_byline(encoder, corpus, tmp_path / "index")
    byline.reindex()
    write_corpus(corpus, {"aa-copy.jsonl": jsonl(record("wire-1", "Dam Opening Delayed"))})  # sorts first
    age(corpus)
    clash = byline.reindex()
    assert titles(byline)["wire-1"] == "Dam Opens in Laos", "the indexed article keeps its id"
    assert [str(s).removeprefix(f"{corpus}/") for s in clash.skipped] == [
        "aa-copy.jsonl: duplicate article id 'wire-1' (kept the article from zz-wire.jsonl, the indexed one)"
    ]

    (corpus / "zz-wire.jsonl").unlink()
    outcome = byline.reindex()

    assert outcome.files_read == 0, "aa-copy.jsonl is unchanged: its article comes from its record, then its file"
    assert outcome.report.changed == ["wire-1"] and outcome.skipped == []
    assert titles(byline)["wire-1"] == "Dam Opening Delayed"
    assert byline.searcher().snapshot.source_files()["wire-1"] == "aa-copy.jsonl"


def hashes(byline: Byline) -> dict[str, str]:
    return {article.id: article.content_hash for article in byline.sources()}


def test_records_of_the_older_format_are_read_again_once_not_misread(encoder: Encoder, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", news_files())
    age(corpus)
    byline = make_byline(encoder, corpus, tmp_path / "index")
    assert byline.reindex().files_read == len(news_files())
    # As format 1 recorded them: no title or tenant for each article.
    records_file = tmp_path / "index" / CORPUS_RECORDS_FILE
    data = json.loads(records_file.read_text(encoding="utf-8"))
    data["scope"] = data["scope"].replace(f"{RECORDS_FORMAT}\x00", "1\x00", 1)
    for file in data["files"].values():
        file["articles"] = [fields[:5] for fields in file["articles"]]
    records_file.write_text(json.dumps(data), encoding="utf-8")
    age(corpus)

    again = byline.reindex()

    assert again.files_read == len(news_files()), "every file is read again"
    assert again.report.unchanged == len(news_files()) and again.report.changed == []
    assert byline.reindex().files_read == 0
    recorded = json.loads(records_file.read_text(encoding="utf-8"))["files"].values()
    assert {fields[5] for file in recorded for fields in file["articles"]} == set(titles(byline).values())
