"""Hostile corpus files: each is skipped or repaired with a one-line reason, and never costs the
good articles beside it. Real files in temporary folders, read by the real loader."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.models import Article
from corpus.readers import CorpusLoad, CorpusOptions, load_corpus

GOOD_STORY = (
    "Port Strike Ends\n\nBy Omar Saleh 3 February 2024\n\nDock workers in Basra returned to work on Saturday.\n"
)
NOBODY = 65534


def write(folder: Path, name: str | bytes, content: str | bytes) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def record(number: int, **fields: object) -> dict[str, object]:
    return {"id": f"r-{number}", "title": f"Headline {number}", "body": f"Body of record {number}.", **fields}


def jsonl(*records: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in records)


def ids(load: CorpusLoad) -> list[str]:
    return [article.id for article in load.articles]


def reasons(load: CorpusLoad) -> dict[str, str]:
    return {entry.path.name: entry.reason for entry in load.skipped}


def assert_clean(article: Article) -> None:
    """No field can fail to encode, and none carries a control character."""
    for name in ("id", "title", "outlet", "author", "url", "caption", "source_file"):
        value = getattr(article, name)
        value.encode("utf-8")
        assert not any(ord(ch) < 0x20 and ch not in "\t\n\r" for ch in value), (name, value)
    for paragraph in article.paragraphs:
        paragraph.encode("utf-8")
    article.content_hash  # noqa: B018 - serialises every field


def assert_one_line(load: CorpusLoad) -> None:
    for entry in [*load.skipped, *load.notes]:
        line = str(entry)
        line.encode("utf-8")
        assert "\n" not in line and "\r" not in line, line


# --- 1. lone surrogates -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "title", "author", "source", "url", "body", "published_at"])
def test_a_lone_surrogate_in_any_json_field_is_replaced_and_reported(tmp_path: Path, field: str) -> None:
    bad = record(2, **{field: "bad \\ud800 text" if field != "published_at" else "\\udfff"})
    lines = [
        json.dumps(record(1)),
        json.dumps(bad).replace("\\\\ud800", "\\ud800").replace("\\\\udfff", "\\udfff"),
        json.dumps(record(3)),
    ]
    write(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    write(tmp_path, "story.txt", GOOD_STORY)

    load = load_corpus(tmp_path)

    assert len(load.articles) == 4  # nothing lost: the bad record is kept, repaired
    for article in load.articles:
        assert_clean(article)
    if field == "published_at":  # a date that is no date: kept undated, and said so
        [note] = load.notes
        assert "line 2" in str(note) and "not a date" in str(note)
    else:
        [note] = load.notes
        assert str(note).startswith(f"{tmp_path / 'feed.jsonl'}: line 2: 1 invalid character")
        assert "U+FFFD" in str(note)
    assert_one_line(load)


def test_surrogates_from_front_matter_escapes_and_undecodable_file_names(tmp_path: Path) -> None:
    write(tmp_path, "escaped.md", '---\ntitle: "Caf\\ud800 owners"\nauthor: "\\udcff"\n---\n\nBody \\ud800 kept.\n')
    write(tmp_path, b"caf\xe9-\xff.txt", GOOD_STORY)  # not UTF-8: Python names it with surrogates
    write(tmp_path, b"empty-\xfe.md", "")

    load = load_corpus(tmp_path)

    assert len(load.articles) == 2
    for article in load.articles:
        assert_clean(article)
    assert {article.source_file for article in load.articles} == {"caf\ufffd-\ufffd.txt", "escaped.md"}
    assert len(load.notes) == 2
    [skipped] = load.skipped
    assert str(skipped).endswith("empty-\\udcfe.md: empty file")  # printable, the bad byte shown
    assert_one_line(load)


TEXT_WITH_SURROGATES = st.text(
    st.one_of(st.characters(), st.characters(categories=["Cs"]), st.characters(max_codepoint=0x9F)), max_size=40
)


@given(title=TEXT_WITH_SURROGATES, body=TEXT_WITH_SURROGATES, article_id=TEXT_WITH_SURROGATES)
@settings(max_examples=300, deadline=None)
def test_no_article_can_carry_a_lone_surrogate_or_control_character(title: str, body: str, article_id: str) -> None:
    article = Article(id=article_id or "x", title=title, paragraphs=[body or "text", "more text"], source_file=title)
    assert_clean(article)
    assert Article.model_validate_json(article.model_dump_json()) == article
    article.author = title  # assignment is validated too
    assert_clean(article)


# --- 3. one bad line or record of a JSON file -----------------------------------------------

HUGE_NUMBER = "1" * 5000
DEEP = "[" * 200_000 + "]" * 200_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize(
    ("bad_line", "kept", "reason"),
    [
        (f'{{"id": "r-2", "body": "Huge number kept.", "views": {HUGE_NUMBER}}}', True, None),
        (f'{{"id": "r-2", "title": {HUGE_NUMBER}, "body": "Huge title number kept."}}', True, None),
        (f'{{"id": {HUGE_NUMBER}, "body": "Huge id kept."}}', True, None),
        (HUGE_NUMBER, False, "expected a JSON object, got a number"),
        (DEEP, False, "malformed JSON (nested too deeply to read)"),
        (DEEP_OBJECT, False, "malformed JSON (nested too deeply to read)"),
        ('{"id": "r-2", "body": "Deep title.", "title": ' + DEEP + "}", False, "nested too deeply"),
        ('{"id": "", "body": "\\u0000"}', True, None),
        ('{"id": "r-2", "body": ["not", "text"]}', False, "no body text"),
        ('{"id": "r-2", "body": "Nested title.", "title": {"a": [1, {"b": 2}]}}', True, None),
    ],
)
def test_one_bad_jsonl_line_costs_only_that_line(tmp_path: Path, bad_line: str, kept: bool, reason: str | None) -> None:
    write(tmp_path, "batch.jsonl", jsonl(record(1), bad_line, record(3)))

    load = load_corpus(tmp_path)

    assert ids(load)[0] == "r-1" and ids(load)[-1] == "r-3"
    assert len(load.articles) == (3 if kept else 2)
    if reason:
        [skipped] = load.skipped
        assert skipped.reason.startswith("line 2: ") and reason in skipped.reason
    else:
        assert load.skipped == []
    for article in load.articles:
        assert_clean(article)


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (b'{"id": "r-2", "body": "nul \x00 byte"}', "line 2: binary data, not text (NUL byte at column 28)"),
        (b'{"id": "r-2", "body": "caf\xe9"}', "line 2: not UTF-8 text (byte 0xe9 at column 27)"),
        (b"\xed\xa0\x80", "line 2: not UTF-8 text (byte 0xed at column 1)"),  # a UTF-8 encoded surrogate
    ],
)
def test_one_binary_or_undecodable_jsonl_line_costs_only_that_line(
    tmp_path: Path, bad_line: bytes, reason: str
) -> None:
    good = [json.dumps(record(number)).encode() for number in (1, 3)]
    write(tmp_path, "batch.jsonl", b"\n".join([good[0], bad_line, good[1]]) + b"\n")

    load = load_corpus(tmp_path)

    assert ids(load) == ["r-1", "r-3"]
    assert reasons(load) == {"batch.jsonl": reason}


def test_a_binary_file_named_jsonl_is_one_skipped_file(tmp_path: Path) -> None:
    write(tmp_path, "story.txt", GOOD_STORY)
    write(tmp_path, "photo.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x10\n" + bytes(range(256)) * 8)
    write(tmp_path, "junk.jsonl", "".join(f"not json {n}\n" for n in range(50)))

    load = load_corpus(tmp_path)

    assert ids(load) == ["story"]
    assert reasons(load) == {
        "photo.jsonl": "none of its 12 lines is an article (line 1: not UTF-8 text (byte 0x89 at column 1))",
        "junk.jsonl": "none of its 50 lines is an article (line 1: malformed JSON (Expecting value at column 1))",
    }


@pytest.mark.parametrize(
    ("content", "expected_ids", "reason"),
    [
        (f'[{json.dumps(record(1))}, {{"id": "r-2", "n": {HUGE_NUMBER}, "body": "Kept."}}]', ["r-1", "r-2"], None),
        (DEEP, [], "malformed JSON (nested too deeply to read)"),
        (f'{{"id": "one", "body": "Alone.", "x": {DEEP}}}', [], "malformed JSON (nested too deeply to read)"),
        (HUGE_NUMBER, [], "expected a JSON object or a list of objects, got a number"),
    ],
)
def test_bad_json_files_give_a_clear_reason_and_cost_nothing_else(
    tmp_path: Path, content: str, expected_ids: list[str], reason: str | None
) -> None:
    write(tmp_path, "data.json", content)
    write(tmp_path, "story.txt", GOOD_STORY)

    load = load_corpus(tmp_path)

    assert ids(load) == [*expected_ids, "story"]
    assert reasons(load) == ({"data.json": reason} if reason else {})


HOSTILE_LINES = st.one_of(
    st.text(max_size=60),
    st.sampled_from([HUGE_NUMBER, DEEP[:20_000] + DEEP[-20_000:], "{", "null", "[]", '"\\ud800"', "1e999999"]),
    st.builds(lambda value: json.dumps({"body": value}), st.text(max_size=20)),
    st.builds(lambda key: f'{{"id": "z", "{key}": {HUGE_NUMBER}, "body": "x"}}', st.sampled_from(["title", "n"])),
)


@given(bad_lines=st.lists(HOSTILE_LINES, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_hostile_jsonl_lines_never_cost_a_good_line(tmp_path: Path, bad_lines: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    lines = [json.dumps(record(1)), *(line.replace("\n", " ") for line in bad_lines), json.dumps(record(99))]
    write(folder, "batch.jsonl", "\n".join(lines) + "\n")

    load = load_corpus(folder)

    assert {"r-1", "r-99"} <= set(ids(load))
    for article in load.articles:
        assert_clean(article)
    assert_one_line(load)


# --- 4. symbolic links ------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the corpus, holding a secret and a folder of articles."""
    folder = tmp_path / "outside"
    write(folder, "secret.txt", "Secret Page\n\nroot:x:0:0:root:/root:/bin/bash daemon nologin.\n")
    write(folder, "more/extra.txt", GOOD_STORY.replace("Port Strike Ends", "Outside Story"))
    return folder


