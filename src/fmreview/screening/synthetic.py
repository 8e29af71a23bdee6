"""Synthetic labelled screening data, for tests and demos (no real records needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

RELEVANT = [
    "foundation",
    "model",
    "segmentation",
    "pretrained",
    "radiology",
    "transformer",
    "zero-shot",
]
OTHER = [
    "protein",
    "survey",
    "cohort",
    "trial",
    "dose",
    "genome",
    "policy",
    "economics",
    "nursing",
    "surgery",
]
COMMON = ["study", "results", "method", "patients", "analysis", "data", "we", "propose", "show"]


def synthetic_frame(n: int = 120, n_relevant: int = 12, seed: int = 0) -> pd.DataFrame:
    """Records whose relevant ones share vocabulary; a few have no text."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rel = i < n_relevant
        vocab = RELEVANT if rel else OTHER
        words = (
            list(rng.choice(vocab, 6))
            + list(rng.choice(COMMON, 8))
            + list(rng.choice(OTHER + RELEVANT, 2))
        )
        title = " ".join(rng.choice(vocab, 3))
        rows.append(
            {
                "record_id": i,
                "title": title,
                "abstract": " ".join(words),
                "label_included": int(rel),
            }
        )
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    # a record without text: object columns, so the missing value is None under pandas 2
    # and 3 alike (pandas 3's string dtype would turn it into NaN, which is truthy)
    df = df.astype({"title": object, "abstract": object})
    df.loc[df.index[-1], ["title", "abstract"]] = [None, None]
    return df
