"""Tool definitions: what a model may call, from a dict, a pydantic model or a typed Python function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
)

__all__ = [
    "ToolDefinition",
]

class ToolDefinition(BaseModel):
    """A tool the model may call: a name, a description and a JSON schema for its arguments."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None

    @classmethod
    def from_model(cls, model: type[BaseModel], *, name: str | None = None,
                   description: str | None = None) -> ToolDefinition:
        """A tool whose arguments are the fields of a pydantic model."""
        schema = model.model_json_schema()
        schema.pop("title", None)
        doc = description if description is not None else (schema.pop("description", None) or "")
        return cls(name=name or model.__name__, description=doc, parameters=schema)

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: str | None = None,
                      description: str | None = None) -> ToolDefinition:
        """A tool from a typed Python function: its parameters become the schema, its docstring the description."""
        sig = inspect.signature(fn)
        hints = getattr(fn, "__annotations__", {})
        try:
            from typing import get_type_hints

            hints = get_type_hints(fn)
        except Exception:
            pass
        fields: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(pname, Any)
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, default)
        model = create_model(f"{fn.__name__}_args", **fields)
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        doc = description if description is not None else inspect.getdoc(fn) or ""
        return cls(name=name or fn.__name__, description=doc, parameters=schema)

    @classmethod
    def coerce(cls, value: Any) -> ToolDefinition:
        """Accepts a ToolDefinition, an OpenAI tool dict, a pydantic model class or a function."""
        if isinstance(value, ToolDefinition):
            return value
        if isinstance(value, dict):
            if value.get("type") == "function" and isinstance(value.get("function"), dict):
                fn = value["function"]
                return cls(name=fn["name"], description=fn.get("description") or "",
                           parameters=fn.get("parameters") or {"type": "object", "properties": {}},
                           strict=fn.get("strict"))
            return cls.model_validate(value)
        if isinstance(value, type) and issubclass(value, BaseModel):
            return cls.from_model(value)
        if callable(value):
            return cls.from_function(value)
        raise TypeError(f"cannot make a tool from {type(value).__name__}")
