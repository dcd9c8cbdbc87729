"""Can answers use sentence vectors pooled at index time instead of embedding each sentence alone?

    python benchmarks/sentence_vectors.py [--questions N] [--passages K]

For MultiHop-RAG dev questions (answerable ones, the first N), the top K passages by BM25 (the
chunker's real chunks of the 609 articles, with the title/outlet/date header Byline's search uses)
give the candidate sentences an answer is chosen from. Each sentence gets two vectors: pooled from
its passage's forward pass (`Encoder.encode_with_spans`) and embedded alone (what answers do now).
Prints how close the two are, how often the sentence most similar to the question is the same, how
often it holds a gold evidence excerpt, and the same for the whole answer composer (its sentences
and whether it cites gold evidence), each for standalone vs pooled vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import bm25s
import numpy as np
import Stemmer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import EVAL, configured_model_cache  # noqa: E402

from bot.answer import AnswerComposer  # noqa: E402
from corpus.readers import load_corpus  # noqa: E402
from embeddings.chunking import Chunk, Chunker, ChunkerSettings, sentence_spans  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.search import SearchResult, lexical_header  # noqa: E402


class LookupEncoder:
    """Hands the composer the sentence vectors chosen for this question (and the real question vector)."""

    def __init__(self, encoder: Encoder, vectors: dict[str, np.ndarray]) -> None:
        self._encoder = encoder
        self._vectors = vectors

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vectors[t] if t in self._vectors else self._encoder.encode([t])[0] for t in texts])


VARIANTS = ("alone", "pooled")


def _per_variant() -> dict[str, float]:
    return dict.fromkeys(VARIANTS, 0.0)


@dataclass
class Tally:
    questions: int = 0
    reachable: int = 0  # a candidate sentence holds gold evidence
    top_agree: dict[str, float] = field(default_factory=_per_variant)  # the same best sentence as "alone"
    top_gold: dict[str, float] = field(default_factory=_per_variant)
    answer_gold: dict[str, float] = field(default_factory=_per_variant)
    answer_same_first: dict[str, float] = field(default_factory=_per_variant)
    answer_jaccard: dict[str, float] = field(default_factory=_per_variant)
    refused: dict[str, float] = field(default_factory=_per_variant)


def squash(text: str) -> str:
    return "".join(text.split())


def holds_gold(sentence: str, gold: list[str]) -> bool:
    """The sentence contains a gold excerpt, or is part of one (sentence splitters differ)."""
    s = squash(sentence)
    return any(g in s or (len(s) > 20 and s in g) for g in gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=EVAL / "articles.jsonl")
    parser.add_argument("--questions-file", type=Path, default=EVAL / "dev-questions.jsonl")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--nulls", type=int, default=75, help="null queries (the corpus cannot answer them)")
    parser.add_argument("--passages", type=int, default=3, help="passages read per question (the composer reads 3)")
    args = parser.parse_args()

    encoder = Encoder(model_cache=configured_model_cache())
    print(f"runtime: {encoder.runtime.value}")
    articles = load_corpus(args.articles).articles
    by_id = {a.id: a for a in articles}
    chunker = Chunker(encoder.tokenizer, ChunkerSettings(encoder.max_tokens, 48))
    chunks = [c for a in articles for c in chunker.chunk(a)]
    stemmer = Stemmer.Stemmer("english")
    documents = [f"{lexical_header(by_id[c.article_id])}\n{c.text}" for c in chunks]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(documents, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
    )

    records = [json.loads(line) for line in args.questions_file.read_text(encoding="utf-8").splitlines()]
    questions = [q for q in records if q.get("evidence")][: args.questions]
    nulls = [q for q in records if not q.get("evidence")][: args.nulls]
    composer = AnswerComposer(encoder)
    tally = Tally()
    cosines: list[float] = []
    pooled_cache: PooledCache = {}
    alone_cache: dict[str, np.ndarray] = {}
    best_similarity: dict[tuple[str, bool], list[float]] = {}  # (vectors, answerable) -> best sentence similarity
    for record in [*questions, *nulls]:
        question = record["question"]
        answerable = bool(record.get("evidence"))
        gold = [squash(e["excerpt"]) for e in record["evidence"]]
        query_tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False)
        rows, scores = retriever.retrieve(query_tokens, k=args.passages, show_progress=False)
        top = [int(r) for r in rows[0]]
        results = [
            SearchResult(r, chunks[r], by_id[chunks[r].article_id], float(s), 0.0, float(s))
            for r, s in zip(top, scores[0])
        ]
        _embed_pooled([r for r in top if r not in pooled_cache], chunks, encoder, pooled_cache)
        candidates = composer._candidates(results, composer.sentences)
        if not candidates:
            continue
        texts = [c.text for c in candidates]
        new = [t for t in dict.fromkeys(texts) if t not in alone_cache]
        alone_cache.update(zip(new, encoder.encode(new)) if new else [])
        alone = np.vstack([alone_cache[t] for t in texts])
        pooled_rows = [_pooled_vector(c, chunks, top, pooled_cache) for c in candidates]
        vectors = {
            "alone": alone,
            "pooled": np.vstack(pooled_rows),
        }
        cosines += list(np.sum(alone * vectors["pooled"], axis=1))
        query = encoder.encode([question])[0]
        for name, matrix in vectors.items():
            best_similarity.setdefault((name, answerable), []).append(float(np.max(matrix @ query)))
        if not answerable:
            continue
        tally.questions += 1
        tally.reachable += any(holds_gold(t, gold) for t in texts)
        best = {name: int(np.argmax(matrix @ query)) for name, matrix in vectors.items()}
        chosen = {}
        for name, matrix in vectors.items():
            tally.top_agree[name] += best["alone"] == best[name]
            tally.top_gold[name] += holds_gold(texts[best[name]], gold)
            lookup = LookupEncoder(encoder, dict(zip(texts, matrix)))
            picked = AnswerComposer(cast(Encoder, lookup), composer.config)._choose(
                question, query, candidates, composer.config.sentences
            )
            chosen[name] = [(c.article_id, c.start) for c in picked]
            tally.refused[name] += not picked
            tally.answer_gold[name] += any(holds_gold(c.text, gold) for c in picked)
            a, b = set(chosen["alone"]), set(chosen[name])
            tally.answer_jaccard[name] += len(a & b) / len(a | b) if a | b else 1.0
            tally.answer_same_first[name] += chosen["alone"][:1] == chosen[name][:1]
    _report(tally, np.array(cosines), args.passages)
    _report_refusals(best_similarity, composer.config.min_relevance)


PooledCache = dict[int, np.ndarray]  # passage row -> its sentences' vectors


def _embed_pooled(rows: list[int], chunks: list[Chunk], encoder: Encoder, cache: PooledCache) -> None:
    if not rows:
        return
    texts = [chunks[r].text for r in rows]
    result = encoder.encode_with_spans(texts, [sentence_spans(t) for t in texts])
    for i, row in enumerate(rows):
        cache[row] = result.spans_of(i)


def _pooled_vector(candidate: Any, chunks: list[Chunk], top: list[int], cache: PooledCache) -> np.ndarray:
    """The candidate's vector pooled in the passage it was taken from (the first of the top passages holding it)."""
    for row in top:
        chunk = chunks[row]
        if chunk.article_id == candidate.article_id and chunk.start <= candidate.start < chunk.end:
            spans = sentence_spans(chunk.text)
            index = spans.index((candidate.start - chunk.start, candidate.end - chunk.start))
            return cache[row][index]
    raise LookupError("candidate not in its passages")