def test_links_out_of_the_corpus_are_skipped_and_named(tmp_path: Path, outside: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "story.txt", GOOD_STORY)
    (corpus / "passwd.txt").symlink_to(outside / "secret.txt")
    (corpus / "more").symlink_to(outside / "more")
    (corpus / "etc-passwd.txt").symlink_to("/etc/passwd")

    load = load_corpus(corpus)

    assert ids(load) == ["story"]
    skipped = reasons(load)
    assert skipped["passwd.txt"] == (
        f"symbolic link to a file outside the corpus folder ({outside / 'secret.txt'}); links out of it are not followed"
    )
    assert skipped["more"].startswith("symbolic link to a folder outside the corpus folder")
    assert "(/etc/passwd)" in skipped["etc-passwd.txt"]
    assert all("root:x" not in paragraph for article in load.articles for paragraph in article.paragraphs)


def test_links_out_are_followed_when_allowed(tmp_path: Path, outside: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "story.txt", GOOD_STORY)
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "more").symlink_to(outside / "more")
    (outside / "more" / "again").symlink_to(outside / "more")  # a loop out there

    load = load_corpus(corpus, CorpusOptions(follow_external_links=True))

    assert ids(load) == ["secret", "story", "more/extra"]
    assert [str(entry) for entry in load.skipped] == [
        f"{corpus / 'more' / 'again'}: symbolic link to a folder already read ({outside / 'more'}); not read twice"
    ]


