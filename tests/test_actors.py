"""Actor normalisation: libraries for states, the data file for leaders and organisations."""

from __future__ import annotations

import pytest

from pipeline.errors import UsageError
from pipeline.extract.actors import ActorNormaliser, clean_mention


@pytest.fixture(scope="module")
def norm():
    return ActorNormaliser()


@pytest.mark.parametrize("text,label,code", [
    ("Japan", "GPE", "JPN"), ("Tokyo", "GPE", "JPN"), ("Beijing", "GPE", "CHN"),
    ("Japanese", "NORP", "JPN"), ("the Chinese government", "ORG", "CHN"), ("Chinese", "NORP", "CHN"),
    ("Kishida", "PERSON", "JPN"), ("Prime Minister Kishida", "PERSON", "JPN"), ("Fumio Kishida", "PERSON", "JPN"),
    ("Xi Jinping", "PERSON", "CHN"), ("the United States", "GPE", "USA"), ("U.S.", "GPE", "USA"),
    ("Americans", "NORP", "USA"), ("Kremlin", "ORG", "RUS"), ("NATO", "ORG", "NATO"), ("ASEAN", "ORG", "ASEAN"),
    ("the European Union", "ORG", "EU"), ("RCEP", "ORG", "RCEP"), ("WTO", "ORG", "WTO"),
    ("South Korea's", "GPE", "KOR"), ("Xinjiang", "GPE", "CHN"), ("the Trump Administration", "ORG", "USA"),
    ("Côte d'Ivoire", "GPE", "CIV"), ("Turkey", "GPE", "TUR"),
])
def test_normalise(norm, text, label, code):
    assert norm(text, label) == code


@pytest.mark.parametrize("text,label", [("Tuesday", "DATE"), ("Smith", "PERSON"), ("Acme Widgets", "ORG"),
                                        ("40 percent", "PERCENT")])
def test_not_actors(norm, text, label):
    assert norm(text, label) is None


def test_clean_mention():
    assert clean_mention("the Japanese government's") == "Japanese"
    assert clean_mention("Foreign Minister Wang Yi") == "Wang Yi"


def test_user_actor_file_extends_and_overrides(tmp_path):
    f = tmp_path / "extra.tsv"
    f.write_text("code\tkind\talias\tnote\nPIF\torg\tPacific Islands Forum\t\nZZZ\tperson\tJane Q. Ministerial\t\n")
    n = ActorNormaliser((str(f),))
    assert n("Ministerial", "PERSON") == "ZZZ"
    assert n("Jane Q. Ministerial", "PERSON") == "ZZZ"


def test_bad_actor_file_names_file_and_row(tmp_path):
    f = tmp_path / "bad.tsv"
    f.write_text("XXX\tcountry\tSomewhere\n")
    with pytest.raises(UsageError, match="bad.tsv: data row 1: kind must be"):
        ActorNormaliser((str(f),))
