"""BM25 tokens kept sentence by sentence, and the score of a passage's best sentence (real tokenizer, real
chunker, real BM25 index of a small built index)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.models import Article
from embeddings.chunking import Chunker
from embeddings.encoder import Encoder
from embeddings.lexical import HEADER, K1, SentenceTokens, chunk_tokens, lexical_header, lexical_text, lexical_tokens
from embeddings.search import HybridSearcher, SearchConfig
from embeddings.store import open_index
from tests.conftest import front_matter_article, write_corpus
from tests.embeddings.test_indexer import SETTINGS, build

BODY = (
    "The harbor council approved the dredging plan on Monday. Work on the channel starts in May, "
    "officials said. Residents asked whether cargo traffic would harm the bay."
)


def test_a_chunks_tokens_are_its_bm25_documents_numbered_by_sentence(encoder: Encoder) -> None:
    article = Article(id="a", title="Harbor plan approved", outlet="Coast Daily", paragraphs=[BODY, BODY])
    chunks = Chunker(encoder.tokenizer, SETTINGS).chunk(article)
    header = lexical_tokens([lexical_header(article)])[0]
    for chunk, tokens in zip(chunks, chunk_tokens(article, chunks), strict=True):
        assert tokens.words == lexical_tokens([lexical_text(article, chunk.text)])[0], "the BM25 document is unchanged"
        assert tokens.sentences[: len(header)] == [HEADER] * len(header)
        body = tokens.sentences[len(header) :]
        assert body == sorted(body) and len(set(body)) >= 2, "numbered in order, one run per sentence"
        first_sentence = chunk.text[chunk.sentences[0][0] : chunk.sentences[1][0]]
        words = [w for w, n in zip(tokens.words, tokens.sentences) if n == body[0]]
        assert words == lexical_tokens([first_sentence])[0]


def test_the_best_sentence_scores_words_found_together_above_words_apart() -> None:
    # Two chunks of two sentences each (token ids; -1 marks the header). Query: tokens 7 and 9.
    together = [[5, 5], [7, 9, 4]]
    apart = [[7, 4, 4], [9, 5]]
    flat, sentences, offsets = [], [], [0]
    for chunk in (together, apart):
        flat += [1, 2]
        sentences += [HEADER, HEADER]
        for number, sentence in enumerate(chunk):
            flat += sentence
            sentences += [number] * len(sentence)
        offsets.append(len(flat))
    tokens = SentenceTokens(np.array(flat), np.array(offsets), np.array(sentences, dtype=np.int16), 2.5)
    idf = np.array([1.0, 2.0])
    scores = tokens.best_sentence_scores(np.array([0, 1]), np.array([7, 9]), idf, 2.5)

    def term(idf: float, length: int) -> float:  # one occurrence in a sentence of `length` tokens
        return idf / (1 + K1 * (0.25 + 0.75 * length / 2.5))

    assert scores[0] == pytest.approx(term(1.0, 3) + term(2.0, 3))
    assert scores[1] == pytest.approx(max(term(1.0, 3), term(2.0, 2)))
    assert scores[0] > scores[1]
    assert tokens.best_sentence_scores(np.array([1, 0]), np.array([1, 2]), idf, 2.5).tolist() == [0.0, 0.0], (
        "header words are no sentence's"
    )


def test_a_passage_stating_the_question_in_one_sentence_ranks_above_one_scattering_its_words(
    encoder: Encoder, tmp_path: Path
) -> None:
    files = {
        "focused.md": front_matter_article(
            "Council notes",
            "Harbour News",
            "2023-11-01",
            [
                "Dredging of the harbor channel will start in May. The council met on Tuesday. The board approved a budget."
            ],
        ),
        "scattered.md": front_matter_article(
            "Council notes",
            "Harbour News",
            "2023-11-01",
            ["The harbor board met on Tuesday. The council said the channel needs work. Dredging may start in May."],
        ),
    }
    index = tmp_path / "index"
    build(encoder, write_corpus(tmp_path / "corpus", files), index)
    question = "When will dredging of the harbor channel start?"
    with open_index(index, encoder.model_name, SETTINGS) as snapshot:
        with_sentences = HybridSearcher(snapshot, encoder).search(question, k=2)
        passages_only = HybridSearcher(snapshot, encoder, SearchConfig(sentence_weight=0)).search(question, k=2)
    assert [r.article.id for r in with_sentences] == ["focused", "scattered"]
    gap = {r.article.id: r.score for r in with_sentences}
    before = {r.article.id: r.score for r in passages_only}
    assert gap["focused"] - gap["scattered"] > before["focused"] - before["scattered"] + 0.05


def test_a_passage_in_a_segment_added_later_scores_its_sentences_as_the_first_segment_would(
    encoder: Encoder, tmp_path: Path
) -> None:
    body = ["Dredging of the harbor channel will start in May. The council met on Tuesday."]
    others = {
        f"other-{i}.md": front_matter_article(
            f"Notes {i}", "Harbour News", "2023-11-02", [f"Story {i} is about the market hall and its {i} stalls."]
        )
        for i in range(6)
    }
    first = {"first.md": front_matter_article("Council notes", "Harbour News", "2023-11-01", body), **others}
    corpus, index = write_corpus(tmp_path / "corpus", first), tmp_path / "index"
    build(encoder, corpus, index)
    write_corpus(corpus, {"later.md": front_matter_article("Council notes", "Harbour News", "2023-11-01", body)})
    assert build(encoder, corpus, index).segments == 2, "the later article is a segment of its own"

    question = "When will dredging of the harbor channel start?"
    with open_index(index, encoder.model_name, SETTINGS) as snapshot:
        with_sentences = HybridSearcher(snapshot, encoder).search(question, k=10)
        passages_only = HybridSearcher(snapshot, encoder, SearchConfig(sentence_weight=0)).search(question, k=10)
    gained = {r.article.id: r.score for r in with_sentences}
    for result in passages_only:
        gained[result.article.id] -= result.score
    assert gained["first"] > 0.1
    assert gained["later"] == pytest.approx(gained["first"]), "weighed by the first segment's statistics"
