"""What the last build was made from (a fingerprint of the corpus files and library) and what reading them
reported, kept beside the index so that a reindex with nothing changed reads no article at all."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.readers import CorpusNote, SkippedFile

if TYPE_CHECKING:
    from bot.service import ReindexOutcome
    from embeddings.indexer import BuildReport

INPUTS_FILE = "build-inputs.json"


@dataclass(frozen=True)
class BuildInputs:
    fingerprint: str
    generation: str
    skipped: list[tuple[str, str]]
    notes: list[tuple[str, str]]
    from_library: int
    folded: int

    @classmethod
    def of(cls, fingerprint: str, outcome: ReindexOutcome) -> BuildInputs:
        return cls(
            fingerprint,
            outcome.report.generation,
            [(str(s.path), s.reason) for s in outcome.skipped],
            [(str(n.path), n.message) for n in outcome.notes],
            outcome.from_library,
            outcome.folded,
        )

    def outcome(self, report: BuildReport) -> ReindexOutcome:
        from bot.service import ReindexOutcome

        return ReindexOutcome(
            report,
            [SkippedFile(Path(path), reason) for path, reason in self.skipped],
            self.from_library,
            self.folded,
            [CorpusNote(Path(path), message) for path, message in self.notes],
            files_read=0,
        )


def load_build_inputs(index_path: Path) -> BuildInputs | None:
    try:
        data = json.loads((index_path / INPUTS_FILE).read_text(encoding="utf-8"))
        return BuildInputs(
            str(data["fingerprint"]),
            str(data["generation"]),
            [(str(p), str(r)) for p, r in data["skipped"]],
            [(str(p), str(m)) for p, m in data["notes"]],
            int(data["from_library"]),
            int(data["folded"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_build_inputs(index_path: Path, inputs: BuildInputs) -> None:
    """Written whole or not at all; a folder that cannot be written only costs the next reindex a full read."""
    temporary = index_path / f".{INPUTS_FILE}.{uuid.uuid4().hex[:8]}"
    try:
        temporary.write_text(
            json.dumps(inputs.__dict__, ensure_ascii=False), encoding="utf-8", errors="surrogateescape"
        )
        os.replace(temporary, index_path / INPUTS_FILE)
    except OSError:
        temporary.unlink(missing_ok=True)
