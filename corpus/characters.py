"""Characters an Article must never carry, and how to show untrusted text safely on one line.

Lone surrogates (U+D800..U+DFFF) reach Python strings from JSON or YAML escapes ("\\ud800") and
from file names that are not valid UTF-8 (os.fsdecode's surrogateescape). They cannot be encoded,
so one of them stops the tokenizer, SQLite and JSON alike. Control characters (other than tab
and line breaks) are not text either, and in a terminal they can be escape sequences. Both are
replaced with U+FFFD, the replacement character, so the rest of the text is kept.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

# Lone surrogates, C0 controls except \t \n \r, DEL and C1 controls.
_INVALID = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In one-line values (ids) line breaks and tabs are invalid too, Unicode line separators included.
_INVALID_ON_ONE_LINE = re.compile(r"[\ud800-\udfff\x00-\x1f\x7f-\x9f\u2028\u2029]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def replace_invalid(text: str, one_line: bool = False) -> tuple[str, int]:
    """The text with every invalid character replaced by U+FFFD, and how many were replaced."""
    pattern = _INVALID_ON_ONE_LINE if one_line else _INVALID
    return pattern.subn(REPLACEMENT, text)


def printable(text: str) -> str:
    """Untrusted text (a file name, a parser's message) for a one-line message: control characters
    and line breaks are shown escaped (\\n, \\x07) and undecodable bytes as \\udcXX, never raw."""
    escaped = _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")
