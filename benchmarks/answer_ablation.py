"""Each answer and retrieval lever switched off in turn, on the MultiHop-RAG dev questions.

    python benchmarks/answer_ablation.py [--eval-dir ../shared/eval/multihop-rag] [--index DIR]

Indexes the articles (reused when unchanged, as `byline eval` does), then answers every dev question with
Byline as shipped ("all on") and with one lever off per row, printing the retrieval and answer metrics of
`byline eval` for each. The model is loaded once; an in-memory cache of text vectors makes the rows after
the first cheap (every row embeds the same questions and sentences).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.evaluation import RetrievalMetrics, read_questions  # noqa: E402
from bot.service import Byline  # noqa: E402
from bot.settings import AnswerSettings, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402


class RememberingEncoder(Encoder):
    """The bundled encoder, remembering each text's vector for the rest of the run."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            self._seen.update(zip(missing, super().encode(missing)))
        if not texts:
            return super().encode([])
        return np.vstack([self._seen[t] for t in texts])


Lever = Callable[[Byline], None]


def _composer(**changes: object) -> Lever:
    def apply(byline: Byline) -> None:
        byline.composer.config = dataclasses.replace(byline.composer.config, **changes)  # type: ignore[arg-type]

    return apply


def _retrieval(**changes: object) -> Lever:
    def apply(byline: Byline) -> None:
        byline.retrieval = dataclasses.replace(byline.retrieval, **changes)  # type: ignore[arg-type]

    return apply


def _search(**changes: object) -> Lever:
    def apply(byline: Byline) -> None:
        searcher = byline.searcher()
        searcher.config = dataclasses.replace(searcher.config, **changes)  # type: ignore[arg-type]

    return apply


def _attribute(name: str, value: object) -> Lever:
    return lambda byline: setattr(byline, name, value)


ROWS: dict[str, Lever | None] = {
    "all on": None,
    "no decomposition (no per-part search, no per-part sentences)": _retrieval(decompose=False),
    "no score fusion of question and parts": _retrieval(fuse=False),
    "passages scored without their best sentence's BM25": _search(sentence_weight=0.0),
    "passages chosen with the lead (not by the parts' turns alone)": _retrieval(choose_without_lead=False),
    "a clause naming only its source searched as a part of its own": _retrieval(source_clauses=False),
    "lead 2, chosen with it, source clauses apart (the merge as it was)": _retrieval(
        lead=2, choose_without_lead=False, source_clauses=False
    ),
    "parts embedded apart (not pooled in the question's pass)": _retrieval(part_spans=False),
    "sentences chosen by their pooled vectors (no neighbour contrast)": _composer(neighbour_contrast=0.0),
    "passages in retrieval order (not the quoted ones first)": _composer(cited_first=False),
    "no per-part sentence choice": _composer(per_part=False),
    "sentences from any source (not the outlets and authors named)": _composer(named_sources=False),
    "no specifics check (refusal by similarity only)": _attribute("check_specifics", False),
    "no search for a name missing from the evidence": _attribute("find_names", False),
    "no author lead": _retrieval(authors=False),
    "sentence choice weighs shared words 0.3 against meaning (was)": _composer(lexical_weight=0.3),
    "composer reads 3 passages (was)": _composer(passages_read=3),
    "4 sentences (was)": _composer(sentences=4),
    "support sentences from 0.40 (was 0.30)": _composer(support_relevance=0.40),
}


def run(byline: Byline, records: list[dict]) -> dict[str, float]:
    metrics = RetrievalMetrics()
    for record in records:
        answer = byline.ask(str(record["question"]))
        metrics.add_answer(answer, record)
    return metrics.row()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "multihop-rag")
    parser.add_argument("--index", type=Path, default=Path("/tmp/byline-ablation-index"))
    args = parser.parse_args()
    records = read_questions(args.eval_dir / "dev-questions.jsonl")
    settings = IndexSettings(corpus_path=args.eval_dir / "articles.jsonl", index_path=args.index)
    byline = Byline(settings, AnswerSettings(top_k=10), RememberingEncoder(), with_library=False)
    byline.reindex()
    shipped = (byline.composer.config, byline.retrieval, byline.check_specifics, byline.find_names)
    searching = byline.searcher().config
    print("| configuration | Hits@4 | Hits@10 | MRR@10 | recall@10 | cites gold | gold cited | null refused |")
    print("|---|---|---|---|---|---|---|---|")
    for label, lever in ROWS.items():
        byline.composer.config, byline.retrieval, byline.check_specifics, byline.find_names = shipped
        byline.searcher().config = searching
        if lever is not None:
            lever(byline)
        row = run(byline, records)
        print(
            f"| {label} | {row['hits@4']:.3f} | {row['hits@10']:.3f} | {row['mrr@10']:.3f} | "
            f"{row['evidence_recall@10']:.3f} | {row['citations_with_gold']:.3f} | {row['gold_cited_share']:.3f} | "
            f"{row['refused_null']:.0%} (answerable {row['refused_answerable']:.1%}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
