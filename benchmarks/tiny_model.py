"""Make a tiny, randomly initialised sentence-transformers model with all-MiniLM-L6-v2's output dimension.

    python benchmarks/tiny_model.py FOLDER [--seed N] [--pooling mean|cls]

A 1-layer BERT of hidden size 64, mean pooling (or another mode) and a Dense layer to 384, with the bundled model's
tokenizer, saved with SentenceTransformer.save into FOLDER. Its vectors carry no meaning, but
`BYLINE_MODEL=FOLDER` exercises indexing, search and answers for real, many times faster than the
real model: for benchmarks at sizes the real model cannot embed here in reasonable time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HIDDEN = 64
DIMENSION = 384
WINDOW = 256


def make_tiny_model(folder: Path, seed: int = 0, pooling: str = "mean") -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as transformers_logging

    from embeddings.encoder import BUNDLED_MODEL, resolve_model_path

    transformers_logging.disable_progress_bar()
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(BUNDLED_MODEL))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=4 * HIDDEN,
        max_position_embeddings=512,
    )
    with tempfile.TemporaryDirectory() as scratch:
        BertModel(config).save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        transformer = Transformer(scratch, max_seq_length=WINDOW)
        pool = Pooling(HIDDEN, pooling_mode=pooling)
        dense = Dense(HIDDEN, DIMENSION, activation_function=torch.nn.Tanh())
        SentenceTransformer(modules=[transformer, pool, dense], device="cpu").save(str(folder))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pooling", default="mean", help="sentence-transformers pooling mode (mean, cls, max...)")
    args = parser.parse_args()
    print(make_tiny_model(args.folder, args.seed, args.pooling))


if __name__ == "__main__":
    main()
