"""The MultiHop-RAG retrieval metrics (official rule) and Byline's answer-level measures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer_model import Answer


def _squash(text: str) -> str:
    """The official rule compares texts with spaces and newlines removed."""
    return text.replace(" ", "").replace("\n", "")


def first_hit_rank(passages: list[str], evidence: list[str], k: int = 10) -> int | None:
    """1-based rank of the first passage containing any gold excerpt, within the top k."""
    gold = [_squash(e) for e in evidence if e.strip()]
    for rank, passage in enumerate(passages[:k], start=1):
        squashed = _squash(passage)
        if any(g in squashed for g in gold):
            return rank
    return None


def evidence_recall(passages: list[str], evidence: list[str], k: int = 10) -> float:
    """Share of the gold excerpts found in the top k passages."""
    gold = [_squash(e) for e in evidence if e.strip()]
    if not gold:
        return 0.0
    top = [_squash(p) for p in passages[:k]]
    return sum(1 for g in gold if any(g in p for p in top)) / len(gold)


@dataclass
class RetrievalMetrics:
    """Running totals over the questions that have gold evidence."""

    questions: int = 0
    hits4: int = 0
    hits10: int = 0
    reciprocal_ranks: float = 0.0
    recall10: float = 0.0
    cited_gold: int = 0
    cited_share: float = 0.0
    answerable_refused: int = 0
    null_questions: int = 0
    null_refused: int = 0
    by_type: dict[str, RetrievalMetrics] = field(default_factory=dict)

    def add(
        self,
        passages: list[str],
        evidence: list[str],
        cited: list[str] | None = None,
        refused: bool = False,
        question_type: str | None = None,
    ) -> None:
        if not evidence:
            self.null_questions += 1
            self.null_refused += refused
            return
        rank = first_hit_rank(passages, evidence)
        self.questions += 1
        self.hits4 += rank is not None and rank <= 4
        self.hits10 += rank is not None
        self.reciprocal_ranks += 1 / rank if rank else 0.0
        self.recall10 += evidence_recall(passages, evidence)
        self.cited_gold += bool(cited) and first_hit_rank(cited or [], evidence, k=len(cited or [])) is not None
        self.cited_share += evidence_recall(cited or [], evidence, k=len(cited or []))
        self.answerable_refused += refused
        if question_type:
            self.by_type.setdefault(question_type, RetrievalMetrics()).add(passages, evidence, cited, refused)

    def add_answer(self, answer: Answer, record: dict) -> None:
        """Count `answer` to the question `record` (MultiHop-RAG fields)."""
        self.add(
            [p.text for p in answer.passages],
            gold_excerpts(record),
            [c.excerpt for c in answer.citations],
            answer.refused,
            record.get("question_type"),
        )

    def row(self) -> dict[str, float]:
        n = max(self.questions, 1)
        return {
            "questions": self.questions,
            "hits@4": self.hits4 / n,
            "hits@10": self.hits10 / n,
            "mrr@10": self.reciprocal_ranks / n,
            "evidence_recall@10": self.recall10 / n,
            "citations_with_gold": self.cited_gold / n,
            "gold_cited_share": self.cited_share / n,
            "refused_answerable": self.answerable_refused / n,
            "refused_null": self.null_refused / max(self.null_questions, 1),
        }


def read_questions(path: Path) -> list[dict]:
    """Questions from a JSONL file; each needs `question`, and `id` and `evidence` are used when present."""
    questions = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not valid JSON ({error.msg})") from error
            if not isinstance(record, dict) or not str(record.get("question") or "").strip():
                raise ValueError(f"{path}, line {number}: no question")
            questions.append(record)
    return questions


def gold_excerpts(record: dict) -> list[str]:
    evidence = record.get("evidence") or []
    return [e["excerpt"] for e in evidence if isinstance(e, dict) and str(e.get("excerpt") or "").strip()]
