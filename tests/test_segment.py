"""Layout-aware segmentation: blocks, page-break repair, boilerplate, exact offsets."""

from __future__ import annotations

from pipeline.segment import (BODY, BOILERPLATE, BULLET, HEADING, PAGENUM, TITLE, classify_line, layout_blocks,
                              sentence_spans)

BRIEF = """Japan and China: A Cautious Thaw

By Jane Doe, Senior Fellow
Published 14 March 2023

Key takeaways
- Tokyo and Beijing agreed to resume dialogue. Trade talks will follow.
- Security tensions persist

Background
The two governments normalised relations in 1972. Since then ties have swung between engagement and rivalry at both the leader

4

and ministerial levels. Prime Minister Kishida met President Xi in November.

TOKYO, 4 May 2023 — The foreign ministers condemned the missile launch.

The views expressed are the author's own and do not necessarily reflect those of the Institute.
© 2023 Institute for Asian Affairs. All rights reserved.
"""


def spans(nlp, text):
    doc = nlp(text)
    return [(s.kind, text[s.start_char:s.end_char]) for s in sentence_spans(doc)]


def test_blocks_and_kinds(nlp):
    got = spans(nlp, BRIEF)
    assert got[0] == (TITLE, "Japan and China: A Cautious Thaw")
    assert (BOILERPLATE, "By Jane Doe, Senior Fellow") in got
    assert (BOILERPLATE, "Published 14 March 2023") in got
    assert (HEADING, "Key takeaways") in got
    assert (BULLET, "Tokyo and Beijing agreed to resume dialogue.") in got
    assert (BULLET, "Trade talks will follow.") in got
    assert (BULLET, "Security tensions persist") in got  # marker outside the span
    assert (BOILERPLATE, "TOKYO, 4 May 2023 —") in got
    assert (BODY, "The foreign ministers condemned the missile launch.") in got
    assert (BOILERPLATE, "© 2023 Institute for Asian Affairs. All rights reserved.") in got


def test_heading_never_glued_to_the_next_sentence(nlp):
    got = spans(nlp, BRIEF)
    assert (HEADING, "Background") in got
    assert all(not t.startswith("Background ") for _, t in got)


def test_page_break_split_sentence_is_rejoined(nlp):
    got = spans(nlp, BRIEF)
    joined = [t for _, t in got if "at both the leader" in t]
    assert len(joined) == 1 and joined[0].endswith("and ministerial levels.")
    assert (PAGENUM, "4") not in got


def test_offsets_are_exact(nlp):
    doc = nlp(BRIEF)
    for s in sentence_spans(doc):
        assert BRIEF[s.start_char:s.end_char].strip() == BRIEF[s.start_char:s.end_char]
        assert s.start_char < s.end_char


def test_blocks_without_spacy():
    kinds = [b.kind for b in layout_blocks("Title\n\nA body sentence that ends here.\n\n3\n\n- item one\n")]
    assert kinds == [TITLE, BODY, PAGENUM, BULLET]


def test_unfinished_paragraph_before_a_capitalised_one_is_not_joined():
    blocks = layout_blocks("Body text that ends without a stop\n\nNext paragraph starts here.\n")
    assert len(blocks) == 2


def test_classify_line():
    assert classify_line("Copyright 2021 Foo Institute") == BOILERPLATE
    assert classify_line("By Ann Lee and Bo Park") == BOILERPLATE
    assert classify_line("Page 3 of 9") == PAGENUM
    assert classify_line("Issues for Congress") == HEADING
    assert classify_line("The two sides signed the accord in Hanoi.") == BODY


def test_run_in_headings_are_headings(nlp):
    text = ("Sectoral Tariffs. In 2025 the United States imposed new duties on steel from Canada. Ottawa protested.\n\n"
            "War powers. Several legislators said the strikes needed the approval of Congress.\n\n"
            "Talks resumed. The two delegations met in Geneva.\n")
    got = spans(nlp, text)
    assert (HEADING, "Sectoral Tariffs.") in got
    assert (HEADING, "War powers.") in got
    assert (BODY, "Ottawa protested.") in got  # not paragraph-initial
    assert (BODY, "Talks resumed.") in got  # a subject: a sentence, not a heading
    assert (BODY, "The two delegations met in Geneva.") in got


def test_a_sentence_parsed_as_a_noun_phrase_is_not_a_run_in_heading(nlp):
    text = "Cairo's tone hardened within days of the breakdown. Officials in Addis Ababa said the talks were over.\n"
    got = spans(nlp, text)
    assert (BODY, "Cairo's tone hardened within days of the breakdown.") in got
