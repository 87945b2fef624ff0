"""Pydantic models made from values that are already valid (they came out of a model), without validation.

What `model_construct` makes, at a fraction of its cost: the packed parts of a response are built this way on
first read, and every response's blank metadata on creation. For models that forbid or ignore extra fields.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

__all__ = ["construct", "set_extra", "set_fields_set", "set_private"]

_M = TypeVar("_M", bound=BaseModel)


_PLANS: dict[type, tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], dict[str, Any] | None]] = {}


def construct(cls: type[_M], fields_set: set[str], values: dict[str, Any]) -> _M:
    """A model of `cls` with `values` (already valid) over its defaults, as `model_construct` makes it;
    `values` must be a fresh dict."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls)
    defaults, factories, private = plan
    d = defaults.copy()
    for name, factory in factories:
        if name not in values:
            d[name] = factory()
    if values:
        d.update(values)
    model = _new(cls)
    _set(model, "__dict__", d)
    set_fields_set(model, fields_set)
    set_extra(model, None)
    set_private(model, None if private is None else private.copy())
    return model


_new = object.__new__
_set = object.__setattr__
# The slots every pydantic model has, set through their descriptors: cheaper than `object.__setattr__` by name.
set_fields_set: Callable[[BaseModel, set[str]], None] = BaseModel.__dict__["__pydantic_fields_set__"].__set__
set_extra: Callable[[BaseModel, dict[str, Any] | None], None] = BaseModel.__dict__["__pydantic_extra__"].__set__
set_private: Callable[[BaseModel, dict[str, Any] | None], None] = BaseModel.__dict__["__pydantic_private__"].__set__


def _plan(cls: type[BaseModel]) -> tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...],
                                         dict[str, Any] | None]:
    if cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__} keeps extra fields: construct() would drop them")
    defaults: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    for name, info in cls.model_fields.items():
        default = None if info.default is PydanticUndefined else info.default
        defaults[name] = default
        if info.default_factory is not None:
            factories.append((name, info.default_factory))  # type: ignore[arg-type]
        elif isinstance(default, (list, dict, set)):  # pydantic copies a mutable default for each model
            factories.append((name, partial(copy.deepcopy, default)))
    private = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()} or None
    return defaults, tuple(factories), private
