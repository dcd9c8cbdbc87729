"""Corpus readers, exercised on real files written into a temporary corpus folder."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corpus.readers import EmptyCorpusError, default_corpus_path, load_corpus
from corpus.readers.scraped import parse_byline

SEED = Path("/work/shared/corpus-seed/iran-iraq-border-security-2023-12-06.txt")
SEED_TITLE = "Iran, Iraq Discuss Border Security, Military Cooperation"

SECOND_SCRAPED = (
    "IranWire logo\n"
    "\n"
    "Tehran Metro Fares Rise by 30 Percent\n"
    "By Jean-Pierre O'Neill and Sara Al-Amin Dec. 14, 2023\n"
    "\n"
    "Commuters in Tehran will pay   30 percent more\n"
    "for metro rides from January, the city council said on Wednesday.\n"
    "\n"
    "\u201cThe increase is unavoidable,\u201d a council member said.\n"
)

MARKDOWN = """---
id: gl-2024-001
title: Port Strike Ends in Basra
source: Gulf Ledger
author: [Omar Saleh, Dana Karim]
date: 2024-02-03
updated: 2024-02-04 12:30:00+03:00
link: https://gulfledger.example/basra-strike
---

# Port Strike Ends in Basra

Dock workers in Basra returned to work on Saturday
after a five-day strike over unpaid wages.

The port authority said backlogs would clear within a week.
"""

HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Drought Forces Water Rationing in Tehran | Gulf Ledger</title>
  <meta name="author" content="Sara Al-Amin">
  <meta property="og:title" content="Drought Forces Water Rationing in Tehran">
  <meta property="og:site_name" content="Gulf Ledger">
  <meta property="og:url" content="https://gulfledger.example/2024/07/tehran-water-rationing">
  <link rel="canonical" href="https://gulfledger.example/2024/07/tehran-water-rationing">
  <meta property="article:published_time" content="2024-07-14T09:30:00+03:30">
</head>
<body>
  <header><nav><ul>
    <li><a href="/">Home</a></li><li><a href="/world">World</a></li>
    <li><a href="/subscribe">Subscribe now</a></li>
  </ul></nav></header>
  <main><article>
    <h1>Drought Forces Water Rationing in Tehran</h1>
    <p>Authorities in Tehran began rationing tap water on Sunday after reservoirs serving the
       capital fell to their lowest level in six decades, officials said.</p>
    <p>\u201cWe have no choice but to cut pressure at night,\u201d said a spokesman for the provincial
       water company, adding that the measures would last \u201cuntil the autumn rains arrive.\u201d</p>
    <p>Residents in the northern districts reported dry taps for up to eight hours a day, while
       hospitals and bakeries were exempted from the cuts.</p>
  </article></main>
  <aside><h2>Most read</h2><ul><li><a href="/x">Celebrity chef opens new restaurant</a></li></ul></aside>
  <footer><p>\u00a9 2024 Gulf Ledger. All rights reserved.</p><p>Privacy policy | Cookie settings</p></footer>
</body>
</html>
"""

RSS_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>Caspian Dispatch</title>
    <link>https://caspian.example/</link>
    <description>News from the Caspian region</description>
    <item>
      <title>Baku Hosts Regional Energy Talks</title>
      <link>https://caspian.example/2024/03/baku-energy-talks</link>
      <guid isPermaLink="false">caspian-2024-0311</guid>
      <dc:creator>Leyla Mammadova</dc:creator>
      <pubDate>Mon, 11 Mar 2024 14:05:00 +0400</pubDate>
      <description>Short teaser.</description>
      <content:encoded><![CDATA[<p>Energy ministers from five Caspian states met in Baku on Monday.</p><p>The talks focused on a <strong>trans-Caspian</strong> gas pipeline &amp; new export routes.</p>]]></content:encoded>
    </item>
    <item>
      <title>Ferry Service Resumes Across the Caspian</title>
      <link>https://caspian.example/2024/03/ferry-resumes</link>
      <pubDate>Tue, 12 Mar 2024 08:00:00 GMT</pubDate>
      <description>&lt;p&gt;Passenger ferries between Aktau and Baku resumed on Tuesday.&lt;/p&gt;&lt;p&gt;Operators said tickets sold out within hours.&lt;/p&gt;</description>
    </item>
  </channel>
