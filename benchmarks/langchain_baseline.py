"""Index build time: Byline against the LangChain tutorial stack, on the same articles in the same run.

    pip install -e '.[bench]'     # the LangChain packages; never needed at run time
    python benchmarks/langchain_baseline.py [--articles FILE.jsonl] [--count N] [--skip-byline]

The baseline is the tutorial stack: LangChain's token splitter (SentenceTransformersTokenTextSplitter,
256 tokens, its default 50 overlap) + all-MiniLM-L6-v2 (the bundled copy, through
HuggingFaceEmbeddings, normalised) + FAISS (langchain-community). Byline builds its index from
scratch (`build_index`, default chunking, the encoder's default runtime). Both models are loaded
before the clock starts. Prints each build's seconds and chunks/s, and Byline's time as a ratio of
the baseline's. Defaults to the 609 MultiHop-RAG articles; use --count for a sample on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import EVAL, configured_model_cache  # noqa: E402

from corpus.models import Article  # noqa: E402
from corpus.readers import load_corpus  # noqa: E402
from embeddings.chunking import ChunkerSettings  # noqa: E402
from embeddings.encoder import BUNDLED_MODEL, Encoder, resolve_model_path  # noqa: E402
from embeddings.indexer import build_index  # noqa: E402


def langchain_build(articles: list[Article]) -> tuple[float, float, int]:
    """Seconds to split, seconds to embed and index, and the number of chunks."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import SentenceTransformersTokenTextSplitter

    model = resolve_model_path(BUNDLED_MODEL)
    splitter = SentenceTransformersTokenTextSplitter(model_name=model, tokens_per_chunk=256)
    embeddings = HuggingFaceEmbeddings(
        model_name=model, model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
    )
    embeddings.embed_query("warm up")
    documents = [Document(page_content=a.body, metadata={"id": a.id, "title": a.title}) for a in articles]
    started = time.perf_counter()
    chunks = splitter.split_documents(documents)
    split = time.perf_counter() - started
    started = time.perf_counter()
    store = FAISS.from_documents(chunks, embeddings)
    embed = time.perf_counter() - started
    assert store.index.ntotal == len(chunks)
    return split, embed, len(chunks)


def byline_build(articles: list[Article], model_cache: Path) -> tuple[float, int, str]:
    encoder = Encoder(model_cache=model_cache)
    encoder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        report = build_index(articles, Path(folder), encoder, ChunkerSettings())
        return time.perf_counter() - started, report.chunks, encoder.runtime.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=EVAL / "articles.jsonl")
    parser.add_argument("--count", type=int, default=0, help="first N articles only (0: all)")
    parser.add_argument("--skip-byline", action="store_true")
    args = parser.parse_args()
    articles = load_corpus(args.articles).articles
    articles = articles[: args.count] if args.count else articles
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{len(articles)} articles")

    split, embed, chunks = langchain_build(articles)
    baseline = split + embed
    print(
        f"LangChain tutorial stack: {baseline:.1f} s ({chunks / baseline:.1f} chunks/s, {chunks} chunks): "
        f"split {split:.1f} s, embed + FAISS {embed:.1f} s"
    )
    if not args.skip_byline:
        seconds, byline_chunks, runtime = byline_build(articles, configured_model_cache())
        print(
            f"Byline ({runtime}): {seconds:.1f} s ({byline_chunks / seconds:.1f} chunks/s, {byline_chunks} chunks) "
            f"= {seconds / baseline:.2f}x the LangChain stack's time"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
