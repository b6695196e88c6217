"""Loading spaCy with only the components whose output the pipeline reads."""

from __future__ import annotations


import spacy
from spacy.language import Language

from ..errors import UsageError
from ..paths import default_spacy_model as default_model_name
from .. import segment  # noqa: F401  (registers the brief_layout factory)

# What we read: sentence boundaries and dependencies (parser), entities (ner).
# The tagger, attribute ruler and lemmatizer write nothing the pipeline uses.
UNUSED = ("tagger", "attribute_ruler", "lemmatizer", "senter")


def load_nlp(name: str | None = None) -> Language:
    """Load the spaCy model (a package name or a path) with the layout component before the parser."""
    name = name or default_model_name()
    try:
        nlp = spacy.load(name, exclude=list(UNUSED))
    except OSError as e:
        raise UsageError(f"cannot load spaCy model {name!r}: {e}")
    if "parser" not in nlp.pipe_names or "ner" not in nlp.pipe_names:
        raise UsageError(f"spaCy model {name!r} needs a parser and an ner component; it has {nlp.pipe_names}")
    nlp.add_pipe("brief_layout", before="parser")
    nlp.meta.setdefault("_briefs_model_name", name)
    return nlp


def nlp_info(nlp: Language) -> dict:
    return {
        "name": nlp.meta.get("_briefs_model_name", nlp.meta.get("name")),
        "package": f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}",
        "version": nlp.meta.get("version"),
        "spacy_version": spacy.__version__,
        "components": list(nlp.pipe_names),
    }
