"""`byline healthcheck`: is the bot connected (a fresh heartbeat file) and is the index loadable?"""

from __future__ import annotations

import time
from pathlib import Path

from corpus.errors import BylineError
from embeddings.chunking import ChunkerSettings
from embeddings.store import check_index


def heartbeat_problem(path: Path, max_age: float) -> str | None:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat file at {path}: the bot has not connected to Discord"
    if age > max_age:
        return f"the bot's last heartbeat was {age:.0f} s ago (more than {max_age:.0f} s): it is not connected"
    return None


def index_problem(index_path: Path, model: str, chunker: ChunkerSettings) -> str | None:
    """Reads the served generation's vectors and checks them against its metadata and the settings."""
    try:
        check_index(index_path, model, chunker)
    except BylineError as error:
        return str(error)
    return None
