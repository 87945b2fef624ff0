"""Checks request bodies against the vendors' published schemas, with unknown fields rejected.

Four validators, one per kind of published definition (see tests/schemas/README.md):

- `ClosedOpenAPI`: an OpenAPI 3 document (OpenAI), converted to JSON Schema 2020-12 and checked with
  `jsonschema`, plus a recursive closed-world pass: every object's keys must be among the properties
  its schema declares through `$ref`, `allOf` and the `anyOf`/`oneOf` branches the value matches
  (`additionalProperties: false` cannot say this across `allOf`).
- `check_typed`: the Anthropic SDK's request TypedDicts, walked through their annotations.
- `ProtoSchema`: Google's .proto files, compiled with protoc and parsed with protobuf's JSON mapping
  (what Google's REST front end does: an unknown field is a 400 there too), plus REQUIRED fields.
- `DiscoverySchema`: a Google API discovery document (Vertex AI), walked with unknown fields rejected.

Each returns a list of problems; an empty list means the body is valid.
"""

from __future__ import annotations

import collections.abc as cabc
import json
import sys
import tempfile
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import typing_extensions

SCHEMAS = Path(__file__).resolve().parent / "schemas"

# ---------------------------------------------------------------------- OpenAPI 3 → JSON Schema

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
               "unevaluatedProperties", "unevaluatedItems")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_OPENAPI_ONLY = ("discriminator", "example", "xml", "externalDocs", "nullable")