def _report(tally: Tally, cosines: np.ndarray, passages: int) -> None:
    n = tally.questions
    print(
        f"{n} answerable dev questions, top {passages} BM25 passages each; {len(cosines)} candidate sentences "
        "(with the null queries')"
    )
    print(
        f"cosine(pooled in context, embedded alone): mean {cosines.mean():.3f}, p5 {np.percentile(cosines, 5):.3f}, "
        f"median {np.median(cosines):.3f}, min {cosines.min():.3f}"
    )
    print(f"a candidate sentence holds gold evidence for {tally.reachable / n:.1%} of the questions")
    print(
        "vectors   | best sentence same as alone | it holds gold | answer cites gold | refused | answer's first "
        "sentence same as alone | Jaccard of answer sentences vs alone"
    )
    for name in VARIANTS:
        print(
            f"{name:9} | {tally.top_agree[name] / n:27.1%} | {tally.top_gold[name] / n:13.1%} | "
            f"{tally.answer_gold[name] / n:17.1%} | {tally.refused[name] / n:7.1%} | "
            f"{tally.answer_same_first[name] / n:36.1%} | {tally.answer_jaccard[name] / n:.2f}"
        )


def _report_refusals(best: dict[tuple[str, bool], list[float]], threshold: float) -> None:
    """Refusal happens when no sentence reaches the threshold: each kind of vector at today's threshold,
    and the threshold it would need to refuse as many null queries as standalone vectors do."""
    if ("alone", False) not in best:
        return
    refused = {key: float(np.mean(np.array(values) < threshold)) for key, values in best.items()}
    for name in VARIANTS:
        null = np.array(best[(name, False)])
        matched = float(np.quantile(null, refused[("alone", False)]))
        print(
            f"{name}: refused at {threshold:.2f}: answerable {refused[(name, True)]:.1%}, null "
            f"{refused[(name, False)]:.1%}; as many null queries as alone at {matched:.3f}, answerable refused "
            f"there {np.mean(np.array(best[(name, True)]) < matched):.1%}; median best similarity answerable "
            f"{np.median(best[(name, True)]):.3f}, null {np.median(null):.3f}"
        )


if __name__ == "__main__":
    main()
