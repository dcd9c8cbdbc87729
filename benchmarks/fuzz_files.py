"""Hostile corpus files against the real loader and indexer: does anything crash, hang, speak
unclearly, lose a good article or leak a file from outside the corpus?

    python benchmarks/fuzz_files.py [--timeout 120] [--only NAME ...]

Each case starts from a served index of three good articles (the bundled one and two in
front matter), adds its hostile file(s) to the corpus, reindexes through the real `Byline`
service (loader, chunker, the bundled model, SQLite, FAISS) and asks a question about the good
article. Counted per case:

- crashed: the reindex or the question raised, or did not finish within --timeout seconds;
- unclear: the skip or note line the case calls for is missing, or a line is not one clean line
  (a line break, a control character, an unencodable character, the generic "could not be read"
  fallback for an unexpected exception);
- lost: a good article is missing or was changed, or an article the hostile file still holds
  (e.g. the good lines of a JSONL file with one bad line, a UTF-16 file) was not indexed;
- leaked: text from a file outside the corpus folder was indexed.

Cases run in a worker process that loads the model once; a case that hangs is killed with its
worker, which is then replaced. Run as root, the script re-runs itself without root's power to
read any file (setpriv), so unreadable files and folders really are unreadable. Corpus limits for the run: 5 MB per file, defaults
otherwise. Works against older Byline code too (missing features count against it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for real inside the worker, after it has set HF_HUB_OFFLINE
    from multiprocessing.connection import Connection

    from bot.service import Byline
    from embeddings.encoder import Encoder

MAX_FILE_MB = 5
GOOD_IDS = ("iran-iraq-border-security-2023-12-06", "gulf-port-strike", "tehran-water")
GOOD_QUESTION = "What did Baqeri propose?"
SECRET = "zqx-secret-passphrase-7731"
GOOD_FILES = {
    "gulf-port-strike.md": (
        "---\nid: gulf-port-strike\ntitle: Port Strike Ends in Basra\noutlet: Gulf Ledger\ndate: 2024-02-03\n---\n\n"
        "Dock workers in Basra returned to work on Saturday after a five-day strike over unpaid wages.\n\n"
        "The port authority said backlogs would clear within a week.\n"
    ),
    "tehran-water.md": (
        "---\nid: tehran-water\ntitle: Drought Forces Water Rationing in Tehran\noutlet: Gulf Ledger\n"
        "date: 2024-07-14\n---\n\nAuthorities in Tehran began rationing tap water on Sunday after reservoirs fell.\n"
    ),
}
STORY = (
    "Ferry Service Resumes\n\nBy Leyla Mammadova 12 March 2024\n\nPassenger ferries between Aktau and Baku resumed.\n"
)
MD_STORY = "---\ntitle: {title}\noutlet: Wire\n{extra}---\n\nFerries between Aktau and Baku resumed on Tuesday.\n"


def jsonl_record(article_id: str, body: str = "Ferries between Aktau and Baku resumed.", **fields: str) -> str:
    import json

    return json.dumps({"id": article_id, "title": "Ferry", "body": body, **fields})


def put(folder: Path, name: str | bytes, content: str | bytes) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    make: Callable[[Path, Path], object]  # (corpus folder, a folder outside it)
    indexed: tuple[str, ...] = ()  # ids the hostile files must still give
    reason: str = ""  # must appear in a skip or note line
    settings: dict[str, Any] = field(default_factory=dict)


def files(named: dict[str, str | bytes]) -> Callable[[Path, Path], object]:
    return lambda corpus, _outside: [put(corpus, name, content) for name, content in named.items()]


def one(name: str | bytes, content: str | bytes) -> Callable[[Path, Path], object]:
    return lambda corpus, _outside: put(corpus, name, content)


def link(name: str, target: Callable[[Path, Path], str | Path]) -> Callable[[Path, Path], object]:
    return lambda corpus, outside: (corpus / name).symlink_to(target(corpus, outside))


def secret_outside(corpus: Path, outside: Path) -> Path:
    return put(outside, "secret.txt", f"Secret Page\n\nThe passphrase is {SECRET} for root bin bash daemon.\n")


def secret_folder(corpus: Path, outside: Path) -> Path:
    put(outside, "private/notes.txt", f"Private Notes\n\nRemember {SECRET} for the vault.\n")
    return outside / "private"


def fifo(corpus: Path, _outside: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")


def unreadable_folder(corpus: Path, _outside: Path) -> None:
    put(corpus, "locked/story.txt", STORY)
    (corpus / "locked").chmod(0o000)


def unreadable_file(corpus: Path, _outside: Path) -> None:
    put(corpus, "locked.txt", STORY).chmod(0o000)


def impostor(corpus: Path, _outside: Path) -> None:
    put(corpus, "aaa-impostor.md", "---\nid: gulf-port-strike\ntitle: Fake Headline\n---\n\nSomething else entirely.\n")


def linked_file_inside(corpus: Path, _outside: Path) -> None:
    put(corpus, "real/ferry.txt", STORY)
    (corpus / "alias.txt").symlink_to(corpus / "real" / "ferry.txt")


def loop_folder(corpus: Path, _outside: Path) -> None:
    (corpus / "sub").mkdir()
    (corpus / "sub" / "up").symlink_to("..")
    (corpus / "self.txt").symlink_to("self.txt")


def followed_folder(corpus: Path, outside: Path) -> None:
    put(outside, "wire/ferry.txt", STORY)
    (outside / "wire" / "again").symlink_to(outside / "wire")
    (corpus / "wire").symlink_to(outside / "wire")


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(range(256)) * 4
DEEP = "[" * 200_000 + "]" * 200_000
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><rss version="2.0"><channel><title>&lol9;</title><item><title>x</title>'
    "<description>Ferries resumed.</description></item></channel></rss>"
)
YAML_LAUGHS = (
    "---\na: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    + "title: *i\nauthor: *i\n---\n\nFerries resumed on Tuesday.\n"
)

CASES = [
    # encodings and byte order marks
    Case(
        "latin-1 text",
        "encoding",
        one("latin1.txt", STORY.replace("Leyla", "L\u00e9yla").encode("latin-1")),
        reason="not UTF-8",
    ),
    Case(
        "cp1252 quotes",
        "encoding",
        one("quotes.md", MD_STORY.format(title="\u201cQuoted\u201d", extra="").encode("cp1252")),
        reason="not UTF-8",
    ),
    Case("UTF-16 LE with BOM", "encoding", one("u16le.txt", STORY.encode("utf-16")), indexed=("u16le",)),
    Case(
        "UTF-16 BE with BOM",
        "encoding",
        one("u16be.md", b"\xfe\xff" + MD_STORY.format(title="T", extra="").encode("utf-16-be")),
        indexed=("u16be",),
    ),
    Case(
        "UTF-32 JSONL",
        "encoding",
        one("u32.jsonl", (jsonl_record("u32-1") + "\n").encode("utf-32")),
        indexed=("u32-1",),
    ),
    Case("UTF-8 with BOM", "encoding", one("bom8.txt", STORY.encode("utf-8-sig")), indexed=("bom8",)),
    Case("UTF-16 without BOM", "encoding", one("nobom16.txt", STORY.encode("utf-16-le")), reason="binary file"),
    Case("truncated UTF-16", "encoding", one("odd16.txt", b"\xff\xfeA\x00B"), reason="UTF-16"),
    Case(
        "UTF-8 encoded surrogate",
        "encoding",
        one("cesu.txt", b"Title\n\nBody \xed\xa0\x80 text.\n"),
        reason="not UTF-8",
    ),
    Case("BOM only", "encoding", one("bomonly.md", b"\xef\xbb\xbf"), reason="no body text"),
    # lone surrogates
    Case(
        "surrogate escape in JSONL body",
        "surrogate",
        one("s1.jsonl", '{"id": "s1", "body": "Ferry \\ud800 resumed."}\n'),
        indexed=("s1",),
        reason="U+FFFD",
    ),
    Case(
        "surrogate escape in JSONL id",
        "surrogate",
        one("s2.jsonl", '{"id": "s2-\\ud800", "body": "Ferry resumed."}\n'),
        indexed=("s2-\ufffd",),
        reason="U+FFFD",
    ),
    Case(
        "surrogate escape in JSON title",
        "surrogate",
        one("s3.json", '{"id": "s3", "title": "\\udfff", "body": "Ferry resumed."}'),
        indexed=("s3",),
        reason="U+FFFD",
    ),
    Case(
        "half a surrogate pair in author",
        "surrogate",
        one("s4.jsonl", '{"id": "s4", "author": "\\ud83d", "body": "Ferry resumed."}\n'),
        indexed=("s4",),
        reason="U+FFFD",
    ),
    Case(
        "surrogate escape in YAML",
        "surrogate",
        one("s5.md", '---\ntitle: "Ferry \\ud800"\n---\n\nFerry resumed.\n'),
        indexed=("s5",),
        reason="U+FFFD",
    ),
    Case(
        "undecodable file name",
        "surrogate",
        one(b"ferry-\xff\xfe.txt", STORY),
        indexed=("ferry-\ufffd\ufffd",),
        reason="U+FFFD",
    ),
    # NULs and control characters
    Case("NUL byte in text", "control", one("nul.txt", "Title\n\nBody\x00text.\n"), reason="binary file"),
    Case(
        "NUL escape in JSON",
        "control",
        one("nul.jsonl", '{"id": "nul-1", "body": "Ferry \\u0000 resumed."}\n'),
        indexed=("nul-1",),
        reason="U+FFFD",
    ),
    Case(
        "terminal escape in title",
        "control",
        one("ansi.txt", "Ferry \x1b]0;owned\x07 Resumes\n\nFerries resumed on Tuesday.\n"),
        indexed=("ansi",),
        reason="U+FFFD",
    ),
    Case(
        "NUL in one JSONL line",
        "control",
        one(
            "nulline.jsonl",
            (jsonl_record("ok-1") + "\n" + '{"id": "x", "body": "a\x00b"}\n' + jsonl_record("ok-2") + "\n").encode(),
        ),
        indexed=("ok-1", "ok-2"),
        reason="line 2",
    ),
    # huge and deep JSON, YAML, XML
    Case(
        "5,000-digit number in a JSONL line",
        "json",
        one("n.jsonl", jsonl_record("n-1") + "\n" + '{"id": "n-2", "body": "Kept.", "views": ' + "9" * 5000 + "}\n"),
        indexed=("n-1", "n-2"),
    ),
    Case(
        "200,000-deep JSONL line",
        "json",
        one("d.jsonl", jsonl_record("d-1") + "\n" + DEEP + "\n" + jsonl_record("d-3") + "\n"),
        indexed=("d-1", "d-3"),
        reason="nested too deeply",
    ),
    Case("200,000-deep JSON file", "json", one("deep.json", DEEP), reason="nested too deeply"),
    Case(
        "huge integer in a JSON list",
        "json",
        one("list.json", "[" + jsonl_record("l-1") + ', {"id": "l-2", "body": "Kept.", "n": ' + "7" * 6000 + "}]"),
        indexed=("l-1", "l-2"),
    ),
    Case(
        "huge float exponent",
        "json",
        one("float.jsonl", '{"id": "f-1", "body": "Kept.", "score": 1e999999}\n'),
        indexed=("f-1",),
    ),
    Case(
        "deep YAML front matter",
        "json",
        one("deep.md", "---\ntitle: " + "[" * 20_000 + "]" * 20_000 + "\n---\n\nBody.\n"),
        reason="front matter",
    ),
    Case("YAML alias bomb", "json", one("laughs.md", YAML_LAUGHS), indexed=("laughs",)),
    Case("XML entity bomb", "json", one("laughs.rss", LAUGHS), indexed=("laughs-1",)),
    # huge text
    Case("2 MB single paragraph", "huge", one("huge.txt", "Huge\n\n" + "word " * 400_000), reason="too long"),
    Case(
        "300,000-character paragraph",
        "huge",
        one("long.txt", "Long Story\n\n" + "The council met again to discuss the harbour budget. " * 5_700),
        indexed=("long",),
    ),
    Case(
        "200,000 characters without a space",
        "huge",
        one("nospace.txt", "No Spaces\n\n" + "a" * 200_000),
        indexed=("nospace",),
    ),
    Case(
        "file over the size limit",
        "huge",
        one("big.jsonl", jsonl_record("big-1", body="x " * 3_000_000) + "\n"),
        reason="file too large",
    ),
    Case(
        "100,000-word byline",
        "huge",
        one("byline.txt", "Title\n\nBy " + "Name " * 100_000 + "\n\nBody text here.\n"),
        indexed=("byline",),
    ),
    Case(
        "1 MB last-update stamp",
        "huge",
        one("stamp.txt", "Last update: " + "9" * 1_000_000 + "\n\nTitle\n\nBody text.\n"),
        indexed=("stamp",),
    ),
    # symbolic links, pipes, permissions
    Case("link to a file outside", "link", link("passwd.txt", secret_outside), reason="outside the corpus folder"),
    Case(
        "link to /etc/passwd",
        "link",
        link("etc-passwd.txt", lambda c, o: Path("/etc/passwd")),
        reason="outside the corpus folder",
    ),
    Case("link to a folder outside", "link", link("private", secret_folder), reason="outside the corpus folder"),
    Case(
        "link out, following allowed",
        "link",
        followed_folder,
        indexed=("wire/ferry",),
        settings={"corpus_follow_external_links": True},
        reason="already read",
    ),
    Case("link to a file inside", "link", linked_file_inside, indexed=("real/ferry",), reason="same file"),
    Case("link loops", "link", loop_folder, reason="loop"),
    Case("broken link", "link", link("gone.txt", lambda c, o: "nowhere.txt"), reason="broken symbolic link"),
    Case("named pipe", "link", fifo, reason="named pipe"),
    Case("unreadable folder", "permission", unreadable_folder, reason="cannot read folder"),
    Case("unreadable file", "permission", unreadable_file, reason="cannot read file"),
    # empty and binary
    Case("empty text file", "binary", one("empty.txt", ""), reason="empty file"),
    Case("whitespace-only markdown", "binary", one("blank.md", " \n\n\t\n"), reason="empty file"),
    Case("PNG named .txt", "binary", one("photo.txt", PNG), reason="binary file"),
    Case("PNG named .jsonl", "binary", one("photo.jsonl", PNG), reason="not UTF-8"),
    Case("empty .json", "binary", one("empty.json", ""), reason="empty file"),
    Case("unsupported suffix", "binary", one("README", "Notes"), reason="unsupported file type"),
    # dates
    Case(
        "front matter date 2024-13-45",
        "date",
        one("baddate.md", MD_STORY.format(title="Bad Date", extra="date: 2024-13-45\n")),
        indexed=("baddate",),
        reason="not a date",
    ),
    Case(
        "front matter date 'yesterday'",
        "date",
        one("yesterday.md", MD_STORY.format(title="Yesterday", extra="date: yesterday\n")),
        indexed=("yesterday",),
        reason="not a date",
    ),
    Case(
        "JSON date out of range",
        "date",
        one("range.jsonl", jsonl_record("range-1", published_at="0001-01-01T00:00:00+14:00") + "\n"),
        indexed=("range-1",),
        reason="not a date",
    ),
    Case(
        "feed date garbage",
        "date",
        one(
            "dates.rss",
            '<rss version="2.0"><channel><title>W</title><item><guid>g-1</guid><pubDate>someday</pubDate><description>Ferries resumed.</description></item></channel></rss>',
        ),
        indexed=("g-1",),
        reason="not a date",
    ),
    # odd names
    Case("newline in a file name", "name", one("new\nline.txt", STORY), indexed=("new\ufffdline",), reason="U+FFFD"),
    Case(
        "right-to-left override in a name",
        "name",
        one("evil\u202etxt.md", MD_STORY.format(title="RTL", extra="")),
        indexed=("evil\u202etxt",),
    ),
    Case("255-byte file name", "name", one("n" * 251 + ".txt", STORY), indexed=("n" * 251,)),
    Case("upper-case suffix", "name", one("LOUD.TXT", STORY), indexed=("LOUD",)),
    Case("dash-leading name", "name", one("-rf --help.txt", STORY), indexed=("-rf --help",)),
    # malformed feeds, HTML, front matter
    Case(
        "truncated RSS",
        "malformed",
        one("cut.rss", '<rss version="2.0"><channel><title>W</title><item><title>T</title><description>Ferries resu'),
        reason="cut.rss",
    ),
    Case(
        "feed entry without text",
        "malformed",
        one(
            "empty-entry.atom",
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>W</title><entry><id>e1</id><title>T</title></entry><entry><id>e2</id><content>Ferries resumed.</content></entry></feed>',
        ),
        indexed=("e2",),
        reason="entry 1",
    ),
    Case(
        "HTML with only scripts",
        "malformed",
        one("script.html", "<html><body><script>var a = 1;</script></body></html>"),
        reason="no article text",
    ),
    Case(
        "HTML nested 50,000 deep",
        "malformed",
        one(
            "nested.html", "<html><body>" + "<div>" * 50_000 + "Ferries resumed." + "</div>" * 50_000 + "</body></html>"
        ),
        reason="nested.html",
    ),
    Case(
        "unclosed front matter",
        "malformed",
        one("unclosed.md", "---\ntitle: Never Closed\n\nFerries resumed.\n"),
        indexed=("unclosed",),
    ),
    Case(
        "front matter syntax error",
        "malformed",
        one("syntax.md", "---\ntitle: [unclosed\n---\n\nBody.\n"),
        reason="malformed front matter",
    ),
    Case(
        "front matter is a list",
        "malformed",
        one("list.md", "---\n- a\n- b\n---\n\nFerries resumed.\n"),
        indexed=("list",),
    ),
    Case(
        "YAML python tag",
        "malformed",
        one("tag.md", "---\ntitle: !!python/object/apply:os.system ['true']\n---\n\nBody.\n"),
        reason="malformed front matter",
    ),
    # duplicate ids
    Case(
        "two new files, one id",
        "duplicate",
        files({"dup-a.jsonl": jsonl_record("dup-1") + "\n", "dup-b.jsonl": jsonl_record("dup-1") + "\n"}),
        indexed=("dup-1",),
        reason="duplicate article id",
    ),
    Case("new file reusing an indexed id", "duplicate", impostor, reason="duplicate article id"),
]


@dataclass
class Outcome:
    name: str
    kind: str
    crashed: str = ""
    unclear: str = ""
    lost: str = ""
    leaked: str = ""
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


# --- the worker: loads the model once, runs cases one by one ---------------------------------


def worker(connection: Connection, workdir: str) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from embeddings.encoder import Encoder

    encoder = Encoder()
    encoder.encode(["warm up"])
    template = base_index(Path(workdir), encoder)
    while True:
        number = connection.recv()
        if number is None:
            return
        outcome = run_case(CASES[number], Path(workdir) / f"case-{number}", template, encoder)
        connection.send(asdict(outcome))  # plain data: classes of a spawned __main__ do not unpickle


def make_service(corpus: Path, index: Path, encoder: Encoder, **settings: Any) -> Byline:
    from bot.service import Byline
    from bot.settings import AnswerSettings, IndexSettings

    index_settings = IndexSettings(corpus_path=corpus, index_path=index, corpus_max_file_mb=MAX_FILE_MB, **settings)
    return Byline(index_settings, AnswerSettings(), encoder)


def good_corpus(folder: Path) -> Path:
    from corpus.readers import default_corpus_path

    shutil.copytree(default_corpus_path(), folder, ignore=shutil.ignore_patterns("__*"))
    for name, content in GOOD_FILES.items():
        put(folder, name, content)
    return folder


def base_index(workdir: Path, encoder: Encoder) -> tuple[Path, dict[str, str]]:
    """An index of the good articles (built once) and their content hashes."""
    corpus, index = workdir / "base-corpus", workdir / "base-index"
    if not index.exists():
        make_service(good_corpus(corpus), index, encoder).reindex()
    service = make_service(corpus, index, encoder)
    return index, {a.id: a.content_hash for a in service.searcher().snapshot.articles.values()}


def run_case(case: Case, folder: Path, template: tuple[Path, dict[str, str]], encoder: Encoder) -> Outcome:
    outcome = Outcome(case.name, case.kind)
    index, good_hashes = template
    corpus, outside = good_corpus(folder / "corpus"), folder / "outside"
    outside.mkdir(parents=True)
    shutil.copytree(index, folder / "index")
    case.make(corpus, outside)
    service = make_service(corpus, folder / "index", encoder, **case.settings)
    started = time.monotonic()
    try:
        result = service.reindex()
        answer = service.ask(GOOD_QUESTION)
    except Exception as error:  # noqa: BLE001 - that is what is being counted
        outcome.crashed = f"{type(error).__name__}: {error}"[:300]
        outcome.lines = traceback.format_exc().splitlines()[-3:]
        return outcome
    finally:
        outcome.seconds = time.monotonic() - started
        if (corpus / "locked").is_dir():
            (corpus / "locked").chmod(0o755)
    articles = service.searcher().snapshot.articles
    outcome.lines = [str(entry) for entry in [*result.skipped, *getattr(result, "notes", [])]]
    outcome.unclear = unclear(case, outcome.lines)
    missing = [i for i in (*GOOD_IDS, *case.indexed) if i not in articles]
    changed = [i for i, digest in good_hashes.items() if i in articles and articles[i].content_hash != digest]
    if missing or changed:
        outcome.lost = f"missing {missing}" if missing else f"changed {changed}"
    elif not answer.citations or answer.citations[0].article_id != GOOD_IDS[0]:
        outcome.lost = "the good article no longer answers its question"
    if any(SECRET in a.body for a in articles.values()):
        outcome.leaked = "text from outside the corpus is indexed"
    return outcome


def unclear(case: Case, lines: list[str]) -> str:
    for line in lines:
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            return f"unencodable line: {line!r}"[:200]
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029" for ch in line):
            return f"control character in line: {line!r}"[:200]
        if "could not be read (" in line:
            return f"generic fallback: {line}"[:200]
    if case.reason and not any(case.reason in line for line in lines):
        return f"no line says {case.reason!r}"
    return ""


# --- the parent: hands out cases, kills and replaces a worker that hangs ----------------------


class Pool:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.connection: Any = None

    def run(self, number: int, timeout: float) -> Outcome | None:
        start_up = 0.0
        if self.process is None:
            self.connection, child = self.context.Pipe()
            self.process = self.context.Process(target=worker, args=(child, str(self.workdir)), daemon=True)
            self.process.start()
            start_up = 120.0  # a new worker first loads the model and builds the base index
        self.connection.send(number)
        if self.connection.poll(timeout + start_up):
            return Outcome(**self.connection.recv())
        self.process.kill()
        self.process.join()
        self.process = None
        return None

    def close(self) -> None:
        if self.process is not None:
            self.connection.send(None)
            self.process.join(30)


def without_permission_override() -> None:
    """Run as root, re-run this script without root's power to read any file (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH), so that unreadable files and folders really are unreadable."""
    if os.geteuid() != 0 or os.environ.get("BYLINE_FUZZ_REDUCED") or not shutil.which("setpriv"):
        return
    os.environ["BYLINE_FUZZ_REDUCED"] = "1"
    command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, *sys.argv]
    os.execvp("setpriv", command)