def openapi_schema(node: Any) -> Any:
    """One OpenAPI 3.x schema object as JSON Schema 2020-12.

    `nullable: true` (OpenAPI 3.0, still used inside this 3.1 document) becomes `anyOf [X, null]`,
    `oneOf` becomes `anyOf` (see below), and annotations JSON Schema does not know (`discriminator`,
    `example`, `x-*`) are dropped. Only keyword positions are rewritten: a property *named* "nullable" stays.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: openapi_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_ONE:
            out[key] = openapi_schema(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            # oneOf is read as anyOf: its branches are open objects (the OpenAPI default), so a value of one
            # shape often also fits another, and "exactly one" would refuse what the API and OpenAI's own
            # SDKs (which generate unions from these) accept. The closed-world pass is the strict part.
            out["anyOf" if key == "oneOf" else key] = [openapi_schema(sub) for sub in value]
        else:
            out[key] = value
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaves(sub)]


_DISCRIMINATORS = frozenset({"type", "role", "object"})


def _relevance(error: jsonschema.ValidationError) -> tuple[bool, int]:
    path = error.absolute_path
    wrong_branch = error.validator in ("enum", "const") and bool(path) and path[-1] in _DISCRIMINATORS
    return (not wrong_branch, len(path))


def _describe(error: jsonschema.ValidationError) -> str:
    """An error by its telling cause: an anyOf error says little on its own; of its branches' errors, one
    saying the value's `type` (or `role`) is another branch's is not it, and the deepest of the rest is."""
    error = max(_leaves(error), key=_relevance)
    where = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
    return f"{where}: {error.message[:300]}"


class ClosedOpenAPI:
    """A whole OpenAPI document's schemas, for closed-world validation of request bodies."""

    URI = "urn:agentos-llm-test:openapi"

    def __init__(self, document: Mapping[str, Any]) -> None:
        schemas = {name: openapi_schema(s) for name, s in document["components"]["schemas"].items()}
        self.root: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                     "components": {"schemas": schemas}}
        resource = referencing.Resource.from_contents(
            self.root, default_specification=referencing.jsonschema.DRAFT202012)
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(self.URI, resource)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    def _node(self, pointer: str) -> Any:
        node: Any = self.root
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def _validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        found = self._validators.get(pointer)
        if found is None:
            found = jsonschema.Draft202012Validator({"$ref": f"{self.URI}#{pointer}"}, registry=self.registry)
            self._validators[pointer] = found
        return found

    def check(self, instance: Any, schema_name: str) -> list[str]:
        """Problems of `instance` as a `components.schemas[schema_name]`."""
        pointer = f"/components/schemas/{_escape(schema_name)}"
        problems = [_describe(e) for e in self._validator(pointer).iter_errors(instance)]
        return problems + self._closed(instance, pointer, "$")

    # -------------------------------------------------------- closed-world pass

    def _alternatives(self, pointer: str, instance: Any, depth: int = 0) -> list[list[str]]:
        """The ways `instance` meets the schema at `pointer`: each a list of schema pointers that all apply
        (the node itself, what its `$ref` and `allOf` reach, and one matching branch of each anyOf/oneOf)."""
        if depth > 64:
            raise RecursionError(f"schema reference loop at {pointer}")
        node = self._node(pointer)
        alternatives: list[list[str]] = [[pointer]]
        if not isinstance(node, dict):
            return alternatives
        parts: list[list[list[str]]] = []
        ref = node.get("$ref")
        if isinstance(ref, str):
            parts.append(self._alternatives(ref.split("#", 1)[1], instance, depth + 1))
        for i, _ in enumerate(node.get("allOf", ())):
            parts.append(self._alternatives(f"{pointer}/allOf/{i}", instance, depth + 1))
        for key in ("anyOf", "oneOf"):
            branches = node.get(key)
            if not branches:
                continue
            matching: list[list[str]] = []
            for i, _ in enumerate(branches):
                branch = f"{pointer}/{key}/{i}"
                if self._validator(branch).is_valid(instance):
                    matching.extend(self._alternatives(branch, instance, depth + 1))
            parts.append(matching or [[]])  # no branch matches: jsonschema has already said so
        for options in parts:
            alternatives = [a + o for a in alternatives for o in options]
        return alternatives

    def _closed(self, instance: Any, pointer: str, path: str) -> list[str]:
        if not isinstance(instance, (dict, list)):
            return []
        best: list[str] | None = None
        for alternative in self._alternatives(pointer, instance):
            problems = self._closed_one(instance, alternative, path)
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        return best or []

    def _closed_one(self, instance: Any, pointers: list[str], path: str) -> list[str]:
        nodes = [(p, self._node(p)) for p in pointers]
        nodes = [(p, n) for p, n in nodes if isinstance(n, dict)]
        problems: list[str] = []
        if isinstance(instance, list):
            for p, n in nodes:
                if isinstance(n.get("items"), dict):
                    for i, item in enumerate(instance):
                        problems += self._closed(item, f"{p}/items", f"{path}[{i}]")
            return problems
        declared: dict[str, list[str]] = {}
        extra: list[str] = []
        has_properties = False
        for p, n in nodes:
            if isinstance(n.get("properties"), dict):
                has_properties = True
                for name in n["properties"]:
                    declared.setdefault(name, []).append(f"{p}/properties/{_escape(name)}")
            more = n.get("additionalProperties")
            if more is True:
                extra.append("")
            elif isinstance(more, dict):
                extra.append(f"{p}/additionalProperties")
        free_form = not has_properties and not any(n.get("additionalProperties") is False for _, n in nodes)
        for key, value in instance.items():
            where = f"{path}[{key!r}]"
            if key in declared:
                for sub in declared[key]:
                    problems += self._closed(value, sub, where)
            elif extra or free_form:
                for sub in extra:
                    if sub:
                        problems += self._closed(value, sub, where)
            else:
                problems.append(f"{where}: unknown field (declared: {', '.join(sorted(declared)) or 'none'})")
        return problems


# ---------------------------------------------------------------------- TypedDicts (Anthropic SDK types)

_NONE = type(None)
_SEQUENCES = (list, tuple, cabc.Iterable, cabc.Sequence, cabc.Collection)
_WRAPPERS = {typing_extensions.Required, typing_extensions.NotRequired, typing_extensions.ReadOnly}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]), include_extras=True)


def _wire_name(name: str, annotation: Any) -> str:
    """The JSON key of a TypedDict field: its `PropertyInfo(alias=...)` when the SDK renames it."""
    if typing.get_origin(annotation) is typing_extensions.Annotated:
        for meta in annotation.__metadata__:
            alias = getattr(meta, "alias", None)
            if isinstance(alias, str):
                return alias
    return name


