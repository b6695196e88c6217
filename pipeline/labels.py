"""The label set, defined once (see annotation guidelines)."""

COOPERATION = "cooperation"
FRICTION = "friction"
HEDGING = "hedging"

LABELS: tuple[str, ...] = (COOPERATION, FRICTION, HEDGING)
NONE = "none"  # evaluation-only class for "not stance-bearing"
EVAL_CLASSES: tuple[str, ...] = LABELS + (NONE,)

GUIDELINE_VERSION = "1.0"

# Colours and doccano shortcut keys, fixed so that every tool shows the same thing.
COLOURS = {COOPERATION: "#2e7d32", FRICTION: "#c62828", HEDGING: "#f9a825"}
SHORTCUTS = {COOPERATION: "c", FRICTION: "f", HEDGING: "h"}

GUIDELINE_SUMMARY = """\
Label one sentence of a foreign-policy brief.

A sentence is stance-bearing when it describes, evaluates or predicts the relationship, posture or
actions between two or more political actors (states, governments and their organs, leaders and
officials, international organisations and blocs, firms steered by state policy), or one actor's
posture toward another. Headings, bylines, datelines, legal notices, statistics without a posture,
purely biographical or domestic facts are NOT stance-bearing: give them no label.

cooperation - movement toward or maintenance of positive relations: agreements, summits and dialogue
  that go well, joint statements, deals, aid, visits, reconciliation, reassurance, lifting sanctions.
friction - tension or conflict: criticism, accusations, protests, threats, sanctions, tariffs, export
  controls, military pressure, expulsions, disputes, rivalry, breakdown of relations, war.
hedging - a deliberately mixed or conditional posture where neither dominates: engaging a rival while
  insuring against it, cooperation bounded by limits or conditions, balancing between powers, or an
  outcome left open with both directions named.

Hard cases: label the point, not the background ("Despite the dispute, they signed" = cooperation);
negation flips ("has not persuaded Beijing to withdraw" = friction); a modal alone is not hedging;
quotes are labelled by what the speaker says toward the other side; lists of intentions are
cooperation; options and statistics bear stance only when they state a posture toward a foreign actor.
"""


def is_label(value: object) -> bool:
    return value in LABELS