def test_links_inside_the_corpus_are_read_once_and_loops_end(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "a/story.txt", GOOD_STORY)
    write(corpus, ".drafts/draft.txt", GOOD_STORY.replace("Port Strike Ends", "Draft"))
    (corpus / "alias.txt").symlink_to(corpus / "a" / "story.txt")
    (corpus / "published.txt").symlink_to(Path(".drafts") / "draft.txt")  # relative, to a hidden file
    (corpus / "a" / "up").symlink_to("..")  # a loop through the corpus itself
    (corpus / "self.txt").symlink_to("self.txt")  # a loop of one link
    (corpus / "gone.txt").symlink_to("nowhere.txt")

    load = load_corpus(corpus)

    assert ids(load) == ["published", "a/story"]
    assert reasons(load) == {
        "alias.txt": f"same file as {corpus / 'a' / 'story.txt'} (read once)",
        "self.txt": "broken symbolic link (a loop of symbolic links)",
        "gone.txt": "broken symbolic link (its target nowhere.txt does not exist)",
    }


def test_a_named_pipe_is_skipped_not_waited_on(tmp_path: Path) -> None:
    write(tmp_path, "story.txt", GOOD_STORY)
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "pipe-link.txt").symlink_to(tmp_path / "pipe.txt")
    loads: list[CorpusLoad] = []

    reader = threading.Thread(target=lambda: loads.append(load_corpus(tmp_path)), daemon=True)
    reader.start()
    reader.join(timeout=60)

    assert loads, "loading a corpus with a named pipe in it did not finish"
    assert ids(loads[0]) == ["story"]
    assert reasons(loads[0]) == {
        "pipe.txt": "not a regular file (a named pipe)",
        "pipe-link.txt": "not a regular file (a named pipe)",
    }


