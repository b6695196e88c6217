"""Column contracts of every output table (documented in docs/outputs.md, checked in tests)."""

from __future__ import annotations

import pandas as pd

from .labels import LABELS

SENTENCES = [
    "doc_id", "sent_id", "start_char", "end_char", "text", "stance_bearing", "label", "confidence",
    *[f"p_{lab}" for lab in LABELS], "actors", "evidence",
    # extras beyond the contract: layout kind of the sentence and the detector's probability
    "kind", "p_stance",
]
ENTITIES = ["doc_id", "sent_id", "start_char", "end_char", "text", "spacy_label", "actor"]
DOCUMENTS = [
    "doc_id", "path", "title", "date", "n_sentences", "n_stance",
    *[f"n_{lab}" for lab in LABELS], *[f"share_{lab}" for lab in LABELS],
    "stance_index", "dominant_label", "top_actors",
]
DYADS = ["doc_id", "actor_a", "actor_b", "n_stance", *[f"n_{lab}" for lab in LABELS], "stance_index"]

TABLES = {"sentences": SENTENCES, "entities": ENTITIES, "documents": DOCUMENTS, "dyads": DYADS}
LIST_COLUMNS = {"actors", "evidence", "top_actors"}


def check_columns(name: str, df: pd.DataFrame) -> None:
    """Raise ValueError when ``df`` does not have exactly the contract's columns, in order."""
    expected = TABLES[name]
    if list(df.columns) != expected:
        missing = [c for c in expected if c not in df.columns]
        extra = [c for c in df.columns if c not in expected]
        raise ValueError(f"table {name!r} breaks its column contract: missing {missing}, unexpected {extra}")


def empty(name: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in TABLES[name]})
