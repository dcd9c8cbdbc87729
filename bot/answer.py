"""Compose a short extractive answer from retrieved passages: verbatim sentences, each cited [n]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from bot.answer_model import AlsoInRef, Answer, AnswerSentence, Citation, Passage
from bot.coverage import Coverage
from corpus.models import Article
from embeddings.encoder import Encoder
from embeddings.search import SearchResult
from embeddings.sentences import ChunkSentences, EncodedSentences, SentenceSource

NO_COVERAGE = "I couldn't find coverage of that in the indexed articles."
EXCERPT_JOINER = " … "


@dataclass(frozen=True)
class ComposerConfig:
    sentences: int = 4
    # A question of more parts than this gets one more sentence for each: every part its own sentence,
    # and room left for the sentences that answer the whole question.
    parts_in_budget: int = 2
    min_relevance: float = 0.388  # for sentence vectors pooled in the passage pass (0.40 for ones embedded alone)
    support_relevance: float = 0.30
    passages_read: int = 7
    max_per_article: int = 3
    rank_decay: float = 0.01
    anchor_weight: float = 0.5
    lexical_weight: float = 1.0  # words a sentence shares with the question count as much as its meaning
    duplicate_similarity: float = 0.92
    per_part: bool = True
    part_min_relevance: float = 0.3
    cited_first: bool = True  # the passages the answer quotes lead the passages returned
    named_sources: bool = True  # quote the outlets and authors a question (or part) names, when retrieved
    # Choose by a sentence's own meaning: a vector pooled in its passage less this share of its neighbours'.
    neighbour_contrast: float = 0.2


@dataclass(frozen=True)
class NamedSources:
    """The outlets and authors a question or one of its parts names (indexed names): where its answer is."""

    outlets: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.outlets or self.authors)

    def wrote(self, article: Article) -> bool:
        return article.outlet in self.outlets or article.author in self.authors


@dataclass(frozen=True)
class AskedPart:
    """One part of a question as the composer reads it: its text and its embedding."""

    text: str
    vector: np.ndarray
    sources: NamedSources = NamedSources()


@dataclass(frozen=True)
class _Candidate:
    article_id: str
    start: int
    end: int
    text: str
    passage_rank: int
    result: SearchResult
    vector: np.ndarray  # as the source gives it: whether to answer, and repeats, are judged on it
    own: np.ndarray  # its own meaning, for choosing among sentences (`own_vectors`)


def article_ref(article: Article) -> dict:
    return {
        "article_id": article.id,
        "title": article.title,
        "outlet": article.outlet,
        "author": article.author,
        "published": article.published,
        "url": article.url,
        "also_in": [
            AlsoInRef(outlet=a.outlet, url=a.url, title=a.title, published=a.published) for a in article.also_in
        ],
    }


def conversation_query(question: str, context: str | None) -> str:
    """What is searched for: the question, after the conversation's earlier question if there is one."""
    return f"{context}\n{question}" if context else question


def not_covered_text(coverage: Coverage) -> str:
    """The refusal naming what is missing: sources not indexed, then names no retrieved article mentions."""
    details = []
    if coverage.missing_sources:
        details.append(f"no articles from {_listed(coverage.missing_sources)} are indexed")
    if coverage.missing_names:
        details.append(f"no indexed article mentions {_listed(coverage.missing_names)}")
    return f"{NO_COVERAGE.removesuffix('.')}: {'; '.join(details)}." if details else NO_COVERAGE


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def not_covered_answer(question: str, coverage: Coverage, passages: list[Passage]) -> Answer:
    return Answer(
        question=question,
        text=not_covered_text(coverage),
        refused=True,
        passages=passages,
        not_covered=coverage.missing,
    )


def to_passage(result: SearchResult) -> Passage:
    chunk = result.chunk
    return Passage(
        text=chunk.text, score=round(result.score, 6), start=chunk.start, end=chunk.end, **article_ref(result.article)
    )