</rss>
"""

ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Levant Wire</title>
  <id>urn:uuid:levant-wire</id>
  <updated>2024-05-02T10:00:00Z</updated>
  <entry>
    <title>Beirut Port Reconstruction Tender Opens</title>
    <id>tag:levantwire.example,2024:beirut-port</id>
    <link href="https://levantwire.example/beirut-port-tender"/>
    <author><name>Karim Haddad</name></author>
    <published>2024-05-01T09:00:00+03:00</published>
    <updated>2024-05-02T10:00:00Z</updated>
    <content type="html">&lt;p&gt;Lebanon opened bids on Wednesday to rebuild the port.&lt;/p&gt;&lt;ul&gt;&lt;li&gt;Phase one: grain silos&lt;/li&gt;&lt;li&gt;Phase two: container terminal&lt;/li&gt;&lt;/ul&gt;</content>
  </entry>
  <entry>
    <title>Amman Marathon Draws Record Field</title>
    <id>tag:levantwire.example,2024:amman-marathon</id>
    <link href="https://levantwire.example/amman-marathon"/>
    <updated>2024-04-28T06:00:00Z</updated>
    <summary>More than 40,000 runners took part in Amman's marathon on Friday.</summary>
  </entry>
</feed>
"""


def multihop_record(number: int, **overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": f"mhrag-{number:04d}",
        "title": f"Headline {number}",
        "source": "The Sydney Morning Herald",
        "url": f"https://www.smh.com.au/story-{number}",
        "published_at": "2023-09-26T19:11:30+00:00",
        "body": f"First paragraph of story {number}.\n\nSecond paragraph of story {number}.",
        "author": "Stan Choe",
        "category": "business",
    }
    record.update(overrides)
    return record


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def by_id(folder: Path) -> dict[str, object]:
    return {article.id: article for article in load_corpus(folder).articles}


def skip_reasons(folder: Path) -> dict[str, str]:
    return {entry.path.name: str(entry) for entry in load_corpus(folder).skipped}


# --- scraped text -------------------------------------------------------------------------


def test_seed_article_fields(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / SEED.name)
    [article] = load_corpus(tmp_path).articles

    assert article.id == "iran-iraq-border-security-2023-12-06"
    assert article.title == SEED_TITLE
    assert article.author == "Nigar Bayramli"
    assert article.published == datetime(2023, 12, 6, tzinfo=UTC)
    assert article.updated == datetime(2024, 12, 3, 23, 14, tzinfo=UTC)
    assert article.outlet == ""  # "Newsroom logo" is generic, not an outlet name
    assert article.caption.startswith("Iraqi President Abdullatif")
    assert article.caption.endswith("/ Iraqi Presidency")
    assert article.paragraphs[0].startswith("Iraq and Iran discussed")
    assert "Newsroom logo" not in article.body
    assert "None" not in article.paragraphs
    assert article.caption not in article.body
    assert SEED_TITLE not in article.body
    assert "By Nigar Bayramli" not in article.body
    assert article.source_file == SEED.name


def test_seed_paragraphs_are_verbatim(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / SEED.name)
    [article] = load_corpus(tmp_path).articles
    seed_lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]

    assert article.paragraphs == seed_lines[6:]  # everything after the caption, untouched
    assert "\u201cfor its support of Iraq" in article.body  # curly quotes kept


def test_second_scraped_article_with_other_shape(tmp_path: Path) -> None:
    crlf_with_bom = "\ufeff" + SECOND_SCRAPED.replace("\n", "\r\n")
    write(tmp_path, "news/metro-fares.txt", crlf_with_bom.encode("utf-8"))
    [article] = load_corpus(tmp_path).articles

    assert article.id == "news/metro-fares"
    assert article.title == "Tehran Metro Fares Rise by 30 Percent"
    assert article.outlet == "IranWire"
    assert article.author == "Jean-Pierre O'Neill and Sara Al-Amin"
    assert article.published == datetime(2023, 12, 14, tzinfo=UTC)
    assert article.updated is None
    assert article.caption == ""
    assert article.paragraphs == [
        "Commuters in Tehran will pay 30 percent more for metro rides from January, "
        "the city council said on Wednesday.",
        "\u201cThe increase is unavoidable,\u201d a council member said.",
    ]


