"""Chunk articles, embed the chunks, keep them in a FAISS index with their metadata, and search them."""