def _strip(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing_extensions.Annotated or origin in _WRAPPERS:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _is_sequence(origin: Any) -> bool:
    return origin in _SEQUENCES or getattr(origin, "__name__", "") == "SequenceNotStr"


def check_typed(value: Any, annotation: Any, path: str = "$") -> list[str]:
    """Problems of a JSON value as an SDK type annotation: TypedDicts (unknown keys, missing required
    keys), Literal, Union/Optional, str/int/float/bool, sequences, Dict and `object`."""
    tp = _strip(annotation)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is typing.Any or tp is object:
        return []
    if tp is _NONE or tp is None:
        return [] if value is None else [f"{path}: expected null, got {value!r:.60}"]
    if origin is typing.Union or origin is types.UnionType:
        results = [check_typed(value, arm, path) for arm in args]
        if any(not r for r in results):
            return []
        ranked = sorted(zip(args, results, strict=True), key=lambda pair: _union_rank(value, *pair))
        return ranked[0][1]
    if origin is typing.Literal or origin is typing_extensions.Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return []
        return [f"{path}: {value!r:.60} is not one of {list(args)}"]
    if typing_extensions.is_typeddict(tp):
        return _check_typeddict(value, tp, path)
    if _is_sequence(origin):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in check_typed(item, args[0] if args else Any, f"{path}[{i}]")]
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or tp in (dict, cabc.Mapping):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        vtype = args[1] if len(args) == 2 else Any
        return [p for k, v in value.items() for p in check_typed(v, vtype, f"{path}[{k!r}]")]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r:.60}"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r:.60}"]
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r:.60}"]
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r:.60}"]
    # IO[bytes], PathLike and the like: nothing a JSON body can hold.
    return [f"{path}: {value!r:.60} cannot be a {tp!r} (not a JSON type)"]


def _json_kind(annotation: Any) -> type | None:
    tp = _strip(annotation)
    origin = typing.get_origin(tp)
    if typing_extensions.is_typeddict(tp) or origin in (dict, cabc.Mapping) or tp is dict:
        return dict
    if _is_sequence(origin):
        return list
    return tp if tp in (str, int, float, bool) else None


def _union_rank(value: Any, arm: Any, problems: list[str]) -> tuple[int, int, int]:
    """Which failed arm explains best: one of the value's JSON kind, then the TypedDict whose `type` literal
    the value carries, then the fewest problems."""
    kind = _json_kind(arm)
    same_kind = 0 if kind is not None and isinstance(value, kind) else 1
    arm = _strip(arm)
    if isinstance(value, dict) and typing_extensions.is_typeddict(arm):
        tag = _hints(arm).get("type")
        if tag is not None and value.get("type") in typing.get_args(_strip(tag)):
            return (same_kind, 0, len(problems))
    return (same_kind, 1, len(problems))


@cache
def _required_keys(cls: type) -> frozenset[str]:
    """Required keys of a TypedDict, read from the annotations themselves: `__required_keys__` is empty
    when the module has `from __future__ import annotations` (the SDK's do), as `Required[...]` is a string."""
    inherited = {k for base in getattr(cls, "__orig_bases__", ()) if typing_extensions.is_typeddict(base)
                 for k in getattr(base, "__annotations__", {})}
    out = set()
    for base in getattr(cls, "__orig_bases__", ()):
        if typing_extensions.is_typeddict(base):
            out |= _required_keys(base)
    for name, annotation in _hints(cls).items():
        origin = typing.get_origin(annotation)
        if origin is typing_extensions.Annotated:
            origin = typing.get_origin(typing.get_args(annotation)[0])
        if origin is typing_extensions.Required or (
                origin is not typing_extensions.NotRequired and cls.__total__ and name not in inherited):
            out.add(name)
        elif origin is typing_extensions.NotRequired:
            out.discard(name)
    return frozenset(out)