def test_caption_without_placeholder_is_recognised_by_its_credit(tmp_path: Path) -> None:
    text = (
        "Flooding Hits Khuzestan\n\nBy Ali Rezaei 6 December 2023\n\n"
        "Rescue teams in Ahvaz on Tuesday. / IRNA\n\nHeavy rain flooded dozens of villages.\n"
    )
    write(tmp_path, "flood.txt", text)
    [article] = load_corpus(tmp_path).articles

    assert article.caption == "Rescue teams in Ahvaz on Tuesday. / IRNA"
    assert article.paragraphs == ["Heavy rain flooded dozens of villages."]
    assert article.published == datetime(2023, 12, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "author", "published"),
    [
        ("By Nigar Bayramli December 6, 2023", "Nigar Bayramli", datetime(2023, 12, 6, tzinfo=UTC)),
        ("By Madonna Dec. 6, 2023", "Madonna", datetime(2023, 12, 6, tzinfo=UTC)),
        ("By Mary Ann de la Cruz 6 December 2023", "Mary Ann de la Cruz", datetime(2023, 12, 6, tzinfo=UTC)),
        (
            "By Abdul Amir al-Shemari and Sean O'Brien March 19, 2023",
            "Abdul Amir al-Shemari and Sean O'Brien",
            datetime(2023, 3, 19, tzinfo=UTC),
        ),
        ("By IranWire Staff", "IranWire Staff", None),
    ],
)
def test_byline_formats(line: str, author: str, published: datetime | None) -> None:
    assert parse_byline(line) == (author, published)


def test_sentence_starting_with_by_is_not_a_byline(tmp_path: Path) -> None:
    text = "Budget Passed\n\nBy the end of 2023, parliament had approved the budget.\n"
    write(tmp_path, "budget.txt", text)
    [article] = load_corpus(tmp_path).articles

    assert parse_byline("By the end of 2023, parliament had approved the budget.") is None
    assert article.author == ""
    assert article.paragraphs == ["By the end of 2023, parliament had approved the budget."]


# --- markdown with front matter -------------------------------------------------------------


def test_markdown_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "basra.md", MARKDOWN)
    [article] = load_corpus(tmp_path).articles

    assert article.id == "gl-2024-001"
    assert article.title == "Port Strike Ends in Basra"
    assert article.outlet == "Gulf Ledger"
    assert article.author == "Omar Saleh, Dana Karim"
    assert article.published == datetime(2024, 2, 3, tzinfo=UTC)
    assert article.updated == datetime(2024, 2, 4, 9, 30, tzinfo=UTC)
    assert article.url == "https://gulfledger.example/basra-strike"
    assert article.paragraphs == [
        "Dock workers in Basra returned to work on Saturday after a five-day strike over unpaid wages.",
        "The port authority said backlogs would clear within a week.",
    ]


def test_txt_with_front_matter_uses_markdown_reader(tmp_path: Path) -> None:
    text = "---\ntitle: Kirkuk Oil Output Rises\noutlet: Rudaw\n---\n# Kirkuk Oil Output Rises\nOutput rose 5 percent in May.\n"
    write(tmp_path, "oil.txt", text)
    [article] = load_corpus(tmp_path).articles

    assert article.id == "oil"
    assert article.title == "Kirkuk Oil Output Rises"
    assert article.outlet == "Rudaw"
    assert article.paragraphs == ["Output rose 5 percent in May."]


# --- HTML ------------------------------------------------------------------------------------


