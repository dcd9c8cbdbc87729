"""Hostile questions through the real service and, for a sample, the real `byline ask` command.

    python benchmarks/fuzz_questions.py [--per-family 500] [--cli-sample 42] [--seed 20231206]

Generates questions family by family from a fixed seed (21 families x 500 = 10,500 by default):
real questions in 17 languages, those questions with hostile text mixed in (lone surrogates,
undecodable bytes, control and format characters, NULs, terminal escapes, markdown and mention
syntax, emoji, look-alike letters, huge lengths), and random text over all of Unicode. Each one is
asked of the `Byline` service with the bundled model over a tiny index (two short articles), and a
sample is asked through `python -m bot.cli ask --json -- QUESTION` as raw argv bytes, exactly as a
shell passes them (after `--`, so a question starting with "-" is not read as an option). Every
question also goes through the Discord face's text handling (its syntax made plain, then cleaned).

Each question is judged against what its family should get:
  crashed  an exception that is not a BylineError (CLI: exit code other than 0 or 2, or a traceback)
  unclear  refused with a message that is not one short line, or a hostile question accepted
           (a lone surrogate answered instead of refused)
  lost     a question that should be answered was refused, or an answered question lost words
           (letters compared after NFKC, case folding and dropping combining marks)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.discord_text import plain_question  # noqa: E402
from bot.question_text import clean_question  # noqa: E402
from bot.service import Byline  # noqa: E402
from bot.settings import AnswerSettings, IndexSettings  # noqa: E402
from corpus.errors import BylineError  # noqa: E402

REAL_QUESTIONS = [
    "What did Baqeri propose?",
    "Who met Iraq's national security adviser in Tehran?",
    "What did Iran and Iraq discuss about border security?",
    "Qu'a proposé Baqeri à l'Irak ?",
    "Was hat Baqeri vorgeschlagen?",
    "¿Qué propuso Baqeri sobre la frontera?",
    "Что предложил Багери?",
    "巴盖里提出了什么建议？",
    "バゲリは何を提案しましたか？",
    "바게리는 무엇을 제안했나요?",
    "ماذا اقترح باقري؟",
    "باقری می\u200cخواهد چه کند؟",
    "बाघेरी ने क्या प्रस्ताव रखा?",
    "บาเกรีเสนออะไร",
    "מה הציע באקרי?",
    "Τι πρότεινε ο Μπαγκερί;",
    "Baqeri đã đề xuất điều gì? 🤔",
]
# A tiny index: few short passages, so each question costs little more than embedding it.
TINY_CORPUS = {
    "border-talks.md": "---\ntitle: Iran and Iraq discuss border security\noutlet: Tehran Times\ndate: 2023-12-06\n---\n\n"
    "Iran's armed forces chief Mohammad Baqeri proposed joint military drills with Iraq. "
    "He met Iraq's national security adviser Qasim al-Araji in Tehran on Tuesday. "
    "Both sides agreed to tighten security along their shared border.\n",
    "harbour.md": "---\ntitle: Harbour dredging report\noutlet: Port Gazette\ndate: 2023-11-10\n---\n\n"
    "The harbour authority says the channel is twelve metres deep and getting shallower. "
    "Dredging will start in the spring.\n",
}
MAX_CHARS = AnswerSettings().max_question_chars

CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"] + ["\x7f"]
C1_CONTROLS = [chr(c) for c in range(0x80, 0xA0) if c != 0x85]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2061", "\U000e0041"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]
ODD_CODE_POINTS = ["\ufffe", "\uffff", "\ue000", "\U0010fffd", "\U0010ffff", "\ufffd", "\ufdd0", "\U0001fffe"]
SPACES = ["\t", "\n", "\r\n", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000", "\u2028", "\u2029", "\x85", "  "]
EMOJI = ["😀", "🤔", "🔥", "👍🏽", "👨\u200d👩\u200d👧", "🏳️\u200d🌈", "🇮🇷", "❤️", "🧵", "🗞️"]
MARKS = [chr(c) for c in range(0x300, 0x370)]
ESCAPES = ["\x1b[31m", "\x1b[2J", "\x1b[0m", "\x1b]0;owned\x07", "\x1b[1;1H"]
MENTIONS = [
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&987654321098765432>",
    "<#111111111111111111>",
    "@everyone",
    "@here",
    "<:baqeri:222222222222222222>",
    "<t:1701820800:D>",
    "</ask:333333333333333333>",
]
MARKDOWN = [
    ("**", "**"),
    ("__", "__"),
    ("*", "*"),
    ("~~", "~~"),
    ("`", "`"),
    ("||", "||"),
    ("```\n", "\n```"),
    ("[", "](https://example.org/x)"),
    ("> ", ""),
    ("# ", ""),
    ("-# ", ""),
]
INJECTIONS = [
    "'; DROP TABLE articles; --",
    "<script>alert(1)</script>",
    "{0} %s %(x)s {{x}}",
    ".*(?P<x>)\\1[",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "\\u0000\\ud800",
    "NaN",
    "null",
    "None",
]


@dataclass
class Case:
    family: str
    text: str
    expect: str  # "answer", "refuse" or "any"
    base: str = ""  # the real question inside, whose words must survive


def _insert(rng: random.Random, text: str, pieces: list[str], count: int, at_spaces: bool = False) -> str:
    """`count` pieces inserted at random places of `text` (never inside another inserted piece)."""
    spots = [i for i, ch in enumerate(text) if ch == " "] if at_spaces else list(range(len(text) + 1))
    chosen = sorted(rng.choices(spots or [len(text)], k=count), reverse=True)
    for at in chosen:
        text = text[:at] + rng.choice(pieces) + text[at:]
    return text


def _words_wrapped(rng: random.Random, text: str, wrappers: list[tuple[str, str]]) -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(words))
        start, end = rng.choice(wrappers)
        words[i] = f"{start}{words[i]}{end}"
    return " ".join(words)


def _random_unicode(rng: random.Random) -> str:
    def code_point() -> str:
        roll = rng.random()
        if roll < 0.55:
            return chr(rng.randint(0x20, 0x7E))
        if roll < 0.75:
            return chr(rng.randint(0xA0, 0xFFFF))  # the BMP, surrogates included
        if roll < 0.85:
            return chr(rng.randint(0x10000, 0x10FFFF))
        return chr(rng.choice([rng.randint(0, 0x1F), rng.randint(0xD800, 0xDFFF), rng.randint(0x7F, 0x9F)]))

    return "".join(code_point() for _ in range(rng.randint(0, 200)))


def _families() -> dict[str, Callable[[random.Random, str], Case]]:
    def mixed(
        name: str, pieces: list[str], expect: str = "answer", at_spaces: bool = False
    ) -> Callable[[random.Random, str], Case]:
        def make(rng: random.Random, base: str) -> Case:
            return Case(name, _insert(rng, base, pieces, rng.randint(1, 8), at_spaces), expect, base)

        return make

    return {
        "real question": lambda rng, base: Case("real question", base, "answer", base),
        "+ C0 controls, NUL": mixed("+ C0 controls, NUL", CONTROLS + ["\x00"] * 8),
        "+ C1 controls": mixed("+ C1 controls", C1_CONTROLS),
        "+ zero-width, BOM": mixed("+ zero-width, BOM", INVISIBLE),
        "+ bidi controls": mixed("+ bidi controls", BIDI),
        "+ terminal escapes": mixed("+ terminal escapes", ESCAPES),
        "+ odd code points": mixed("+ odd code points", ODD_CODE_POINTS, at_spaces=True),
        "+ odd whitespace": mixed("+ odd whitespace", SPACES, at_spaces=True),
        "+ combining floods": lambda rng, base: Case(
            "+ combining floods",
            "".join(
                ch + "".join(rng.choices(MARKS, k=rng.randint(5, 30))) if rng.random() < 0.2 else ch for ch in base
            ),
            "answer",
            base,
        ),
        "+ emoji": mixed("+ emoji", EMOJI, at_spaces=True),
        "+ mentions": mixed("+ mentions", MENTIONS, at_spaces=True),
        "+ markdown": lambda rng, base: Case("+ markdown", _words_wrapped(rng, base, MARKDOWN), "answer", base),
        "+ injection text": lambda rng, base: Case(
            "+ injection text", f"{base} {rng.choice(INJECTIONS)}", "answer", base
        ),
        "look-alike letters": lambda rng, base: Case(
            "look-alike letters",
            "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" and rng.random() < 0.7 else ch for ch in base),
            "answer",
            base,
        ),
        "+ lone surrogates": lambda rng, base: Case(  # low ones inside, maybe a high one (unpaired) at the end
            "+ lone surrogates",
            _insert(rng, base, ["\udc00", "\udcff", "\ude00", "\udfff"], rng.randint(1, 4))
            + rng.choice(["", "\ud83d"]),
            "refuse",
        ),
        "undecodable bytes": lambda rng, base: Case(
            "undecodable bytes",
            _insert(rng, base, [bytes([rng.randint(0x80, 0xFF)]).decode("utf-8", "surrogateescape")], 2, True),
            "refuse",
        ),
        "empty or invisible": lambda rng, _base: Case(
            "empty or invisible",
            "".join(rng.choices(SPACES + INVISIBLE + BIDI + CONTROLS, k=rng.randint(0, 40))),
            "refuse",
        ),
        "only emoji or symbols": lambda rng, _base: Case(
            "only emoji or symbols",
            " ".join(rng.choices(EMOJI + list("?!.,;:-_*#@&%$€¿¡…—/\\|()[]{}<>\"'"), k=rng.randint(1, 30))),
            "refuse",
        ),
        "huge": lambda rng, base: Case(
            "huge", (base + " ") * (MAX_CHARS // len(base) + rng.choice([1, 10, 100, 2000])), "refuse"
        ),
        "huge whitespace padding": lambda rng, base: Case(
            "huge whitespace padding",
            " " * rng.randint(100, 10 * MAX_CHARS) + base + "\n" * rng.randint(0, 5000),
            "answer",
            base,
        ),
        "random Unicode": lambda rng, _base: Case("random Unicode", _random_unicode(rng), "any"),
    }


def generate(per_family: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [make(rng, rng.choice(REAL_QUESTIONS)) for make in _families().values() for _ in range(per_family)]


def _letters(text: str) -> list[str]:
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M") and ch not in "\u200c\u200d")
    return re.findall(r"[^\W_]+", text.casefold())


def words_kept(base: str, cleaned: str) -> bool:
    return Counter(_letters(base)) <= Counter(_letters(cleaned))


def clear_message(message: str) -> bool:
    return 0 < len(message) <= 200 and "\n" not in message and message.rstrip()[-1:] in ".”?"


def judge(case: Case, refusal: str | None, answered_question: str | None) -> str:
    """'ok', 'unclear' or 'lost' (a crash is judged where it is caught)."""
    if refusal is not None:
        if not clear_message(refusal):
            return "unclear"
        return "lost" if case.expect == "answer" else "ok"
    if case.expect == "refuse":
        return "unclear"
    if case.base and not words_kept(case.base, answered_question or ""):
        return "lost"
    return "ok"


def ask_service(byline: Byline, case: Case) -> str:
    try:
        answer = byline.ask(case.text)
    except BylineError as error:
        return judge(case, str(error), None)
    except Exception:  # noqa: BLE001 - counting crashes is the point
        return "crashed"
    return judge(case, None, answer.question)


def clean_as_discord(case: Case) -> str:
    """The Discord face's path up to asking: its syntax made plain, then the core's cleaning."""
    try:
        cleaned = clean_question(plain_question(case.text, None, bot_id=1), MAX_CHARS)
    except BylineError as error:
        return judge(case, str(error), None)
    except Exception:  # noqa: BLE001 - counting crashes is the point
        return "crashed"
    return judge(case, None, cleaned)


def _argv_bytes(text: str) -> bytes:
    """The bytes a shell would pass: undecodable bytes as themselves, other lone surrogates as CESU bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def ask_cli(case: Case, env: dict[str, str]) -> str:
    argument = _argv_bytes(case.text.replace("\x00", ""))  # argv cannot carry NUL
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "--json", "--", argument], env=env, capture_output=True, timeout=600
    )
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode not in (0, 2) or "Traceback" in stderr:
        return "crashed"
    if result.returncode == 2:
        lines = stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return "unclear"
        return judge(case, lines[0].removeprefix("error: "), None)
    question = json.loads(result.stdout)["question"]
    return judge(case, None, question)