class AnswerComposer:
    """Picks the sentences of the best passages that answer the question most closely; for a question of
    several parts, first the sentence that best answers each part."""

    def __init__(
        self, encoder: Encoder, config: ComposerConfig | None = None, sentences: SentenceSource | None = None
    ) -> None:
        self.encoder = encoder
        self.config = config or ComposerConfig()
        self.sentences = sentences or EncodedSentences(encoder)
        self._stemmer = Stemmer.Stemmer("english")

    def compose(
        self,
        question: str,
        results: list[SearchResult],
        context: str | None = None,
        query_vector: np.ndarray | None = None,
        sentences: SentenceSource | None = None,
        parts: Sequence[AskedPart] = (),
        sources: NamedSources = NamedSources(),
    ) -> Answer:
        """Answer `question` from `results`; `context` is the conversation's earlier question, if any,
        `query_vector` the embedding of both when the caller has it already, `sentences` where the
        retrieved chunks' sentence vectors come from (the index's own, when it stores them), `parts`
        the question's parts (with their vectors and names) when it has several, and `sources` the outlets
        and authors the question names: their sentences are quoted when any was retrieved."""
        passages = [to_passage(r) for r in results]
        candidates = self._candidates(results[: self.config.passages_read], sentences or self.sentences)
        if query_vector is None:
            query_vector = self.encoder.encode([conversation_query(question, context)])[0]
        chosen, uncovered = self._choose_for_parts(question, query_vector, candidates, parts, sources)
        if not chosen:
            return Answer(question=question, text=NO_COVERAGE, refused=True, passages=passages)
        text, cited, citations = _cite(chosen)
        return Answer(
            question=question,
            text=text,
            refused=False,
            citations=citations,
            passages=self._cited_first(passages, chosen),
            sentences=cited,
            not_covered=[part.text for part in uncovered],
        )

    def _candidates(self, results: list[SearchResult], source: SentenceSource) -> list[_Candidate]:
        seen: set[tuple[str, int]] = set()
        candidates: list[_Candidate] = []
        for rank, (result, found) in enumerate(zip(results, source.sentences(results))):
            chunk = result.chunk
            own = own_vectors(found, self.config.neighbour_contrast)
            for (start, end), vector, mine in zip(found.spans, found.vectors, own):
                key = (chunk.article_id, chunk.start + start)
                text = chunk.text[start:end]
                if key in seen or len(text.split()) < 4:
                    continue
                seen.add(key)
                candidates.append(
                    _Candidate(
                        chunk.article_id, chunk.start + start, chunk.start + end, text, rank, result, vector, mine
                    )
                )
        return candidates

    def _choose_for_parts(
        self,
        question: str,
        query_vector: np.ndarray,
        candidates: list[_Candidate],
        parts: Sequence[AskedPart],
        sources: NamedSources,
    ) -> tuple[list[_Candidate], list[AskedPart]]:
        """The best sentence for each part (in the parts' order), then the best for the whole question; the
        parts no sentence answers well enough."""
        several = len(parts) > 1 and self.config.per_part
        budget = self._budget(len(parts) if several else 1)
        asked = [part.text for part in parts] if several else []
        overlap = _WordOverlap(self._stemmer, [question, *asked], [c.text for c in candidates])
        # One claim: an answer gathered round its best sentence; several: each part's sentence instead.
        whole = self._choose(question, query_vector, candidates, budget, overlap, anchored=not several, sources=sources)
        if not several or not whole:
            return whole, []
        vectors = np.vstack([c.vector for c in candidates]).astype(np.float32)
        owns = np.vstack([c.own for c in candidates]).astype(np.float32)
        chosen: list[int] = []
        uncovered: list[AskedPart] = []
        for part in parts:
            scores, similarity = self._part_scores(part, owns, candidates, overlap)
            scores = np.where(self._named(candidates, part.sources), scores, -np.inf)
            best = self._best(scores, similarity, vectors, chosen)
            if best is None:
                uncovered.append(part)
                continue
            chosen.append(best)
        index = {id(c): i for i, c in enumerate(candidates)}
        for candidate in whole:
            i = index[id(candidate)]
            if len(chosen) >= budget:
                break
            if i not in chosen and not self._repeats(vectors, i, chosen):
                chosen.append(i)
        return [candidates[i] for i in chosen], uncovered

    def _budget(self, parts: int) -> int:
        """How many sentences an answer to a question of this many parts may quote: every part its own."""
        extra = max(0, parts - self.config.parts_in_budget) if parts > 1 else 0
        return max(self.config.sentences + extra, parts)

    def _best(self, scores: np.ndarray, similarity: np.ndarray, vectors: np.ndarray, chosen: list[int]) -> int | None:
        """The best-scored candidate not chosen yet, repeating none chosen, if it answers the part well enough."""
        for i in np.argsort(-scores, kind="stable"):
            if not np.isfinite(scores[i]):
                return None
            if int(i) not in chosen and not self._repeats(vectors, int(i), chosen):
                return int(i) if similarity[i] >= self.config.part_min_relevance else None
        return None

    def _cited_first(self, passages: list[Passage], chosen: list[_Candidate]) -> list[Passage]:
        """The passages the answer quotes first (in retrieval order), then the others: choosing sentences
        ranks the passages it read by their best sentence, which finds the evidence more often than the
        passage's own score."""
        if not self.config.cited_first:
            return passages
        cited = sorted({c.passage_rank for c in chosen})
        return [passages[i] for i in cited] + [p for i, p in enumerate(passages) if i not in cited]

    def _named(self, candidates: list[_Candidate], sources: NamedSources) -> np.ndarray:
        """Which candidates come from the named outlets and authors: all when none does (or none is named)."""
        named = np.array([sources.wrote(c.result.article) for c in candidates], dtype=bool)
        if not self.config.named_sources or not named.any():
            return np.ones(len(candidates), dtype=bool)
        return named

    def _part_scores(
        self, part: AskedPart, vectors: np.ndarray, candidates: list[_Candidate], words: _WordOverlap
    ) -> tuple[np.ndarray, np.ndarray]:
        config = self.config
        similarity = vectors @ part.vector
        overlap = words.of(part.text)
        ranks = np.array([c.passage_rank for c in candidates])
        return similarity + config.lexical_weight * overlap - config.rank_decay * ranks, similarity

    def _repeats(self, vectors: np.ndarray, index: int, chosen: list[int]) -> bool:
        return any(float(vectors[index] @ vectors[other]) > self.config.duplicate_similarity for other in chosen)

    def _choose(
        self,
        question: str,
        query_vector: np.ndarray,
        candidates: list[_Candidate],
        count: int,
        words: _WordOverlap | None = None,
        anchored: bool = True,
        sources: NamedSources = NamedSources(),
    ) -> list[_Candidate]:
        """The best sentences: close in meaning to the question (with its context), sharing its words,
        and close to the best sentence (the answer's anchor); none unless some sentence is close enough in
        meaning to the question (else it is refused: words shared decide which sentences, not whether to
        answer), and no repeats. When the question names outlets or authors whose articles were retrieved,
        the sentences are theirs, and their best one anchors the answer even when less close."""
        if not candidates:
            return []
        config = self.config
        sentences = np.vstack([c.vector for c in candidates]).astype(np.float32)
        if float((sentences @ query_vector).max()) < config.min_relevance:
            return []
        owns = np.vstack([c.own for c in candidates]).astype(np.float32)
        similarity = owns @ query_vector
        words = words or _WordOverlap(self._stemmer, [question], [c.text for c in candidates])
        overlap = words.of(question)
        fit = similarity + config.lexical_weight * overlap
        allowed = self._named(candidates, sources)
        anchor = int(np.argmax(np.where(allowed, fit, -np.inf)))
        ranks = np.array([c.passage_rank for c in candidates])
        scores = (
            similarity
            + config.lexical_weight * overlap
            + (config.anchor_weight if anchored else 0.0) * (owns @ owns[anchor])
            - config.rank_decay * ranks
        )
        chosen: list[int] = []
        per_article: dict[str, int] = {}
        for index in np.argsort(-scores, kind="stable"):
            candidate = candidates[index]
            if (
                not allowed[index]
                or (similarity[index] < config.support_relevance and index != anchor)
                or per_article.get(candidate.article_id, 0) >= config.max_per_article
            ):
                continue
            if any(float(sentences[index] @ sentences[other]) > config.duplicate_similarity for other in chosen):
                continue
            per_article[candidate.article_id] = per_article.get(candidate.article_id, 0) + 1
            chosen.append(int(index))
            if len(chosen) == count:
                break
        return [candidates[i] for i in chosen]