# --- 8. unreadable folders, UTF-16/32, dates, odd names, id clashes ---------------------------


def load_without_privileges(root: Path) -> tuple[list[str], dict[str, str]]:
    """load_corpus as an unprivileged user (root reads every folder whatever its permissions)."""
    if os.geteuid() != 0:
        load = load_corpus(root)
        return ids(load), reasons(load)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, load, report as JSON
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            load = load_corpus(root)
            payload = {"ids": ids(load), "reasons": reasons(load)}
        except BaseException as error:  # noqa: BLE001 - reported to the parent, which fails the test
            payload = {"error": repr(error)}
        os.write(write_end, json.dumps(payload).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert "error" not in payload, payload.get("error")
    return payload["ids"], payload["reasons"]


@pytest.fixture
def world_readable_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="byline-corpus-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_an_unreadable_subfolder_is_reported(world_readable_folder: Path) -> None:
    corpus = world_readable_folder
    write(corpus, "story.txt", GOOD_STORY).chmod(0o644)
    write(corpus, "locked/inside.txt", GOOD_STORY).chmod(0o644)
    (corpus / "locked").chmod(0o000)

    found, skipped = load_without_privileges(corpus)

    assert found == ["story"]
    assert skipped == {"locked": "cannot read folder (Permission denied)"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"])
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("story.txt", GOOD_STORY),
        ("story.md", "---\ntitle: Caf\u00e9 Reopens\ndate: 2024-02-03\n---\n\nThe caf\u00e9 reopened on Saturday.\n"),
        ("story.jsonl", json.dumps({"id": "story", "title": "Caf\u00e9", "body": "Caf\u00e9 text."}) + "\n"),
        (
            "story.html",
            "<html><head><title>Caf\u00e9 Reopens</title></head><body><article><p>"
            + "The caf\u00e9 in Tehran reopened on Saturday after months of repairs, its owner said. " * 4
            + "</p></article></body></html>",
        ),
        (
            "story.rss",
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Caf\u00e9 Wire</title><item>'
            "<guid>story</guid><title>Caf\u00e9</title><description>The caf\u00e9 reopened.</description>"
            "</item></channel></rss>",
        ),
    ],
)
def test_utf16_and_utf32_files_are_decoded_by_their_byte_order_mark(
    tmp_path: Path, encoding: str, name: str, content: str
) -> None:
    data = content.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be", "utf-32-be"):  # codecs without a mark of their own
        data = "\ufeff".encode(encoding) + data
    write(tmp_path, name, data)

    load = load_corpus(tmp_path)

    assert load.skipped == []
    [article] = load.articles
    assert article.id == "story"
    assert "\ufeff" not in article.title and "\ufeff" not in article.body


def test_a_utf16_file_that_is_not_utf16_gives_a_reason(tmp_path: Path) -> None:
    write(tmp_path, "story.txt", GOOD_STORY)
    write(tmp_path, "odd.txt", b"\xff\xfeA\x00B")  # an odd number of bytes after the mark

    assert reasons(load_corpus(tmp_path)) == {"odd.txt": "not UTF-16 text despite its byte order mark (truncated data)"}


@pytest.mark.parametrize("value", ["2024-13-45", "yesterday", "soon", "0001-01-01T00:00:00+14:00", "[1, 2]"])
@pytest.mark.parametrize("field", ["date", "updated"])
def test_an_unreadable_front_matter_date_keeps_the_article_undated_and_says_so(
    tmp_path: Path, value: str, field: str
) -> None:
    write(tmp_path, "story.md", f"---\ntitle: Port Strike Ends\n{field}: {value}\n---\n\nDock workers returned.\n")

    load = load_corpus(tmp_path)

    [article] = load.articles
    assert article.title == "Port Strike Ends" and article.published is None and article.updated is None
    [note] = load.notes
    label = "publication date" if field == "date" else "update date"
    assert str(note).startswith(f"{tmp_path / 'story.md'}: {label} '") and "is not a date" in str(note)