def test_html_page_main_text_and_metadata(tmp_path: Path) -> None:
    write(tmp_path, "pages/tehran-water.html", HTML_PAGE)
    [article] = load_corpus(tmp_path).articles

    assert article.id == "pages/tehran-water"
    assert article.title == "Drought Forces Water Rationing in Tehran"
    assert article.outlet == "Gulf Ledger"
    assert article.author == "Sara Al-Amin"
    assert article.url == "https://gulfledger.example/2024/07/tehran-water-rationing"
    assert article.published == datetime(2024, 7, 14, 6, 0, tzinfo=UTC)
    assert len(article.paragraphs) == 3
    assert article.paragraphs[0].startswith("Authorities in Tehran began rationing")
    assert article.paragraphs[1].startswith("\u201cWe have no choice")
    for chrome in ("Subscribe", "Most read", "Celebrity chef", "All rights reserved", "Privacy policy"):
        assert chrome not in article.body


def test_html_without_date_meta_gets_no_guessed_date(tmp_path: Path) -> None:
    undated = HTML_PAGE.replace('<meta property="article:published_time" content="2024-07-14T09:30:00+03:30">', "")
    write(tmp_path, "undated.html", undated)
    [article] = load_corpus(tmp_path).articles

    assert article.published is None  # not 2024-07-01 guessed from the URL


# --- JSON and JSONL --------------------------------------------------------------------------


def test_jsonl_keeps_good_lines_and_names_the_bad_one(tmp_path: Path) -> None:
    lines = [
        json.dumps(multihop_record(0)),
        '{"id": "mhrag-0001", "title": "Broken", "body": ',
        json.dumps(multihop_record(2, author=None)),
    ]
    write(tmp_path, "multihop.jsonl", "\n".join(lines) + "\n")
    load = load_corpus(tmp_path)

    assert [article.id for article in load.articles] == ["mhrag-0000", "mhrag-0002"]
    first = load.articles[0]
    assert first.title == "Headline 0"
    assert first.outlet == "The Sydney Morning Herald"
    assert first.author == "Stan Choe"
    assert first.url == "https://www.smh.com.au/story-0"
    assert first.published == datetime(2023, 9, 26, 19, 11, 30, tzinfo=UTC)
    assert first.paragraphs == ["First paragraph of story 0.", "Second paragraph of story 0."]
    assert load.articles[1].author == ""
    [skipped] = load.skipped
    assert "multihop.jsonl" in str(skipped)
    assert "line 2" in skipped.reason and "malformed JSON" in skipped.reason


def test_json_list_with_derived_id(tmp_path: Path) -> None:
    records = [multihop_record(5), {**multihop_record(6), "id": None}]
    write(tmp_path, "batch.json", json.dumps(records))
    load = load_corpus(tmp_path)

    assert [article.id for article in load.articles] == ["mhrag-0005", "batch-2"]
    assert load.articles[1].title == "Headline 6"
    assert load.skipped == []


# --- feeds -----------------------------------------------------------------------------------


def test_rss_feed_entries(tmp_path: Path) -> None:
    write(tmp_path, "caspian.rss", RSS_FEED)
    first, second = load_corpus(tmp_path).articles

    assert first.id == "caspian-2024-0311"
    assert second.id == "https://caspian.example/2024/03/ferry-resumes"  # no guid: the link
    assert first.outlet == second.outlet == "Caspian Dispatch"
    assert first.author == "Leyla Mammadova"
    assert first.title == "Baku Hosts Regional Energy Talks"
    assert first.url == "https://caspian.example/2024/03/baku-energy-talks"
    assert first.published == datetime(2024, 3, 11, 10, 5, tzinfo=UTC)
    assert first.updated is None
    assert first.paragraphs == [  # full content, not the teaser; tags stripped, entities decoded
        "Energy ministers from five Caspian states met in Baku on Monday.",
        "The talks focused on a trans-Caspian gas pipeline & new export routes.",
    ]
    assert second.paragraphs == [
        "Passenger ferries between Aktau and Baku resumed on Tuesday.",
        "Operators said tickets sold out within hours.",
    ]


def test_atom_feed_entries(tmp_path: Path) -> None:
    write(tmp_path, "levant.atom", ATOM_FEED)
    first, second = load_corpus(tmp_path).articles

    assert first.id == "tag:levantwire.example,2024:beirut-port"
    assert first.outlet == "Levant Wire"
    assert first.author == "Karim Haddad"
    assert first.url == "https://levantwire.example/beirut-port-tender"
    assert first.published == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert first.updated == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert first.paragraphs == [
        "Lebanon opened bids on Wednesday to rebuild the port.",
        "Phase one: grain silos",
        "Phase two: container terminal",
    ]
    assert second.published == datetime(2024, 4, 28, 6, 0, tzinfo=UTC)  # only <updated> given
    assert second.paragraphs == ["More than 40,000 runners took part in Amman's marathon on Friday."]


