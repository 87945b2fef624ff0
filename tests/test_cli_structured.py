"""`agentos-llm structured`: a JSON Schema file (or inline), the schema sent, the answer validated against it
(with jsonschema, and with the built-in checker when jsonschema is missing), re-asked, or exit code 1."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import OPENAI_KEY, clean, run_cli, use_emulator

from agentos_llm.cli import main
from agentos_llm.cli_common import UsageError
from agentos_llm.cli_schema import check_instance, load_schema
from agentos_llm.testing import Reply, WireEmulator

PERSON = {"type": "object", "title": "Person",
          "properties": {"name": {"type": "string", "minLength": 1}, "age": {"type": "integer", "minimum": 0},
                         "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}}},
          "required": ["name", "age"], "additionalProperties": False,
          "$defs": {"tag": {"type": "string", "enum": ["a", "b"]}}}


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    clean(monkeypatch, tmp_path)
    with WireEmulator() as emulator:
        use_emulator(monkeypatch, emulator)
        yield emulator


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "person.json"
    path.write_text(json.dumps(PERSON), encoding="utf-8")
    return path


def test_the_schema_is_sent_and_the_answer_printed(emu: WireEmulator, schema_file: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Reply(text=json.dumps({"name": "Ada", "age": 36, "tags": ["a"]})))
    assert main(["structured", str(schema_file), "Ada, 36"]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "Ada", "age": 36, "tags": ["a"]}
    sent = emu.requests[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Person"
    assert sent["json_schema"]["schema"]["properties"]["name"]["type"] == "string"


@pytest.mark.parametrize("without_jsonschema", [False, True])
def test_an_invalid_answer_is_sent_back_then_accepted(emu: WireEmulator, schema_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch, without_jsonschema: bool,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    if without_jsonschema:
        monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema now raises ImportError
    emu.script(Reply(text=json.dumps({"name": "Ada", "age": -1})),
               Reply(text=json.dumps({"name": "Ada", "age": 36})))
    assert main(["structured", str(schema_file), "Ada", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == {"name": "Ada", "age": 36} and out["attempts"] == 2
    retry = emu.requests[-1].body["messages"][-1]["content"]
    assert "did not match the required JSON schema" in retry and "age" in retry


def test_never_valid_is_a_provider_side_failure(emu: WireEmulator, schema_file: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Reply(text='{"name": ""}'), Reply(text='{"name": ""}'))
    assert main(["structured", str(schema_file), "x", "--max-attempts", "2"]) == 1
    assert "StructuredOutputError" in capsys.readouterr().err


def test_inline_schema_and_non_object_schemas(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Reply(text='{"value": ["x", "y"]}'))
    assert main(["structured", '{"type": "array", "items": {"type": "string"}}', "two letters"]) == 0
    assert json.loads(capsys.readouterr().out) == ["x", "y"]


def test_bad_schemas_and_prompts_are_usage_errors(emu: WireEmulator, tmp_path: Path, schema_file: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["structured", str(broken), "x"]) == 2
    assert "is not JSON" in capsys.readouterr().err
    assert main(["structured", '{"type": "nonsense"}', "x"]) == 2
    assert "not a valid JSON Schema" in capsys.readouterr().err
    assert main(["structured", str(tmp_path / "missing.json"), "x"]) == 2
    assert main(["structured", str(schema_file), ""]) == 2
    assert main(["structured", "[1, 2]", "x"]) == 2
    assert emu.requests == []


@pytest.mark.parametrize("without_jsonschema", [False, True])
def test_check_instance(monkeypatch: pytest.MonkeyPatch, without_jsonschema: bool) -> None:
    if without_jsonschema:
        monkeypatch.setitem(sys.modules, "jsonschema", None)
    assert check_instance({"name": "Ada", "age": 3, "tags": ["a", "b"]}, PERSON) == []
    assert check_instance({"name": "Ada", "age": 3.0}, PERSON) == []  # 3.0 is an integer in JSON Schema
    for bad in ({"age": 3}, {"name": "Ada", "age": "3"}, {"name": "", "age": 3}, {"name": "A", "age": -1},
                {"name": "A", "age": 1, "tags": ["c"]}, {"name": "A", "age": 1, "extra": True}, ["not", "an object"],
                {"name": "A", "age": True}):
        assert check_instance(bad, PERSON), bad
    union = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert check_instance(None, union) == [] and check_instance(1, union)


def test_load_schema_checks_the_schema(schema_file: Path) -> None:
    assert load_schema(json.dumps(PERSON)) == PERSON
    assert load_schema(str(schema_file)) == PERSON
    with pytest.raises(UsageError, match="must be a JSON object"):
        load_schema("[]")


def test_structured_as_a_subprocess(emu: WireEmulator, tmp_path: Path, schema_file: Path) -> None:
    done = run_cli(tmp_path, "structured", str(schema_file), "-", stdin="Describe Ada.", OPENAI_API_KEY=OPENAI_KEY,
                   OPENAI_BASE_URL=emu.openai_base_url)
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert set(value) >= {"name", "age"}  # the emulator answers a minimal instance of the schema it was sent
    assert OPENAI_KEY not in done.stdout + done.stderr


def test_refs_are_inlined_in_what_is_sent_and_recursion_is_refused(emu: WireEmulator,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from agentos_llm.cli_schema import schema_type
    from agentos_llm.structured import StructuredPlan

    sent = StructuredPlan.for_type(schema_type(PERSON)).format.schema
    assert sent["properties"]["tags"]["items"] == {"type": "string", "enum": ["a", "b"]}
    assert "$ref" not in json.dumps(sent)
    recursive = {"type": "object", "properties": {"boss": {"$ref": "#"}}}
    assert main(["structured", json.dumps(recursive), "x"]) == 2
    assert "recursive" in capsys.readouterr().err
    assert emu.requests == []
