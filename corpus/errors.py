"""The one taxonomy of expected errors, shared by every layer and both faces (CLI and Discord).

An expected error is a failure a user can act on: bad input, a bad setting, an index that must be
rebuilt, a site that cannot be reached. Its message is one line that says what is wrong, in the
core's own words; the faces add what to do about it (`remedy`) in their own words, since only they
know their commands. Anything else that escapes is a bug, logged with its traceback.
"""

from __future__ import annotations

from enum import Enum


class Remedy(Enum):
    """What fixes an expected error, for the faces to put in their own words."""

    NONE = "none"
    REINDEX = "reindex"  # rebuilding the index fixes it
    RETRY_LATER = "retry_later"  # something is busy; the same command works later


class BylineError(Exception):
    """An expected failure; str(error) is one line for the user."""

    remedy: Remedy = Remedy.NONE
