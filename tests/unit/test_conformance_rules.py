"""The two tools behind the conformance corpus: the lenient reader of the specs' samples and the shape comparison."""

from __future__ import annotations

import pytest

from tests.conformance.lenient import documents
from tests.conformance.shapes import problems


def test_a_clean_block_reads_as_json_with_no_repair() -> None:
    (doc,) = documents([(10, '{\n  "code": 0,\n  "msg": "ok"\n}')])
    assert (doc.value, doc.repairs, doc.first_line, doc.last_line) == ({"code": 0, "msg": "ok"}, [], 10, 13)


def test_top_level_comments_label_each_of_several_samples() -> None:
    docs = documents([(1, '// first\n{"a": 1}\n// second\n{"a": 2}')])
    assert [(d.label, d.value) for d in docs] == [("first", {"a": 1}), ("second", {"a": 2})]


def test_comments_trailing_commas_and_missing_commas_are_repaired_and_recorded() -> None:
    (doc,) = documents([(1, '{\n "url": "https://x//y", // why\n "list": [{"a": 1}\n {"a": 2},],\n}')])
    assert doc.value == {"url": "https://x//y", "list": [{"a": 1}, {"a": 2}]}
    assert doc.comments == ["why"]
    assert [r.split(": ", 1)[1] for r in doc.repairs] == [
        "comment removed: // why",
        "missing ',' inserted",
        "trailing ',' removed",
        "trailing ',' removed",
    ]


def test_a_sample_cut_by_page_breaks_is_joined_without_the_converters_closing_brackets() -> None:
    blocks = [(1, '{"body": {"rows": [{\n}\n]\n}\n}'), (7, '"name": "a",\n"url": "https://x/\n  y"\n}]}}\n}')]
    (doc,) = documents(blocks)
    assert doc.value == {"body": {"rows": [{"name": "a", "url": "https://x/y"}]}}
    assert any("4 bracket(s) closing block 1 early removed" in r for r in doc.repairs)
    assert any("string cut across lines" in r for r in doc.repairs)
    assert any("closing nothing removed" in r for r in doc.repairs)


def test_unclosed_brackets_are_appended_and_duplicate_keys_recorded() -> None:
    (doc,) = documents([(1, '{"id": "1", "id": "", "body": {"x": [1, 2]')])
    assert doc.value == {"id": "", "body": {"x": [1, 2]}}
    assert sum("appended" in r for r in doc.repairs) == 2
    assert any("twice" in r for r in doc.repairs)


def test_text_that_is_no_json_stops_the_reader() -> None:
    with pytest.raises(ValueError, match="line 2"):
        documents([(1, '{\n  "a": nope\n}')])


def test_the_shape_rules() -> None:
    sample = {"n": 1, "s": "", "b": False, "any": None, "rows": [{"k": 0}], "free": []}
    good = {"n": 2.5, "s": "text", "b": True, "any": [1], "rows": [{"k": 3}, {"k": -1}], "free": ["x", 1]}
    assert problems(good, sample) == []
    assert problems(good | {"n": True}, sample) == ["n: bool True, the sample has a number"]
    assert problems(good | {"s": 0}, sample) == ["s: number 0, the sample has a string"]
    assert problems(good | {"rows": [{"k": "3"}]}, sample) == ["rows[].k: string '3', the sample has a number"]
    less = {key: value for key, value in good.items() if key != "b"}
    assert problems(less | {"extra": 1}, sample) == ["b: missing", "extra: not in the sample"]
    used: set[str] = set()
    allow = {"missing": {"b": "why"}, "extra": {"extra": "why"}}
    assert problems(less | {"extra": 1}, sample, allow, used=used) == []
    assert used == {"b", "extra"}