def test_front_matter_dates_still_read_with_times_and_zones(tmp_path: Path) -> None:
    write(tmp_path, "story.md", "---\ndate: 2024-02-03\nupdated: 2024-02-04 12:30:00+03:00\n---\n\nText.\n")

    load = load_corpus(tmp_path)

    [article] = load.articles
    assert article.published is not None and article.published.isoformat() == "2024-02-03T00:00:00+00:00"
    assert article.updated is not None and article.updated.isoformat() == "2024-02-04T09:30:00+00:00"
    assert load.notes == []


def test_unreadable_json_and_feed_dates_are_noted(tmp_path: Path) -> None:
    write(tmp_path, "batch.jsonl", jsonl(record(1, published_at="yesterday"), record(2, published_at="2024-02-03")))
    write(
        tmp_path,
        "feed.rss",
        '<rss version="2.0"><channel><title>Wire</title><item><guid>f-1</guid><pubDate>someday</pubDate>'
        "<description>Entry text.</description></item></channel></rss>",
    )

    load = load_corpus(tmp_path)

    assert ids(load) == ["r-1", "r-2", "f-1"]
    assert [str(note).removeprefix(f"{tmp_path}/") for note in load.notes] == [
        "batch.jsonl: line 1: publication date 'yesterday' is not a date; the article is kept without it",
        "feed.rss: entry 1: publication date 'someday' is not a date; the article is kept without it",
    ]


@pytest.mark.parametrize(
    "name", ["new\nline.txt", "tab\there.txt", "bell\x07.txt", "esc\x1b[31mred.txt", "ls\u2028ep.txt"]
)
def test_control_characters_in_file_names_never_reach_ids_or_messages(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, GOOD_STORY)
    write(tmp_path, name.replace(".txt", ".md"), "")

    load = load_corpus(tmp_path)

    [article] = load.articles
    assert_clean(article)
    assert "\ufffd" in article.id and "\n" not in article.id and "\u2028" not in article.id
    [note] = load.notes
    assert "invalid character" in str(note) and "id" in str(note)
    assert_one_line(load)


def test_a_new_file_cannot_take_over_an_indexed_articles_id(tmp_path: Path) -> None:
    write(tmp_path, "b-original.jsonl", jsonl(record(1, title="The real article")))
    write(tmp_path, "a-newcomer.jsonl", jsonl(record(1, title="An impostor"), record(2)))

    first_read = load_corpus(tmp_path)  # nothing indexed yet: the first file in name order wins
    assert [a.title for a in first_read.articles] == ["An impostor", "Headline 2"]

    load = load_corpus(tmp_path, indexed_sources={"r-1": "b-original.jsonl", "r-2": "a-newcomer.jsonl"})

    assert [(a.id, a.title) for a in load.articles] == [("r-1", "The real article"), ("r-2", "Headline 2")]
    assert [str(entry).removeprefix(f"{tmp_path}/") for entry in load.skipped] == [
        "a-newcomer.jsonl: duplicate article id 'r-1' (kept the article from b-original.jsonl, the indexed one)"
    ]


# --- 5. size limits ---------------------------------------------------------------------------


def test_files_and_articles_over_the_limits_are_skipped_with_the_reason(tmp_path: Path) -> None:
    write(tmp_path, "story.txt", GOOD_STORY)
    write(tmp_path, "huge.txt", "Huge\n\n" + "word " * 40_000)
    write(tmp_path, "batch.jsonl", jsonl(record(1), record(2, body="long " * 30_000), record(3)))

    load = load_corpus(tmp_path, CorpusOptions(max_file_bytes=180_000, max_article_chars=100_000))

    assert ids(load) == ["r-1", "r-3", "story"]
    assert reasons(load) == {
        "batch.jsonl": "article 'r-2' too long (150,012 characters; the limit is 100,000)",
        "huge.txt": "file too large (0.2 MB; the limit is 0.2 MB)",
    }
