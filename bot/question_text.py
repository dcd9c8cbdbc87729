"""A question as the core accepts it: valid Unicode text with words, of bounded length, nothing invisible.

Face-neutral on purpose: the CLI and Discord turn their own syntax (mentions, markdown) into plain
text first; this only removes what is never part of a question in any language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from corpus.errors import BylineError

EXAMPLE = "“What did Baqeri propose?”"
# A question longer than this many times the limit is refused before any work is done on it.
RAW_LENGTH_FACTOR = 20
# Zero-width (non-)joiners are part of words in Persian and Indic scripts and of emoji sequences: kept
# (one of a run) between two such characters, dropped elsewhere (e.g. hidden inside a Latin word).
_JOINERS = "\u200c\u200d"
_NON_ASCII_VISIBLE = r"[^\s\x00-\x7f\u200c\u200d]"
# Terminal escape sequences (colours, cursor moves, window titles) are control text, not words.
# Only CSI and OSC sequences: a lone ESC before a letter is dropped alone, so no letter goes with it.
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_JOINER_RUN = re.compile(rf"(?<={_NON_ASCII_VISIBLE})([{_JOINERS}])[{_JOINERS}]*(?={_NON_ASCII_VISIBLE})|[{_JOINERS}]+")


_EMPHASIS = re.compile(r"(?<!\w)(\*{1,3}|_{1,3}|~~|`+)(?=\S)(.+?)(?<=\S)\1(?!\w)")


class QuestionError(BylineError, ValueError):
    """A question or filter that cannot be answered as given; the message tells the user why."""


def clean_question(text: str | None, max_chars: int) -> str:
    """`text` made into one line of plain words, or QuestionError saying why it cannot be asked."""
    text = text or ""
    if len(text) > max_chars * RAW_LENGTH_FACTOR:
        raise _too_long(len(text), max_chars)
    text = _valid_unicode(text)
    cleaned = plain_text(text)
    if not cleaned:
        raise QuestionError(f"Ask a question, e.g. {EXAMPLE}")
    if len(cleaned) > max_chars:
        raise _too_long(len(cleaned), max_chars)
    if not any(ch.isalnum() for ch in cleaned):
        raise QuestionError(f"That question has no words in it; ask with words, e.g. {EXAMPLE}")
    return cleaned


def without_emphasis(question: str) -> str:
    """`question` without markdown emphasis markers around words (**bold**, _italic_, ~~struck~~, `code`),
    which carry no meaning to search by; snake_case and lone asterisks stay."""
    return _EMPHASIS.sub(r"\2", question)


def clean_context(text: str | None, max_chars: int) -> str | None:
    """An earlier question of the conversation, cleaned the same way; None when nothing usable is left."""
    if not text:
        return None
    text = _pair_surrogates(text[: max_chars * RAW_LENGTH_FACTOR])
    text = "".join("\ufffd" if _is_surrogate(ch) else ch for ch in text)
    cleaned = plain_text(text)[:max_chars]
    return cleaned if any(ch.isalnum() for ch in cleaned) else None


def plain_text(text: str) -> str:
    """NFC text with look-alike letters folded, without control or format characters or terminal escape
    sequences, whitespace collapsed to single spaces."""
    text = _fold_look_alikes(unicodedata.normalize("NFC", text))
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = "".join(_without_controls(text))
    text = " ".join(text.split())
    return _JOINER_RUN.sub(lambda match: match.group(1) or "", text)


def _fold_look_alikes(text: str) -> str:
    """Compatibility forms of letters and digits (full-width "Ｂ", mathematical "𝐁", ligatures "ﬁ", "²")
    as the plain ones (NFKC); punctuation keeps its form (CJK "？" stays)."""
    if text.isascii():
        return text
    folded = "".join(unicodedata.normalize("NFKC", ch) if unicodedata.category(ch)[0] in "LN" else ch for ch in text)
    return unicodedata.normalize("NFC", folded)


def _without_controls(text: str) -> Iterator[str]:
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc" and not ch.isspace():
            continue  # NUL, bell, escape, C1 controls: invisible, dropped like a terminal shows them
        if category == "Cf" and ch not in _JOINERS:
            continue  # bidi overrides, zero-width spaces, soft hyphens, BOMs, tags: never visible text
        yield ch


def _valid_unicode(text: str) -> str:
    """`text` with surrogate pairs joined; QuestionError at the first lone surrogate (undecodable bytes)."""
    text = _pair_surrogates(text)
    for position, ch in enumerate(text, start=1):
        if _is_surrogate(ch):
            raise QuestionError(
                f"That question is not valid text: character {position} is an undecodable byte or a lone "
                f"surrogate (U+{ord(ch):04X})."
            )
    return text


def _pair_surrogates(text: str) -> str:
    """Join UTF-16 surrogate pairs (e.g. an emoji written as two JSON escapes) into one character."""
    if not any(_is_surrogate(ch) for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def _too_long(length: int, limit: int) -> QuestionError:
    return QuestionError(f"That question is {length:,} characters long; keep it under {limit:,}.")
