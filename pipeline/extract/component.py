"""The ``brief_stance`` spaCy component (entry point ``spacy_factories``).

    nlp = spacy.load("en_core_web_sm")
    nlp.add_pipe("brief_stance", config={"model": "models/current"})
    doc = nlp(text)
    for sent in doc.sents:
        sent._.stance_label, sent._.stance_probs

It needs sentence boundaries and entities (parser/senter and ner before it). Every sentence span
of the Doc gets ``stance_bearing``, ``stance_label`` (None when not stance-bearing),
``stance_probs`` (label -> probability), ``stance_confidence``, ``stance_evidence`` and
``actors``; ``doc._.brief_stance`` holds the same per sentence, with character offsets.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..labels import LABELS

_SPAN_ATTRS = ("stance_bearing", "stance_label", "stance_probs", "stance_confidence", "stance_evidence", "actors")


def _lookup(span: Span, key: str):
    for rec in span.doc._.brief_stance or ():
        if rec["start_char"] <= span.start_char < rec["end_char"] or (
            span.start_char <= rec["start_char"] < span.end_char):
            return rec[key]
    return None


def _register_extensions() -> None:
    if not Doc.has_extension("brief_stance"):
        Doc.set_extension("brief_stance", default=None)
    for attr in _SPAN_ATTRS:
        if not Span.has_extension(attr):
            Span.set_extension(attr, getter=lambda span, a=attr: _lookup(span, a))


@Language.factory(
    "brief_stance",
    requires=["doc.sents", "doc.ents"],
    assigns=["doc._.brief_stance", *[f"span._.{a}" for a in _SPAN_ATTRS]],
    default_config={"model": None, "actors": [], "with_evidence": True, "fast": False},
)
def make_brief_stance(nlp: Language, name: str, model: str | None, actors: list[str], with_evidence: bool,
                      fast: bool):
    return BriefStance(nlp, name, model, tuple(actors), with_evidence, fast)


class BriefStance:
    def __init__(self, nlp: Language, name: str, model: str | None, actors: tuple[str, ...] = (),
                 with_evidence: bool = True, fast: bool = False):
        from ..classify import load_model, resolve_model_dir
        from .actors import ActorNormaliser, build_matcher

        _register_extensions()
        self.name = name
        self.model = load_model(resolve_model_dir(model), fast=fast)  # fast: without the encoder
        self.normaliser = ActorNormaliser(actors)
        self.matcher = build_matcher(nlp, self.normaliser.index)
        self.with_evidence = with_evidence

    def __call__(self, doc: Doc) -> Doc:
        import pandas as pd

        from .features import analyse_doc

        sents = analyse_doc(doc, "", self.normaliser, self.matcher).sentences
        if not sents:
            doc._.brief_stance = []
            return doc
        rows = pd.DataFrame(sents)
        pred = self.model.predict(rows, with_evidence=self.with_evidence)
        out = []
        for s, p in zip(sents, pred.to_dict("records")):
            probs = {lab: p[f"p_{lab}"] for lab in LABELS} if p["stance_bearing"] else None
            out.append({
                "start_char": s["start_char"], "end_char": s["end_char"], "kind": s["kind"],
                "stance_bearing": bool(p["stance_bearing"]), "stance_label": p["label"],
                "stance_probs": probs, "stance_confidence": None if p["confidence"] != p["confidence"] else p["confidence"],
                "stance_evidence": p["evidence"], "actors": s["actors"],
            })
        doc._.brief_stance = out
        return doc
