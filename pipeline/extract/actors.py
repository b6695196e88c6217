"""Actor normalisation: "Kishida", "Tokyo", "the Japanese government" -> JPN.

States come from maintained libraries: pycountry (names, official names, fuzzy search over
subdivisions: "Xinjiang" -> CHN) and countryinfo (capitals, demonyms, alternative spellings).
The project's data file ``data/actors.tsv`` holds only what no library has: organisations and
blocs, leaders and officials, and metonyms; users extend it with files of the same shape.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import UsageError
from ..paths import actor_data_file

# spaCy entity labels that may name a political actor
ACTOR_ENT_LABELS = frozenset({"GPE", "NORP", "ORG", "PERSON", "LOC", "FAC"})

_TITLES = re.compile(
    r"^(?:(?:former|then|acting|current|late)\s+)?(?:(?:U\.S\.|US|Chinese|Japanese|Russian|Indian)\s+)?"
    r"(?:president|prime minister|premier|chancellor|foreign minister|foreign secretary|secretary of state|"
    r"secretary|minister|defen[cs]e minister|vice president|vice premier|king|queen|crown prince|"
    r"emir|sheikh|general|gen\.|ambassador|envoy|chairman|leader|senator|sen\.|rep\.|dr\.|mr\.|ms\.|mrs\.)\s+",
    re.I,
)
_DEMONYM_NOUNS = re.compile(
    r"\s+(?:government|administration|authorities|officials?|leadership|side|military|army|navy|"
    r"forces|ministry|state|regime|cabinet|parliament|diplomats?|delegation|people|firms|companies)$",
    re.I,
)


def _fold(text: str) -> str:
    """Lower-case, accent-folded, whitespace-collapsed key."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.replace("’", "'").lower().split())


def clean_mention(text: str) -> str:
    """Strip articles, possessives, titles and trailing generic nouns from a mention."""
    t = " ".join(text.split()).strip(" \t\"'“”‘’()[],.;:")
    t = re.sub(r"['’]s$|['’]$", "", t)
    t = re.sub(r"^(?:the|a|an)\s+", "", t, flags=re.I)
    t = _TITLES.sub("", t)
    t = _DEMONYM_NOUNS.sub("", t)
    return t.strip()


@dataclass
class ActorIndex:
    """Alias -> actor code, plus the unambiguous surnames of people."""

    aliases: dict[str, str] = field(default_factory=dict)
    surnames: dict[str, str] = field(default_factory=dict)
    phrases: dict[str, str] = field(default_factory=dict)  # case-sensitive surface forms for the matcher
    sources: list[str] = field(default_factory=list)

    def add(self, alias: str, code: str, *, phrase: bool = True, override: bool = False) -> None:
        alias = alias.strip()
        if not alias:
            return
        for key in {_fold(alias), _fold(alias).rstrip(".")}:  # "U.S." and "U.S" (trailing dot stripped)
            if override or key not in self.aliases:
                self.aliases[key] = code
        if phrase and (override or alias not in self.phrases):
            self.phrases[alias] = code


def _country_rows():
    """(code, [names]) for every state, from pycountry and countryinfo."""
    import pycountry
    from countryinfo import all_countries

    for c in pycountry.countries:
        names = [c.name, getattr(c, "official_name", None), getattr(c, "common_name", None)]
        yield c.alpha_3, [n for n in names if n], [], 0
    for info in all_countries():
        try:
            iso = info.iso() or {}
            code = iso.get("alpha3")
        except Exception:
            continue
        if not code:
            continue
        names = _strings(info.name())
        alts = [a for a in _strings(info.alt_spellings()) if len(a) > 3]
        metonyms = _strings(info.capital())
        for demonym in _strings(info.demonym()):
            metonyms.append(demonym)
            if not demonym.endswith(("ese", "s", "sh", "ch")):
                metonyms.append(demonym + "s")  # "Americans", "Russians"
        try:
            population = int(info.population() or 0)
        except (TypeError, ValueError, KeyError):
            population = 0
        yield code, names + alts, metonyms, population


def _strings(value) -> list[str]:
    """countryinfo returns a string, a list of strings or None depending on the field and country."""
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str) and v]


def load_actor_files(paths: list[Path]) -> list[tuple[str, str, str]]:
    """Rows (code, kind, alias) from actor data files; bad rows raise with file and line."""
    rows = []
    problems = []
    for path in paths:
        try:
            handle = open(path, encoding="utf-8", newline="")
        except OSError as e:
            raise UsageError(f"cannot read actor file: {e}", path)
        with handle:
            lines = (ln for ln in handle if ln.strip() and not ln.startswith("#"))
            reader = csv.reader(lines, delimiter="\t")
            for lineno, row in enumerate(reader, start=1):
                if row[:3] == ["code", "kind", "alias"]:
                    continue
                if len(row) < 3 or not row[0].strip() or not row[2].strip():
                    problems.append(f"{path}: data row {lineno}: expected code<TAB>kind<TAB>alias, got {row!r}")
                    continue
                kind = row[1].strip()
                if kind not in ("org", "state", "person"):
                    problems.append(f"{path}: data row {lineno}: kind must be org, state or person, got {kind!r}")
                    continue
                rows.append((row[0].strip(), kind, row[2].strip()))
    if problems:
        raise UsageError("bad actor data:\n  " + "\n  ".join(problems))
    return rows


