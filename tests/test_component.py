"""The brief_stance spaCy component, found through its entry point."""

from __future__ import annotations

import spacy


def test_add_pipe_by_entry_point(mini_model_dir):
    from pipeline.extract.nlp import default_model_name

    nlp = spacy.load(default_model_name(), exclude=["tagger", "attribute_ruler", "lemmatizer"])
    nlp.add_pipe("brief_stance", config={"model": str(mini_model_dir)})
    doc = nlp("Seoul and Tokyo signed a trade accord. Beijing condemned the drills near Taiwan.")
    sents = list(doc.sents)
    assert len(sents) == 2
    for sent in sents:
        assert sent._.stance_bearing in (True, False)
        if sent._.stance_bearing:
            assert sent._.stance_label in ("cooperation", "friction", "hedging")
            assert abs(sum(sent._.stance_probs.values()) - 1) < 1e-6
            assert sent._.stance_label == max(sent._.stance_probs, key=sent._.stance_probs.get)
    assert {"KOR", "JPN"} <= set(sents[0]._.actors)
    assert len(doc._.brief_stance) == 2