def _check_typeddict(value: Any, cls: type, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({cls.__name__}), got {type(value).__name__}"]
    hints = _hints(cls)
    fields = {_wire_name(name, ann): (name, ann) for name, ann in hints.items()}
    required = {_wire_name(n, hints[n]) for n in _required_keys(cls)}
    problems = [f"{path}: missing required field {k!r} ({cls.__name__})" for k in sorted(required - set(value))]
    for key, item in value.items():
        if key not in fields:
            declared = ", ".join(sorted(fields))
            problems.append(f"{path}[{key!r}]: unknown field for {cls.__name__} (declared: {declared})")
            continue
        problems += check_typed(item, fields[key][1], f"{path}[{key!r}]")
    return problems


# ---------------------------------------------------------------------- Google .proto (Gemini API)

_REQUIRED = 2  # google.api.FieldBehavior.REQUIRED
_WELL_KNOWN = "google.protobuf."


class ProtoSchema:
    """Messages of a set of .proto files, for checking JSON bodies as Google's REST front end parses them.

    `lagging` names fields the live API takes that the published protos do not have yet, each with the
    values it may take (see tests/schemas/README.md): they are checked here, then removed before parsing.
    """

    def __init__(self, root: Path, entry: str, *, lagging: Mapping[tuple[str, str], frozenset[str]] | None = None
                 ) -> None:
        import importlib.resources

        import grpc_tools
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        from grpc_tools import protoc

        well_known = importlib.resources.files(grpc_tools) / "_proto"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "descriptors.pb"
            code = protoc.main(["protoc", f"-I{root}", f"-I{well_known}", "--include_imports",
                                f"--descriptor_set_out={out}", entry])
            if code != 0:
                raise RuntimeError(f"protoc failed ({code}) on {entry}")
            files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
        self.pool = descriptor_pool.DescriptorPool()
        for file in files.file:
            self.pool.Add(file)
        self.classes = message_factory.GetMessageClassesForFiles([f.name for f in files.file], self.pool)
        self._behavior = self.pool.FindExtensionByName("google.api.field_behavior")
        self._field_options = self.classes["google.protobuf.FieldOptions"]
        self.lagging = dict(lagging or {})

    def has_field(self, message: str, json_name: str) -> bool:
        """Whether the published message declares a field (by its JSON name)."""
        return any(f.json_name == json_name for f in self.pool.FindMessageTypeByName(message).fields)

    def check(self, body: Any, message: str, *, path_fields: frozenset[str] = frozenset()) -> list[str]:
        """Problems of `body` as the JSON of `message`; `path_fields` are bound from the URL, not the body."""
        from google.protobuf import json_format

        desc = self.pool.FindMessageTypeByName(message)
        problems: list[str] = []
        body = self._walk(json.loads(json.dumps(body)), desc, "$", problems, path_fields)
        try:
            json_format.ParseDict(body, self.classes[message](), ignore_unknown_fields=False)
        except json_format.ParseError as exc:
            problems.append(str(exc).split("\n", 1)[0][:400])
        return problems

    def _required(self, field: Any) -> bool:
        options = self._field_options.FromString(field.GetOptions().SerializeToString())
        return _REQUIRED in options.Extensions[self._behavior]

    def _walk(self, value: Any, desc: Any, path: str, problems: list[str], skip: frozenset[str] = frozenset()) -> Any:
        """Checks REQUIRED fields and lagging fields (which it removes); json_format checks the rest."""
        if not isinstance(value, dict) or desc.full_name.startswith(_WELL_KNOWN):
            return value
        by_name = {f.json_name: f for f in desc.fields} | {f.name: f for f in desc.fields}
        for field in desc.fields:
            if field.json_name in skip or field.name in skip or not self._required(field):
                continue
            if field.json_name not in value and field.name not in value:
                problems.append(f"{path}: missing REQUIRED field {field.json_name!r} of {desc.name}")
        for key in list(value):
            allowed = self.lagging.get((desc.full_name, key))
            if allowed is not None:
                if value[key] not in allowed:
                    problems.append(f"{path}[{key!r}]: {value[key]!r} is not one of {sorted(allowed)}")
                del value[key]
                continue
            field = by_name.get(key)
            if field is None or field.message_type is None:
                continue  # unknown fields and scalars: json_format says what is wrong
            where = f"{path}[{key!r}]"
            if field.message_type.GetOptions().map_entry:
                items = value[key].items() if isinstance(value[key], dict) else ()
                entry = field.message_type.fields_by_name["value"].message_type
                for k, v in items:
                    if entry is not None:
                        self._walk(v, entry, f"{where}[{k!r}]", problems)
            elif isinstance(value[key], list):
                for i, item in enumerate(value[key]):
                    self._walk(item, field.message_type, f"{where}[{i}]", problems)
            else:
                self._walk(value[key], field.message_type, where, problems)
        return value


# ---------------------------------------------------------------------- Google discovery documents (Vertex AI)

_INT64 = ("int64", "uint64")


class DiscoverySchema:
    """The `schemas` of a Google API discovery document, with unknown fields rejected."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.schemas: dict[str, Any] = dict(document["schemas"])
        self.revision = str(document.get("revision", ""))

    def has_field(self, schema: str, name: str) -> bool:
        """Whether a schema declares a property."""
        return name in self.schemas[schema].get("properties", {})

    def check(self, body: Any, schema: str, *, path_fields: frozenset[str] = frozenset()) -> list[str]:
        """Problems of `body` as `schema`; `path_fields` are bound from the URL, not the body ("a.b": field b
        of what field a holds, in each item of an array)."""
        return self._value(body, {"$ref": schema}, "$", path_fields)

    def _value(self, value: Any, spec: Mapping[str, Any], path: str, skip: frozenset[str] = frozenset()) -> list[str]:
        ref = spec.get("$ref")
        if isinstance(ref, str):
            return self._object(value, ref, path, skip)
        kind = spec.get("type")
        if kind == "any":
            return []
        if kind == "array":
            if not isinstance(value, list):
                return [f"{path}: expected an array, got {type(value).__name__}"]
            items = spec.get("items", {})
            return [p for i, v in enumerate(value) for p in self._value(v, items, f"{path}[{i}]", skip)]
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{path}: expected an object, got {type(value).__name__}"]
            extra = spec.get("additionalProperties")
            if isinstance(extra, dict):
                return [p for k, v in value.items() for p in self._value(v, extra, f"{path}[{k!r}]")]
            return []
        return _discovery_scalar(value, spec, path)

    def _object(self, value: Any, name: str, path: str, skip: frozenset[str]) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({name}), got {type(value).__name__}"]
        props: dict[str, Any] = self.schemas[name].get("properties", {})
        problems: list[str] = []
        for key, item in value.items():
            spec = props.get(key)
            if spec is None:
                problems.append(f"{path}[{key!r}]: unknown field of {name} (declared: {', '.join(sorted(props))})")
            else:
                inner = frozenset(f.split(".", 1)[1] for f in skip if f.startswith(f"{key}."))
                problems += self._value(item, spec, f"{path}[{key!r}]", inner)
        for key, spec in props.items():
            required = str(spec.get("description", "")).startswith("Required.")
            if required and key not in value and key not in skip:
                problems.append(f"{path}: missing required field {key!r} of {name}")
        return problems


def _discovery_scalar(value: Any, spec: Mapping[str, Any], path: str) -> list[str]:
    kind, fmt = spec.get("type"), spec.get("format")
    ok: bool
    if kind == "string":
        ok = isinstance(value, str) or (fmt in _INT64 and isinstance(value, int) and not isinstance(value, bool))
        if ok and "enum" in spec and value not in spec["enum"]:
            return [f"{path}: {value!r} is not one of {spec['enum']}"]
        if ok and fmt == "byte":
            import base64
            import binascii

            data = value.replace("-", "+").replace("_", "/")
            try:
                base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
            except (binascii.Error, ValueError):
                return [f"{path}: not base64 data"]
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    else:
        return [f"{path}: the schema has an unknown type {kind!r}"]
    return [] if ok else [f"{path}: expected {kind}{f' ({fmt})' if fmt else ''}, got {value!r:.60}"]


def load_json(relative: str) -> Any:
    """A JSON file under tests/schemas."""
    return json.loads((SCHEMAS / relative).read_text())

