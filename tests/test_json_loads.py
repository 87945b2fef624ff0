"""`wire.common.json_loads`: what `json.loads` gives or raises, for every kind of input a body or event holds."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from agentos_llm.wire.common import json_loads

_SAME = ['{"a": 1, "b": [true, false, null], "c": {"d": "é"}}', "[1, 2.5, -3e10]", '"text"', "42", "true", "null",
         ' {"a": 1}', '{"a": 1}\n', "\n[1]\n", '{"big": 123456789012345678901234567890}',
         '{"u": "\\u00e9\\ud83d\\ude00"}',
         b'{"bytes": "\xc3\xa9"}', b' [1] ', "[Infinity, -Infinity]", '{"a": 1}'.encode("utf-16"),
         '{"a": 1}'.encode("utf-16-le"), b'\xef\xbb\xbf{"bom": 1}', b'"\xed\xa0\x80"']
_RAISE = ["", "   ", '{"a": 1} trailing', '{"a": 1}{"b": 2}', "{", "[1,]", "{'single': 1}", b"\xff\xfe not utf-8",
          '"unterminated', "nul\x00l"]


@pytest.mark.parametrize("text", _SAME)
def test_it_gives_what_json_loads_gives(text: Any) -> None:
    expected = json.loads(text)
    got = json_loads(text)
    assert type(got) is type(expected)
    assert json.dumps(got) == json.dumps(expected)


def test_nan_is_a_float_as_with_json_loads() -> None:
    assert math.isnan(json_loads("NaN")) and math.isnan(json.loads("NaN"))


@pytest.mark.parametrize("text", _RAISE)
def test_it_raises_what_json_loads_raises(text: Any) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(ValueError) as got:
        json_loads(text)
    assert type(got.value) is type(expected.value) and str(got.value) == str(expected.value)