def cli_sample(cases: list[Case], size: int, seed: int) -> list[Case]:
    if size <= 0:
        return []
    by_family: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        if len(_argv_bytes(case.text)) < 100_000:  # the kernel's limit for one argument is 128 KiB
            by_family[case.family].append(case)
    rng = random.Random(seed)
    per_family = max(1, size // len(by_family))
    return [case for family in by_family.values() for case in rng.sample(family, min(per_family, len(family)))]


def print_table(title: str, cases: list[Case], outcomes: list[str]) -> None:
    counts: dict[str, Counter] = defaultdict(Counter)
    for case, outcome in zip(cases, outcomes):
        counts[case.family][outcome] += 1
    counts["all"] = sum(counts.values(), Counter())
    print(f"\n{title}")
    print(f"{'family':26s} {'tried':>6s} {'crashed':>8s} {'unclear':>8s} {'lost':>6s}")
    for family, count in counts.items():
        tried = sum(count.values())
        print(f"{family:26s} {tried:6d} {count['crashed']:8d} {count['unclear']:8d} {count['lost']:6d}")


def examples(cases: list[Case], outcomes: list[str], limit: int = 3) -> None:
    shown: Counter = Counter()
    for case, outcome in zip(cases, outcomes):
        if outcome != "ok" and shown[outcome] < limit:
            shown[outcome] += 1
            print(f"  {outcome}: [{case.family}] {ascii(case.text[:120])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-family", type=int, default=500)
    parser.add_argument("--cli-sample", type=int, default=42, help="questions also asked through `byline ask`")
    parser.add_argument("--seed", type=int, default=20231206)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: on a busy 2-core machine more threads only contend)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the CLI's subprocesses
    import torch

    torch.set_num_threads(args.threads)

    cases = generate(args.per_family, args.seed)
    with tempfile.TemporaryDirectory(prefix="byline-fuzz-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for name, text in TINY_CORPUS.items():
            (corpus / name).write_text(text, encoding="utf-8")
        settings = IndexSettings(corpus_path=corpus, index_path=Path(tmp) / "index")
        byline = Byline(settings, AnswerSettings())
        byline.reindex()

        started = time.perf_counter()
        outcomes = [ask_service(byline, case) for case in cases]
        seconds = time.perf_counter() - started
        print_table(
            f"Service (Byline.ask, bundled model, tiny index): {len(cases):,} questions in {seconds:.0f} s",
            cases,
            outcomes,
        )
        examples(cases, outcomes)

        started = time.perf_counter()
        discord_outcomes = [clean_as_discord(case) for case in cases]
        seconds = time.perf_counter() - started
        print_table(
            f"Discord text layer (plain_question, then the core's cleaning; no search): {len(cases):,} questions "
            f"in {seconds:.1f} s",
            cases,
            discord_outcomes,
        )
        examples(cases, discord_outcomes)

        sample = cli_sample(cases, args.cli_sample, args.seed)
        root = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": root,
            "BYLINE_CORPUS_PATH": str(corpus),
            "BYLINE_INDEX_PATH": str(settings.index_path),
            "XDG_DATA_HOME": str(Path(tmp) / "data"),
        }
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            cli_outcomes = list(pool.map(lambda case: ask_cli(case, env), sample))
        seconds = time.perf_counter() - started
        print_table(
            f"CLI (python -m bot.cli ask --json, argv bytes): {len(sample)} questions in {seconds:.0f} s",
            sample,
            cli_outcomes,
        )
        examples(sample, cli_outcomes)


if __name__ == "__main__":
    main()
