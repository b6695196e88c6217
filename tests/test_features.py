"""Sentence features from hand-built spaCy Docs: no trained pipeline needed."""

from __future__ import annotations

import spacy
from spacy.tokens import Doc, Span

from pipeline.extract.actors import ActorNormaliser
from pipeline.extract.features import analyse_doc


def make_doc(words, spaces, sent_starts, ents, deps=None, heads=None):
    vocab = spacy.blank("en").vocab
    doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts, deps=deps, heads=heads)
    doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in ents]
    return doc


def test_actor_masking_relations_and_cues():
    # "Beijing did not condemn Tokyo , despite the protest ."
    words = ["Beijing", "did", "not", "condemn", "Tokyo", ",", "despite", "the", "protest", "."]
    heads = [3, 3, 3, 3, 3, 3, 3, 8, 6, 3]
    deps = ["nsubj", "aux", "neg", "ROOT", "dobj", "punct", "prep", "det", "pobj", "punct"]
    doc = make_doc(words, [True] * 4 + [False, True, True, True, False, False], [1] + [0] * 9,
                   [(0, 1, "GPE"), (4, 5, "GPE")], deps=deps, heads=heads)
    s = analyse_doc(doc, "d", ActorNormaliser()).sentences[0]
    assert s["actors"] == ["CHN", "JPN"]
    assert s["masked"] == "ACTOR did not condemn ACTOR , despite the protest ."
    cues = s["cues"].split()
    for cue in ("NEG", "NEG_condemn", "CONTRAST", "CONTRAST_despite", "REL_nsubj_condemn", "REL_dobj_condemn",
                "NACT_2", "ROOT_condemn"):
        assert cue in cues, cue


def test_entities_carry_actor_codes_and_sentence_ids():
    words = ["Kishida", "met", "Xi", ".", "Rain", "fell", "on", "Tuesday", "."]
    doc = make_doc(words, [True, True, False, True, True, True, True, False, False], [1, 0, 0, 0, 1, 0, 0, 0, 0],
                   [(0, 1, "PERSON"), (2, 3, "PERSON"), (7, 8, "DATE")])
    a = analyse_doc(doc, "d", ActorNormaliser())
    assert [(e["text"], e["sent_id"], e["actor"]) for e in a.entities] == [
        ("Kishida", 0, "JPN"), ("Xi", 0, "CHN"), ("Tuesday", 1, None)]
    assert a.sentences[1]["actors"] == []
    assert "DATE" in a.sentences[1]["cues"].split()


def test_measure_direction_cues():
    # "Washington lifted the tariffs on Ottawa ." / "Ottawa did not impose new duties ."
    words = ["Washington", "lifted", "the", "tariffs", "on", "Ottawa", ".",
             "Ottawa", "did", "not", "impose", "new", "duties", "."]
    heads = [1, 1, 3, 1, 3, 4, 1, 10, 10, 10, 10, 12, 10, 10]
    deps = ["nsubj", "ROOT", "det", "dobj", "prep", "pobj", "punct",
            "nsubj", "aux", "neg", "ROOT", "amod", "dobj", "punct"]
    spaces = [True, True, True, True, True, False, True, True, True, True, True, True, False, False]
    doc = make_doc(words, spaces, [1] + [0] * 6 + [1] + [0] * 6, [(0, 1, "GPE"), (5, 6, "GPE"), (7, 8, "GPE")],
                   deps=deps, heads=heads)
    first, second = (s["cues"].split() for s in analyse_doc(doc, "d", ActorNormaliser()).sentences)
    assert "MEASURE_DOWN" in first and not any(c.startswith("MEASURE_UP") for c in first)
    assert "MEASURE_UP_NEG" in second and "MEASURE_UP" in second and "MEASURE_DOWN" not in second
