"""SageMaker's JSONPath subset: parsing, selection, and errors naming the expression."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.jobs import InvalidJsonPathError, JsonPathSelectError, parse_jsonpath

DOC: dict[str, Any] = {
    "id": "r1",
    "features": [10, 11, 12, 13, 14, 15],
    "meta": {"source": "web", "score": 0.5, "tags": ["a", "b"]},
    "nested": [{"v": 1}, {"v": 2}, {"w": 3}],
    "SageMakerOutput": {"label": 1},
    "with-dash": True,
}
ROW = ["id7", "1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ("$", DOC, DOC),
        ("", DOC, DOC),
        ("$.id", DOC, "r1"),
        ("$.meta.source", DOC, "web"),
        ("$.meta.tags[1]", DOC, "b"),
        ("$.features[0]", DOC, 10),
        ("$.features[-1]", DOC, 15),
        ("$.features[0,2,5]", DOC, [10, 12, 15]),
        ("$.features[1:3]", DOC, [11, 12, 13]),
        ("$.features[:2]", DOC, [10, 11, 12]),
        ("$.features[4:]", DOC, [14, 15]),
        ("$.features[-2:]", DOC, [14, 15]),
        ("$.features[1:-2]", DOC, [11, 12, 13, 14]),
        ("$.features[3:100]", DOC, [13, 14, 15]),
        ("$.features[4:2]", DOC, []),
        ("$.features[0,4:]", DOC, [10, 14, 15]),
        ("$.features[*]", DOC, DOC["features"]),
        ("$['id','SageMakerOutput']", DOC, {"id": "r1", "SageMakerOutput": {"label": 1}}),
        ('$["id"]', DOC, "r1"),
        ("$['id']", DOC, "r1"),
        ("$.meta.['source','score']", DOC, {"source": "web", "score": 0.5}),
        ("$.meta['score']", DOC, 0.5),
        ("$.meta.*", DOC, ["web", 0.5, ["a", "b"]]),
        ("$.nested[*].v", DOC, [1, 2]),
        ("$.nested[0:1].v", DOC, [1, 2]),
        ("$.nested[*]['v','w']", DOC, [{"v": 1}, {"v": 2}, {"w": 3}]),
        ("$.with-dash", DOC, True),
        ("$[ 1 , 3 ]", ROW, ["1", "3"]),
        ("$[1:]", ROW, ["1", "2", "3", "4", "5"]),
        ("$[1:4]", ROW, ["1", "2", "3", "4"]),
        ("$[:5]", ROW, ROW),
        ("$[0]", ROW, "id7"),
        ("$[-1]", ROW, "5"),
        ("$[0,5:]", ROW, ["id7", "5"]),
        ("$[*]", ROW, ROW),
        ("$[0]", [[1, 2], [3]], [1, 2]),
        ("$[0][1]", [[1, 2], [3]], 2),
    ],
)
def test_select(expression: str, value: Any, expected: Any) -> None:
    assert parse_jsonpath(expression).select(value) == expected


def test_slice_end_is_inclusive_as_the_developer_guide_defines() -> None:
    columns = ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
    assert parse_jsonpath("$[1:4]").select(columns) == ["c2", "c3", "c4", "c5"], "second through fifth"
    assert parse_jsonpath("$[:5]").select(columns) == columns[:6], "first through sixth"
    assert parse_jsonpath("$[5:]").select(columns) == ["c6", "c7"], "sixth through the last"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("id", "must start with '$'"),
        ("@.id", "must start with '$'"),
        ("$..id", "deep scan"),
        ("$.", "expected a name"),
        ("$.a.", "expected a name"),
        ("$[", "never closed"),
        ("$[1", "never closed"),
        ("$[]", "empty brackets"),
        ("$[a]", "'a' is not an index"),
        ("$[1.5]", "is not an index"),
        ("$[1:2:3]", "no step"),
        ("$[x:2]", "is not a slice bound"),
        ("$['a',b]", "'b' is not a quoted name"),
        ("$['a'", "never closed"),
        ("$.field1.['child1','child2.grandchild']", "nested child 'child2.grandchild'"),
        ("$x", "unexpected 'x' at position 1"),
        ("$.a b", "unexpected ' '"),
        ("$[?(@.a > 1)]", "is not an index"),
        ("$." + "a" * 70, "longer than 63"),
    ],
)
def test_invalid_expressions(expression: str, fragment: str) -> None:
    with pytest.raises(InvalidJsonPathError) as info:
        parse_jsonpath(expression)
    assert fragment in str(info.value)
    assert repr(expression) in str(info.value)
    assert info.value.expression == expression
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("expression", "value", "fragment"),
    [
        ("$.missing", DOC, "no 'missing'"),
        ("$['id','nope']", DOC, "no 'nope'"),
        ("$.features[6]", DOC, "index 6 is outside the record's 6 elements"),
        ("$.features[-7]", DOC, "index -7 is outside"),
        ("$[0,9]", ROW, "index 9 is outside"),
        ("$.id[0]", DOC, "expected an array but the record has a str"),
        ("$.id", ROW, "expected an object but the record has an array"),
        ("$[0]", DOC, "expected an array but the record has an object"),
        ("$.id.*", DOC, "'*' needs an object or array"),
    ],
)
def test_selection_errors(expression: str, value: Any, fragment: str) -> None:
    with pytest.raises(JsonPathSelectError) as info:
        parse_jsonpath(expression).select(value)
    assert fragment in str(info.value)
    assert expression in str(info.value)


def test_properties() -> None:
    assert parse_jsonpath("$").is_root and parse_jsonpath(None).is_root
    assert not parse_jsonpath("$[1:]").is_root
    assert parse_jsonpath("$.a").uses_names and parse_jsonpath("$['a','b']").uses_names
    assert not parse_jsonpath("$[0,1]").uses_names and not parse_jsonpath("$[*]").uses_names