def main() -> None:
    without_permission_override()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a case counts as hung")
    parser.add_argument("--only", nargs="*", help="run only cases whose name contains one of these")
    args = parser.parse_args()
    chosen = [n for n, case in enumerate(CASES) if not args.only or any(o in case.name for o in args.only)]
    workdir = Path(tempfile.mkdtemp(prefix="byline-fuzz-"))
    workdir.chmod(0o777)
    pool = Pool(workdir)
    outcomes: list[Outcome] = []
    started = time.monotonic()
    try:
        for number in chosen:
            case = CASES[number]
            outcome = pool.run(number, args.timeout) or Outcome(
                case.name, case.kind, crashed=f"hung: no result within {args.timeout:.0f} s", seconds=args.timeout
            )
            outcomes.append(outcome)
            print(row(outcome), flush=True)
    finally:
        pool.close()
        shutil.rmtree(workdir, ignore_errors=True)
    summary(outcomes, time.monotonic() - started)


def row(outcome: Outcome) -> str:
    problems = [
        f"{label}: {text}"
        for label, text in (
            ("CRASHED", outcome.crashed),
            ("UNCLEAR", outcome.unclear),
            ("LOST", outcome.lost),
            ("LEAKED", outcome.leaked),
        )
        if text
    ]
    status = "; ".join(problems) or "ok"
    said = outcome.lines[0] if outcome.lines else "(nothing reported)"
    said = said.split("/corpus/", 1)[-1] if "/corpus/" in said else said
    return f"{outcome.kind:<10} {outcome.name:<38} {outcome.seconds:6.1f} s  {status}\n{'':<10} -> {said[:150]}"


def summary(outcomes: list[Outcome], seconds: float) -> None:
    count = lambda attribute: sum(1 for o in outcomes if getattr(o, attribute))  # noqa: E731
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(
        f"\ntried {len(outcomes)} hostile cases: crashed {count('crashed')}, unclear {count('unclear')}, "
        f"lost {count('lost')}, leaked {count('leaked')}; "
        f"slowest case {slowest.name!r} {slowest.seconds:.1f} s; all cases {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
