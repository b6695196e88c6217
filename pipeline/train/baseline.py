"""A keyword baseline to measure the classifier against (not used for predictions).

Cooperation and conflict word lists plus entity presence: a sentence with no actor, or with no
cue word, is "none"; hedging when both lists match and a contrast word is present; otherwise the
list with more matches wins.
"""

from __future__ import annotations

import re

import pandas as pd

from ..labels import NONE

COOP = re.compile(r"\b(agree\w*|accord|treat\w*|cooperat\w*|partner\w*|summit\w*|dialogue|talks|deal\w*|"
                  r"sign\w*|ally|allies|alliance|aid|support\w*|joint\w*|visit\w*|normali[sz]\w*|ties|"
                  r"friend\w*|reconcil\w*|invest\w*|trade pact|alignment|welcom\w*|restor\w*)\b", re.I)
CONF = re.compile(r"\b(tension\w*|conflict\w*|war|wars|sanction\w*|tariff\w*|threat\w*|condemn\w*|protest\w*|"
                  r"accus\w*|dispute\w*|rival\w*|attack\w*|invad\w*|invasion|ban\w*|expel\w*|crisis|hostil\w*|"
                  r"clash\w*|criticis\w*|retaliat\w*|pressure\w*|coerc\w*|military|strik\w*|oppos\w*)\b", re.I)
CONTRAST = re.compile(r"\b(but|while|although|though|despite|yet|however|even as)\b", re.I)


def keyword_label(text: str, n_actors: int) -> str:
    c, f = len(COOP.findall(text)), len(CONF.findall(text))
    if n_actors == 0 or (c == 0 and f == 0):
        return NONE
    if c and f and CONTRAST.search(text):
        return "hedging"
    return "cooperation" if c >= f else "friction"


def keyword_predict(sentences: pd.DataFrame) -> list[str]:
    """Outcome per row of a sentences table (uses text, actors and the layout kind)."""
    out = []
    for text, actors, kind in zip(sentences["text"], sentences["actors"], sentences["kind"]):
        out.append(keyword_label(text, len(actors)) if kind in ("body", "bullet") else NONE)
    return out