def build_index(extra_files: tuple[str, ...] = ()) -> ActorIndex:
    index = ActorIndex(sources=["pycountry", "countryinfo", str(actor_data_file()), *extra_files])
    rows = list(_country_rows())
    # Demonyms and capitals can be shared ("American": USA, American Samoa, Northern Mariana
    # Islands): the most populous state wins. Names then override metonyms.
    for code, _, metonyms, _ in sorted(rows, key=lambda r: r[3]):
        for n in metonyms:
            index.add(n, code, override=True)
    for code, names, _, _ in rows:
        for n in names:
            index.add(n, code)
    surname_codes: dict[str, set[str]] = {}
    files = [actor_data_file(), *map(Path, extra_files)]
    for code, kind, alias in load_actor_files(files):
        # the project's and the user's rows win over library names (e.g. "Korea", "Kosovo")
        index.add(alias, code, override=True)
        if kind == "person" and " " in alias:
            surname = alias.split()[-1]
            if surname[:1].isupper() and len(surname) > 2:
                surname_codes.setdefault(_fold(surname), set()).add(code)
    for surname, codes in surname_codes.items():
        if len(codes) == 1 and surname not in index.aliases:
            index.surnames[surname] = next(iter(codes))
    return index


@lru_cache(maxsize=8)
def get_index(extra_files: tuple[str, ...] = ()) -> ActorIndex:
    return build_index(extra_files)


class ActorNormaliser:
    """Maps an entity mention (text, spaCy label) to an actor code, or None."""

    def __init__(self, extra_files: tuple[str, ...] = ()):
        self.index = get_index(tuple(str(f) for f in extra_files))
        self._cache: dict[tuple[str, str], str | None] = {}

    def __call__(self, text: str, label: str) -> str | None:
        key = (text, label)
        if key not in self._cache:
            self._cache[key] = self._normalise(text, label)
        return self._cache[key]

    def _normalise(self, text: str, label: str) -> str | None:
        if label not in ACTOR_ENT_LABELS:
            return None
        mention = clean_mention(text)
        if not mention:
            return None
        folded = _fold(mention)
        aliases = self.index.aliases
        if folded in aliases:
            return aliases[folded]
        if label in ("PERSON", "ORG", "NORP"):
            # full names were looked up above; a surname alone counts when it is unambiguous
            # ("Kishida", "the Trump Administration" -> "Trump")
            code = self.index.surnames.get(folded.split()[-1])
            if code or label == "PERSON":
                return code
        # "Japanese-Chinese", "U.S.-China": a hyphenated pair names two actors; take the first
        # here (the matcher picks up both for the sentence's actor list)
        if label in ("NORP", "GPE") and folded.endswith("s") and folded[:-1] in aliases:
            return aliases[folded[:-1]]
        if label == "GPE":
            return _fuzzy_country(mention)
        return None


@lru_cache(maxsize=4096)
def _fuzzy_country(name: str) -> str | None:
    """A state for a GPE no alias covers: pycountry's name lookup, then its ISO 3166-2
    subdivisions ("Xinjiang", "Crimea", "Texas") by exact name. (pycountry's search_fuzzy does this
    too, but costs ~40 ms a call; the subdivision index is built once.)"""
    import pycountry

    if len(name) < 4 or not name[:1].isupper():
        return None
    try:
        return pycountry.countries.lookup(name).alpha_3
    except LookupError:
        pass
    return _subdivisions().get(_fold(name))


@lru_cache(maxsize=1)
def _subdivisions() -> dict[str, str]:
    """Folded subdivision name -> alpha-3 of its country. A multi-word name also answers to its
    first word when that word is distinctive ("Xinjiang Uygur Zizhiqu" -> "xinjiang")."""
    import pycountry

    alpha3 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}
    full: dict[str, str] = {}
    first: dict[str, set[str]] = {}
    for sub in pycountry.subdivisions:
        code = alpha3.get(sub.country_code)
        if not code:
            continue
        for raw in sub.name.split(";"):
            key = _fold(raw.split("[")[0].strip())
            full.setdefault(key, code)
            words = key.split()
            if len(words) > 1 and len(words[0]) >= 5:
                first.setdefault(words[0], set()).add(code)
    for word, codes in first.items():
        if len(codes) == 1:
            full.setdefault(word, next(iter(codes)))
    return full


def build_matcher(nlp, index: ActorIndex):
    """A case-sensitive PhraseMatcher over every alias, for mentions the NER misses."""
    from spacy.matcher import PhraseMatcher

    matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
    by_code: dict[str, list] = {}
    for alias, code in index.phrases.items():
        if len(alias) < 2:
            continue
        by_code.setdefault(code, []).append(alias)
    for code, aliases in by_code.items():
        matcher.add(code, list(nlp.tokenizer.pipe(aliases)))
    return matcher
