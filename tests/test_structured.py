"""Structured output: strict-mode schemas, plans for any target type, parsing and re-asking."""

from __future__ import annotations

import json
from typing import Any, Union

import pytest
from pydantic import BaseModel

from agentos_llm.structured import StructuredPlan, make_strict
from agentos_llm.types import Message, assistant


class Address(BaseModel):
    street: str
    zip_code: str | None = None


class Person(BaseModel):
    """A person."""

    name: str
    age: int | None = None
    nickname: str = "none"
    address: Address
    previous: list[Address] = []


class Counts(BaseModel):
    counts: dict[str, int]


class Cat(BaseModel):
    meow: str


class Dog(BaseModel):
    bark: int


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every object schema in a schema tree."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            found.append(node)
        for v in node.values():
            found.extend(_objects(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_objects(v))
    return found


def _allows_null(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(s.get("type") == "null" for s in prop.get("anyOf", ()))


# ---------------------------------------------------------------- make_strict


def test_make_strict_closes_every_object_and_requires_every_property() -> None:
    schema = Person.model_json_schema()
    strict = make_strict(schema)
    assert strict is not None
    objects = _objects(strict)
    assert len(objects) == 2  # Person and Address (in $defs)
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    address = strict["$defs"]["Address"]
    assert address["additionalProperties"] is False
    assert address["required"] == ["street", "zip_code"]


def test_make_strict_makes_optional_fields_nullable() -> None:
    strict = make_strict(Person.model_json_schema())
    assert strict is not None
    props = strict["properties"]
    # required in the model: not nullable
    assert not _allows_null(props["name"])
    assert not _allows_null(props["address"])
    # optional in the model (default given): nullable, and no default left
    for name in ("age", "nickname", "previous"):
        assert _allows_null(props[name]), name
        assert "default" not in props[name]
    assert _allows_null(strict["$defs"]["Address"]["properties"]["zip_code"])


def test_make_strict_does_not_touch_its_input() -> None:
    schema = Person.model_json_schema()
    before = json.dumps(schema, sort_keys=True)
    make_strict(schema)
    assert json.dumps(schema, sort_keys=True) == before


def test_free_form_dict_cannot_be_strict() -> None:
    assert make_strict(Counts.model_json_schema()) is None


def test_conditional_keywords_cannot_be_strict() -> None:
    assert make_strict({"type": "object", "properties": {"a": {"type": "string", "not": {"const": "x"}}}}) is None


def test_one_of_becomes_any_of() -> None:
    strict = make_strict({"oneOf": [{"type": "string"}, {"type": "integer"}]})
    assert strict == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


# ---------------------------------------------------------------- plans


def test_plan_for_model() -> None:
    plan = StructuredPlan.for_type(Person)
    assert not plan.wrapped
    assert plan.format.name == "Person"
    assert plan.format.description == "A person."
    assert plan.format.strict_schema is not None
    assert plan.format.schema == Person.model_json_schema()
    ok, value = plan.parse('{"name": "Ada", "address": {"street": "Main"}}')
    assert ok
    assert value == Person(name="Ada", address=Address(street="Main"))


def test_plan_for_unstrictable_model_has_no_strict_schema() -> None:
    plan = StructuredPlan.for_type(Counts)
    assert plan.format.strict_schema is None
    ok, value = plan.parse('{"counts": {"a": 1}}')
    assert ok
    assert value == Counts(counts={"a": 1})


def test_plan_for_list_of_int_is_wrapped() -> None:
    plan = StructuredPlan.for_type(list[int])
    assert plan.wrapped
    schema = plan.format.schema
    assert schema["type"] == "object"
    assert schema["required"] == ["value"]
    assert schema["properties"]["value"]["type"] == "array"
    assert plan.format.strict_schema is not None
    assert plan.parse('{"value": [1, 2, 3]}') == (True, [1, 2, 3])


def test_plan_for_int_is_wrapped_and_unwrapped() -> None:
    plan = StructuredPlan.for_type(int)
    assert plan.wrapped
    assert plan.format.name == "int"
    assert plan.format.schema["properties"]["value"] == {"type": "integer"}
    assert plan.parse('{"value": 42}') == (True, 42)
    ok, problem = plan.parse("42")
    assert not ok
    assert "value" in problem


def test_plan_for_union_of_models() -> None:
    plan = StructuredPlan.for_type(Union[Cat, Dog])  # noqa: UP007 - typing.Union on purpose
    assert plan.wrapped
    schema = plan.format.schema
    assert set(schema["$defs"]) == {"Cat", "Dog"}
    assert "$defs" not in schema["properties"]["value"]
    strict = plan.format.strict_schema
    assert strict is not None
    assert strict["$defs"]["Cat"]["additionalProperties"] is False
    assert plan.parse('{"value": {"bark": 3}}') == (True, Dog(bark=3))
    assert plan.parse('{"value": {"meow": "hi"}}') == (True, Cat(meow="hi"))
    assert plan.parse('{"value": {"moo": 1}}')[0] is False


def test_schema_name_is_wire_safe() -> None:
    plan = StructuredPlan.for_type(Cat | Dog)
    assert plan.format.name
    assert all(c.isalnum() or c in "_-" for c in plan.format.name)


# ---------------------------------------------------------------- parse


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"meow": "hi"}\n```',
        '```\n{"meow": "hi"}\n```',
        '  ```JSON\n{"meow": "hi"}```  ',
        '\n{"meow": "hi"}\n',
    ],
)
def test_parse_strips_code_fences(text: str) -> None:
    assert StructuredPlan.for_type(Cat).parse(text) == (True, Cat(meow="hi"))


def test_parse_drops_nulls_strict_mode_put_in_optional_fields() -> None:
    plan = StructuredPlan.for_type(Person)
    answer = {
        "name": "Ada",
        "age": None,
        "nickname": None,
        "previous": None,
        "address": {"street": "Main", "zip_code": None},
    }
    ok, value = plan.parse(json.dumps(answer))
    assert ok, value
    assert value == Person(name="Ada", address=Address(street="Main"))
    assert value.nickname == "none"  # the model's default, not null


def test_parse_drops_nulls_inside_nested_optional_models() -> None:
    class Inner(BaseModel):
        a: int = 1
        b: str

    class Outer(BaseModel):
        inner: Inner | None = None
        many: list[Inner] = []

    plan = StructuredPlan.for_type(Outer)
    ok, value = plan.parse('{"inner": {"a": null, "b": "x"}, "many": [{"a": null, "b": "y"}]}')
    assert ok, value
    assert value == Outer(inner=Inner(b="x"), many=[Inner(b="y")])


def test_parse_keeps_nulls_of_required_nullable_fields() -> None:
    class M(BaseModel):
        x: int | None

    ok, value = StructuredPlan.for_type(M).parse('{"x": null}')
    assert ok
    assert value == M(x=None)
    ok, _ = StructuredPlan.for_type(M).parse("{}")
    assert not ok


def test_parse_nulls_for_required_fields_are_errors() -> None:
    ok, problems = StructuredPlan.for_type(Person).parse('{"name": null, "address": {"street": "x"}}')
    assert not ok
    assert any(p["loc"] == ("name",) for p in problems)


def test_parse_invalid_data_gives_errors() -> None:
    ok, problems = StructuredPlan.for_type(Dog).parse('{"bark": "loud"}')
    assert not ok
    assert isinstance(problems, list)
    assert problems[0]["loc"] == ("bark",)
    assert "url" not in problems[0]


def test_parse_non_json_gives_a_message() -> None:
    ok, problem = StructuredPlan.for_type(Dog).parse("Sure! The dog barks 3 times.")
    assert not ok
    assert isinstance(problem, str)
    assert "not valid JSON" in problem


def test_retry_messages() -> None:
    plan = StructuredPlan.for_type(Dog)
    ok, problems = plan.parse('{"bark": "loud"}')
    assert not ok
    out = plan.retry_messages(assistant('{"bark": "loud"}'), problems)
    assert len(out) == 2
    reply, ask = out
    assert isinstance(reply, Message)
    assert reply.role == "assistant"
    assert reply.content == '{"bark": "loud"}'
    assert ask.role == "user"
    assert isinstance(ask.content, str)
    assert "did not match the required JSON schema" in ask.content
    assert "bark" in ask.content  # the validation errors are spelled out
    assert "corrected JSON" in ask.content

    _, text_problem = plan.parse("not json")
    ask2 = plan.retry_messages(assistant("not json"), text_problem)[1]
    assert isinstance(ask2.content, str)
    assert text_problem in ask2.content


def test_instructions_carry_the_schema() -> None:
    fmt = StructuredPlan.for_type(Dog).format
    text = fmt.instructions()
    assert "JSON" in text
    schema_text = text.split("\n", 1)[1]
    assert json.loads(schema_text) == fmt.schema
