"""From a parsed Doc to sentence and entity records, with the features the classifier reads.

For each sentence the classifier gets two strings:
- ``masked``: the sentence with actor mentions replaced by ``ACTOR`` and digits by ``0``, so the
  model learns how relations are described, not which countries are named;
- ``cues``: space-separated symbolic features from spaCy's analysis: negation and its head,
  modal / hedge / contrast / condition cues, actor counts, actor-predicate relations
  (``REL_nsubj_condemned``), figures, quotes, layout kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Doc

from ..segment import STANCE_ELIGIBLE, classify_line, clean_sentence_text, sentence_spans
from .actors import ActorNormaliser

NEGATIONS = frozenset({"not", "n't", "never", "no", "neither", "nor", "without", "none", "nothing"})
MODALS = frozenset({"may", "might", "could", "would", "should", "can", "will", "must", "shall", "'ll"})
UNCERTAIN = frozenset({
    "whether", "uncertain", "unclear", "possibly", "perhaps", "likely", "unlikely", "probably",
    "risk", "risks", "open", "question", "questions", "depend", "depends", "depending", "remains",
})
CONTRAST = frozenset({
    "but", "while", "whereas", "although", "though", "despite", "yet", "however", "nevertheless",
    "nonetheless", "still", "notwithstanding", "even", "instead", "albeit",
})
CONDITION = frozenset({"if", "unless", "provided", "conditional", "conditioned", "conditions", "only"})
LIMITS = frozenset({
    "limit", "limits", "limited", "ceiling", "fragile", "brittle", "cautious", "cautiously",
    "tentative", "partial", "bounded", "careful", "carefully", "guarded", "hedge", "hedging",
    "balance", "balancing", "insure", "insurance", "diversify", "diversifying", "de-risking",
})
MULTIWORD_CUES = (
    (re.compile(r"\bat the same time\b", re.I), "CONTRAST_same_time"),
    (re.compile(r"\bon the other hand\b", re.I), "CONTRAST_other_hand"),
    (re.compile(r"\bas long as\b|\bso long as\b", re.I), "CONDITION_as_long_as"),
    (re.compile(r"\bonly if\b|\bprovided that\b|\bon condition\b", re.I), "CONDITION_only_if"),
    (re.compile(r"\bremains? to be seen\b|\bit is (?:too early|unclear)\b", re.I), "UNCERTAIN_open"),
    (re.compile(r"\beven (?:as|though|if)\b", re.I), "CONTRAST_even_as"),
    (re.compile(r"\bnot only\b", re.I), "NOT_ONLY"),
)
# Coercive measures and the direction an action moves them: "lowered the tariff", "sanctions were
# lifted", "relief from sanctions" (de-escalation) against "imposed tariffs", "the threat of a ban"
# (escalation) and "tariffs remain at 50%" (still in force). Word forms, not lemmas: the lemmatizer
# is not run. Only the measure's own head (or the word a preposition attaches it to) is read.
MEASURES = frozenset({
    "tariff", "tariffs", "duty", "duties", "sanction", "sanctions", "ban", "bans", "embargo", "embargoes",
    "restriction", "restrictions", "quota", "quotas", "levy", "levies", "countermeasures", "curbs",
    "blacklist", "blacklisting", "controls",
})


def _forms(*stems: str) -> frozenset[str]:
    out = set()
    for s in stems:
        base, _, extra = s.partition("|")
        out.add(base)
        out.update(x for x in extra.split(",") if x)
    return frozenset(out)


MEASURE_DOWN = _forms(
    "lift|lifts,lifted,lifting", "lower|lowers,lowered,lowering", "eliminate|eliminates,eliminated,eliminating",
    "remove|removes,removed,removing", "ease|eases,eased,easing", "suspend|suspends,suspended,suspending",
    "waive|waives,waived,waiving", "exempt|exempts,exempted,exempting", "terminate|terminates,terminated,terminating",
    "cut|cuts,cutting", "reduce|reduces,reduced,reducing", "halve|halves,halved,halving",
    "scrap|scraps,scrapped,scrapping", "relax|relaxes,relaxed,relaxing", "drop|drops,dropped,dropping",
    "end|ends,ended,ending", "rescind|rescinds,rescinded,rescinding", "repeal|repeals,repealed,repealing",
    "cap|caps,capped,capping", "withdraw|withdraws,withdrew,withdrawn,withdrawing", "roll|rolled,rolling",
    "phase|phased,phasing", "relief", "removal", "elimination", "reduction", "reductions", "lifting", "easing",
    "suspension", "exemption", "exemptions", "waiver", "waivers", "rollback", "repeal", "termination",
)
MEASURE_UP = _forms(
    "impose|imposes,imposed,imposing", "raise|raises,raised,raising", "hike|hikes,hiked,hiking",
    "increase|increases,increased,increasing", "extend|extends,extended,extending",
    "tighten|tightens,tightened,tightening", "expand|expands,expanded,expanding",
    "threaten|threatens,threatened,threatening", "reimpose|reimposes,reimposed,reimposing",
    "escalate|escalates,escalated,escalating", "broaden|broadens,broadened,broadening",
    "slap|slapped", "announce|announced", "introduce|introduced", "adopt|adopted", "apply|applied",
    "imposition", "reimposition", "threat", "threats", "hike", "escalation", "expansion", "tightening",
    "retaliatory", "new", "additional", "further",
)
MEASURE_HOLD = _forms("remain|remains,remained,remaining", "stay|stays,stayed", "persist|persists,persisted",
                      "continue|continues,continued")
REL_DEPS = frozenset({"nsubj", "nsubjpass", "dobj", "pobj", "poss", "compound", "appos", "conj", "dative", "agent"})
FIGURE_ENTS = frozenset({"MONEY", "PERCENT", "QUANTITY", "CARDINAL"})
_DIGITS = re.compile(r"\d")


@dataclass
class DocAnalysis:
    sentences: list[dict]
    entities: list[dict]


def actor_map(doc: Doc, normaliser: ActorNormaliser, matcher=None):
    """token index -> actor code (NER entities first, then alias matches the NER missed), and the
    entities as (start, end, label, code)."""
    actor_at: dict[int, str] = {}
    ents: list[tuple[int, int, str, str | None]] = []
    for ent in doc.ents:
        code = normaliser(ent.text, ent.label_)
        ents.append((ent.start, ent.end, ent.label_, code))
        if code:
            for i in range(ent.start, ent.end):
                actor_at[i] = code
    if matcher is not None:
        for match_id, start, end in matcher(doc):
            if not any(i in actor_at for i in range(start, end)):
                code = doc.vocab.strings[match_id]
                for i in range(start, end):
                    actor_at[i] = code
    return actor_at, ents


def sentence_features(tokens, actor_at: dict[int, str], kind: str, clean: str,
                      gaps: tuple[tuple[int, int], ...] = ()) -> dict:
    """actors, eligible, masked text and cue string of one sentence (a token span)."""
    actors: list[str] = []
    for tok in tokens:
        code = actor_at.get(tok.i)
        if code and code not in actors:
            actors.append(code)
    return {
        "kind": kind,
        "eligible": kind in STANCE_ELIGIBLE,
        "actors": actors,
        "clean": clean,
        "masked": _masked(tokens, actor_at, gaps),
        "cues": " ".join(_cues(tokens, actor_at, actors, clean)),
    }


def analyse_doc(doc: Doc, doc_id: str, normaliser: ActorNormaliser, matcher=None) -> DocAnalysis:
    """Sentences (with features) and entities of one Doc processed by ``load_nlp()``."""
    text = doc.text
    actor_at, ent_sent = actor_map(doc, normaliser, matcher)
    sentences: list[dict] = []
    entities: list[dict] = []
    ent_i = 0
    toks = list(doc)  # one Token object per token, shared by the three passes over each sentence
    for sp in sentence_spans(doc):
        tokens = toks[sp.token_start:sp.token_end]
        clean = clean_sentence_text(text, sp.start_char, sp.end_char, sp.gaps)
        rec = {
            "doc_id": doc_id,
            "sent_id": sp.sent_id,
            "start_char": sp.start_char,
            "end_char": sp.end_char,
            "text": text[sp.start_char:sp.end_char],
        }
        rec.update(sentence_features(tokens, actor_at, sp.kind, clean, sp.gaps))
        sentences.append(rec)
        while ent_i < len(ent_sent) and ent_sent[ent_i][0] < sp.token_end:
            s, e, label, code = ent_sent[ent_i]
            if s >= sp.token_start:
                ent = doc[s:e]
                entities.append({
                    "doc_id": doc_id,
                    "sent_id": sp.sent_id,
                    "start_char": ent.start_char,
                    "end_char": ent.end_char,
                    "text": ent.text,
                    "spacy_label": label,
                    "actor": code,
                })
            ent_i += 1
    return DocAnalysis(sentences, entities)


def analyse_sentences(nlp, texts: list[str], normaliser: ActorNormaliser, matcher=None,
                      batch_size: int = 64) -> list[dict]:
    """Features of sentences given on their own (annotation records), one record per text,
    computed exactly as for a sentence inside a document."""
    out = []
    for text, doc in zip(texts, nlp.pipe(texts, batch_size=batch_size)):
        actor_at, _ = actor_map(doc, normaliser, matcher)
        tokens = [t for t in doc if not t.is_space]
        kind = sentence_kind(text)
        clean = " ".join(text.split())
        out.append(sentence_features(tokens, actor_at, kind, clean))
    return out


def sentence_kind(text: str) -> str:
    """Layout kind of a sentence seen without its document (the segmenter's one-line rules)."""
    return classify_line(" ".join(text.split()))


def _masked(tokens, actor_at: dict[int, str], gaps) -> str:
    out = []
    prev_actor = False
    for tok in tokens:
        if tok.is_space or (gaps and any(gs <= tok.idx < ge for gs, ge in gaps)):
            continue
        if tok.i in actor_at:
            if not prev_actor:
                out.append("ACTOR")
            prev_actor = True
            continue
        prev_actor = False
        out.append(_DIGITS.sub("0", tok.text))
    return " ".join(out)


def _measure_cues(tok) -> list[str]:
    """Direction of a coercive measure from the word that governs it (or, after a preposition, the
    word the preposition attaches to), or an escalating modifier ("new tariffs"); "_NEG" when that
    word is negated ("did not impose tariffs")."""
    head = tok.head
    if head.dep_ == "prep" and head.i != tok.i:
        head = head.head
    found = []
    if head.i != tok.i:
        low = head.lower_
        direction = "DOWN" if low in MEASURE_DOWN else "UP" if low in MEASURE_UP else "HOLD" if low in MEASURE_HOLD else None
        if direction:
            neg = any(c.dep_ == "neg" for c in head.children)
            found.append(f"MEASURE_{direction}_NEG" if neg else f"MEASURE_{direction}")
    for child in tok.children:
        if child.dep_ in ("amod", "compound") and child.lower_ in MEASURE_UP:
            found.append("MEASURE_UP")
        elif child.dep_ in ("amod", "compound") and child.lower_ in MEASURE_DOWN:
            found.append("MEASURE_DOWN")
    return found or ["MEASURE"]


def _cues(tokens, actor_at: dict[int, str], actors: list[str], clean: str) -> list[str]:
    # the layout kind is not a feature: sentences seen without their document have none
    cues = [f"NACT_{min(len(actors), 3)}"]
    n_mentions = sum(1 for t in tokens if t.i in actor_at and (t.i - 1) not in actor_at)
    cues.append(f"NMENT_{min(n_mentions, 4)}")
    n = len(tokens)
    cues.append("LEN_short" if n < 10 else "LEN_long" if n > 40 else "LEN_mid")
    seen = set()
    for tok in tokens:
        low = tok.lower_
        if tok.dep_ == "neg" or low in NEGATIONS:
            seen.add("NEG")
            seen.add(f"NEG_{tok.head.lower_}")
        if low in MODALS:
            seen.add("MODAL")
            seen.add(f"MODAL_{low}")
        if low in UNCERTAIN:
            seen.add("UNCERTAIN")
        # "even" only counts in "even as"/"even though" (multi-word cues below); "still" as an adverb
        if low in CONTRAST and low != "even" and (low != "still" or tok.dep_ == "advmod"):
            seen.add("CONTRAST")
            seen.add(f"CONTRAST_{low}")
        if low in CONDITION:
            seen.add("CONDITION")
        if low in LIMITS:
            seen.add("LIMIT")
        if tok.dep_ == "ROOT" and tok.is_alpha:
            seen.add(f"ROOT_{low}")
        if tok.i in actor_at and tok.dep_ in REL_DEPS:
            head = tok.head
            if tok.dep_ == "pobj" and head.dep_ == "prep":
                seen.add(f"REL_pobj_{head.lower_}_{head.head.lower_}")
            elif tok.dep_ in ("nsubj", "nsubjpass", "dobj", "dative", "agent"):
                seen.add(f"REL_{tok.dep_}_{head.lower_}")
                seen.add(f"REL_{tok.dep_}")
        if low in MEASURES:
            seen.update(_measure_cues(tok))
        if tok.ent_type_ in FIGURE_ENTS:
            seen.add("FIGURE")
        if tok.ent_type_ == "DATE":
            seen.add("DATE")
        if tok.text in ("we", "We", "our", "Our", "us"):  # "US" (the country) is upper case
            seen.add("FIRST_PERSON")
    for pattern, cue in MULTIWORD_CUES:
        if pattern.search(clean):
            seen.add(cue)
            seen.add(cue.split("_")[0])
    if re.search(r"[\"“”]", clean):
        seen.add("QUOTE")
    if clean.endswith("?"):
        seen.add("QUESTION")
    if sum(1 for c in ("CONTRAST", "CONDITION", "UNCERTAIN", "LIMIT") if c in seen) >= 2:
        seen.add("MIXED_CUES")
    return cues + sorted(seen)