class _WordOverlap:
    """How much of a question's (or a part's) content words each candidate sentence shares, with every
    text tokenized once (bm25s's stemmed content words) however many parts are scored."""

    def __init__(self, stemmer: Stemmer.Stemmer, asked: list[str], sentences: list[str]) -> None:
        asked = list(dict.fromkeys(asked))
        tokens = bm25s.tokenize(
            [*asked, *sentences], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        self._asked = {text: set(words) for text, words in zip(asked, tokens)}
        self._bags = [set(words) for words in tokens[len(asked) :]]

    def of(self, question: str) -> np.ndarray:
        """Share of `question`'s content words (stemmed) each sentence contains, each word weighted by how
        rare it is among the candidate sentences, so the word that sets the question apart counts most."""
        asked, bags = self._asked[question], self._bags
        if not asked or not bags:
            return np.zeros(len(bags))
        weight = {word: np.log(1 + len(bags) / (1 + sum(word in bag for bag in bags))) for word in asked}
        total = sum(weight.values())
        return np.array([sum(weight[w] for w in asked & bag) / total for bag in bags])


def own_vectors(found: ChunkSentences, contrast: float) -> np.ndarray:
    """Each sentence's vector less `contrast` times the mean of its neighbours' (the sentence before and
    after it in the chunk; one at either end), as unit vectors, when the vectors were pooled in the chunk's
    own pass: pooling gives a sentence some of its neighbours' meaning, so a sentence among others close to
    the question looks closer than it is, and the one that answers it, among sentences about other things,
    less close. Vectors embedded sentence by sentence are their own already."""
    vectors = np.asarray(found.vectors, dtype=np.float32)
    if not found.in_context or not contrast or len(vectors) < 2:
        return vectors
    padded = np.vstack([vectors[1:2], vectors, vectors[-2:-1]])
    own = vectors - contrast * (padded[:-2] + padded[2:]) / 2
    return own / np.maximum(np.linalg.norm(own, axis=1, keepdims=True), 1e-12)


def _cite(chosen: list[_Candidate]) -> tuple[str, list[AnswerSentence], list[Citation]]:
    """Number the articles in order of first use; each article's excerpt is its cited sentences in order."""
    numbers: dict[str, int] = {}
    for candidate in chosen:
        numbers.setdefault(candidate.article_id, len(numbers) + 1)
    sentences = [
        AnswerSentence(text=c.text, n=numbers[c.article_id], article_id=c.article_id, start=c.start, end=c.end)
        for c in chosen
    ]
    citations = []
    for article_id, n in numbers.items():
        mine = sorted((s for s in sentences if s.article_id == article_id), key=lambda s: s.start)
        article = next(c.result.article for c in chosen if c.article_id == article_id)
        excerpt = EXCERPT_JOINER.join(s.text for s in mine)
        citations.append(Citation(n=n, excerpt=excerpt, sentences=mine, **article_ref(article)))
    return " ".join(f"{s.text} [{s.n}]" for s in sentences), sentences, citations
