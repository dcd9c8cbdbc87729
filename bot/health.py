"""`byline healthcheck`: is the bot connected (a fresh heartbeat file) and is the index loadable?"""

from __future__ import annotations

import time
from pathlib import Path

from embeddings.chunking import ChunkerSettings
from embeddings.store import IndexMissingError, IndexUnavailableError, current_generation, read_manifest


def heartbeat_problem(path: Path, max_age: float) -> str | None:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat file at {path}: the bot has not connected to Discord"
    if age > max_age:
        return f"the bot's last heartbeat was {age:.0f} s ago (more than {max_age:.0f} s): it is not connected"
    return None


def index_problem(index_path: Path, model: str, chunker: ChunkerSettings) -> str | None:
    """Checks the served generation's pointer and manifest, without loading the vectors."""
    try:
        generation = current_generation(index_path)
        if generation is None:
            raise IndexMissingError(f"There is no index at {index_path} yet.")
        manifest = read_manifest(generation)
        manifest.check_compatible(model, chunker, index_path)
        for name in ("dense.faiss", "metadata.sqlite"):
            if not (generation / name).is_file():
                return f"the index at {index_path} is missing {name}"
    except IndexUnavailableError as error:
        return str(error)
    except (OSError, ValueError, TypeError) as error:
        return f"the index at {index_path} cannot be read: {error}"
    return None