# --- broken files, folders, duplicates ------------------------------------------------------


def test_broken_files_are_skipped_with_one_reason_each(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / SEED.name)
    write(tmp_path, "latin1.txt", "Caf\u00e9 owners protest\n\nBy Ana Ruiz 1 May 2024\n\nText.\n".encode("latin-1"))
    write(tmp_path, "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")
    write(tmp_path, "empty.md", "")
    write(tmp_path, "broken.json", '{"title": "Half an object", ')
    write(tmp_path, "nobody.json", json.dumps({"id": "x-1", "title": "No body here", "body": "  "}))
    write(tmp_path, "report.pdf", b"%PDF-1.7\n")
    write(tmp_path, "not-a-feed.xml", "<urlset><url><loc>https://example.com/</loc></url></urlset>")
    load = load_corpus(tmp_path)
    reasons = {entry.path.name: entry.reason for entry in load.skipped}

    assert [article.id for article in load.articles] == [SEED.stem]
    assert len(load.skipped) == len(reasons) == 7  # one reason per file
    assert reasons["latin1.txt"] == "not UTF-8 text (byte 0xe9 at offset 3)"
    assert reasons["photo.txt"].startswith("binary file")
    assert reasons["empty.md"] == "empty file"
    assert reasons["broken.json"].startswith("malformed JSON")
    assert reasons["nobody.json"] == "no body text"
    assert reasons["report.pdf"] == "unsupported file type .pdf"
    assert "no feed entries" in reasons["not-a-feed.xml"]
    for entry in load.skipped:
        assert str(entry).startswith(str(tmp_path / entry.path.name))


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", json.dumps(multihop_record(1)) + "\n")
    write(tmp_path, "b.jsonl", json.dumps(multihop_record(1, title="Copy")) + "\n")
    load = load_corpus(tmp_path)

    [article] = load.articles
    assert article.title == "Headline 1"
    [skipped] = load.skipped
    assert skipped.path.name == "b.jsonl"
    assert "duplicate article id 'mhrag-0001'" in skipped.reason and "a.jsonl" in skipped.reason


def test_walk_is_sorted_recursive_and_ignores_hidden(tmp_path: Path) -> None:
    story = "Headline {0}\n\nBy Ali Rezaei 6 December 2023\n\nBody of {0}.\n"
    write(tmp_path, "b.txt", story.format("b"))
    write(tmp_path, "a/z.txt", story.format("a/z"))
    write(tmp_path, "a.txt", story.format("a"))
    write(tmp_path, ".drafts/secret.txt", story.format("secret"))
    write(tmp_path, ".hidden.txt", story.format("hidden"))

    load = load_corpus(tmp_path)
    assert [article.id for article in load.articles] == ["a", "b", "a/z"]
    assert load.skipped == []


def test_empty_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(EmptyCorpusError, match="has no supported files") as raised:
        load_corpus(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_folder_with_only_unusable_files_raises_with_count(tmp_path: Path) -> None:
    write(tmp_path, "notes.pdf", b"%PDF")
    write(tmp_path, "empty.txt", "")

    with pytest.raises(EmptyCorpusError, match=r"2 file\(s\) skipped") as raised:
        load_corpus(tmp_path)
    assert str(tmp_path) in str(raised.value)
    assert {entry.path.name for entry in raised.value.skipped} == {"notes.pdf", "empty.txt"}


def test_missing_folder_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(EmptyCorpusError, match="does not exist") as raised:
        load_corpus(missing)
    assert str(missing) in str(raised.value)


# --- packaged default corpus ----------------------------------------------------------------


def test_default_corpus_has_the_seed() -> None:
    folder = default_corpus_path()

    assert (folder / SEED.name).read_bytes() == SEED.read_bytes()
    [article] = load_corpus(folder).articles
    assert article.title == SEED_TITLE
