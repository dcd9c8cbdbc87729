"""What the benchmark scripts share: where the MultiHop-RAG files are, and the configured model cache."""

from __future__ import annotations

from pathlib import Path

from bot.settings import IndexSettings, load_section


def _eval_folder() -> Path:
    """../shared/eval/multihop-rag beside the checkout (or beside any folder above it, for worktrees)."""
    for folder in Path(__file__).resolve().parents[1].parents:
        if (folder / "shared/eval/multihop-rag").is_dir():
            return folder / "shared/eval/multihop-rag"
    return Path("shared/eval/multihop-rag")


EVAL = _eval_folder()


def configured_model_cache() -> Path:
    """BYLINE_MODEL_CACHE, or its default: where Byline itself keeps the converted model."""
    settings = load_section(IndexSettings)
    assert isinstance(settings, IndexSettings)
    return settings.model_cache
