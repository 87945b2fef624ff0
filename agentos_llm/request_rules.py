"""Per-model request rules, applied before sending: pure helpers every request converter calls.

A converter makes one call per concern (tool names, stop sequences, sampling, reasoning, tool choice,
system prompt); the rules themselves are fields of the model's `ModelTraits`. What the vendor would
refuse is either adapted, with a `UserWarning`, when the adapted request still does what the caller
asked for, or refused with `InvalidRequestError` when it would not (nothing is sent then).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from .errors import InvalidRequestError
from .model_traits import EFFORT_ORDER, ModelTraits
from .options import GenerateOptions
from .types import Message, TextPart, ToolDefinition

__all__ = [
    "EFFORT_BUDGETS",
    "ReasoningPlan",
    "Sampling",
    "adapted",
    "allowed_effort",
    "check_tool_names",
    "effort_for_budget",
    "fold_system",
    "limit_stop",
    "plan_reasoning",
    "reconcile_sampling",
    "tool_choice_for",
]

EFFORT_BUDGETS: Mapping[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
"""Thinking-token budgets for the efforts, on models that take a budget (a converter may pass its own)."""

# Where the warning points: the caller's frame through the provider's public method and the converter.
_STACKLEVEL = 7


def adapted(message: str) -> None:
    """Warns that the request was changed to one the vendor accepts."""
    warnings.warn(message, UserWarning, stacklevel=_STACKLEVEL)


# ---------------------------------------------------------------------- tools


@lru_cache(maxsize=16)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_tool_names(tools: Sequence[ToolDefinition] | None, pattern: str | None, api: str, *,
                     provider: str | None = None) -> None:
    """Refuses duplicate tool names, and names the API would refuse (`pattern`, from `ModelTraits.tool_name`)."""
    seen: set[str] = set()
    for tool in tools or ():
        if tool.name in seen:
            raise InvalidRequestError(f"tool {tool.name!r} is given twice: {api} needs distinct tool names",
                                      provider=provider)
        seen.add(tool.name)
        if pattern is not None and not _pattern(pattern).match(tool.name):
            raise InvalidRequestError(f"tool name {tool.name!r} is refused by {api}: names must match {pattern}",
                                      provider=provider)


def tool_choice_for(choice: str | None, has_tools: bool, api: str) -> str | None:
    """The tool choice to send: none without tools (the vendors refuse it then); "none" goes silently."""
    if choice is None or has_tools:
        return choice
    if choice != "none":
        adapted(f"tool_choice {choice!r} left out of the request: no tools were given, and {api} refuses "
                "tool_choice without tools")
    return None


# ---------------------------------------------------------------------- stop sequences


def limit_stop(stop: Sequence[str] | None, max_stop: int | None, *, model: str, api: str,
               provider: str | None = None) -> list[str] | None:
    """The stop sequences to send, or None. Empty sequences, and more than the model takes, are refused:
    leaving some out would change where the answer ends."""
    if not stop:
        return None
    if any(s == "" for s in stop):
        raise InvalidRequestError("stop sequences must not be empty strings", provider=provider)
    sequences = list(dict.fromkeys(stop))  # a repeated sequence stops nothing more
    if max_stop == 0:
        raise InvalidRequestError(f"model {model!r} takes no stop sequences on {api}; leave `stop` out",
                                  provider=provider)
    if max_stop is not None and len(sequences) > max_stop:
        raise InvalidRequestError(
            f"{api} takes at most {max_stop} stop sequences, {len(sequences)} were given", provider=provider)
    return sequences


# ---------------------------------------------------------------------- sampling


class Sampling(NamedTuple):
    """The sampling parameters to send (None: leave out)."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None


def reconcile_sampling(traits: ModelTraits, *, model: str, temperature: float | None = None,
                       top_p: float | None = None, top_k: int | None = None, thinking: bool = False) -> Sampling:
    """The sampling parameters the model takes, out of those the API carries (pass None for the others).

    A reasoning model that refuses sampling gets none; while thinking, `thinking_sampling` models drop
    temperature (unless 1) and top_k and bring top_p into range; `exclusive_sampling` models keep
    temperature over top_p. Every change is warned about.
    """
    given = {"temperature": temperature, "top_p": top_p, "top_k": top_k}
    if all(v is None for v in given.values()):
        return Sampling()
    if not traits.accepts_sampling:
        adapted(f"{'/'.join(k for k, v in given.items() if v is not None)} left out of the request: "
                f"model {model!r} does not accept sampling parameters")
        return Sampling()
    if thinking and traits.thinking_sampling is not None:
        low, high = traits.thinking_sampling
        dropped = []
        if temperature is not None:
            if temperature != 1.0:
                dropped.append("temperature")
            temperature = None  # 1 is the only value allowed, and the default
        if top_k is not None:
            dropped.append("top_k")
            top_k = None
        if dropped:
            adapted(f"{'/'.join(dropped)} left out of the request: model {model!r} does not allow them while "
                    "thinking")
        if top_p is not None and not low <= top_p <= high:
            clamped = min(max(top_p, low), high)
            adapted(f"top_p {top_p} sent as {clamped}: model {model!r} takes top_p {low}..{high} while thinking")
            top_p = clamped
    if traits.exclusive_sampling and temperature is not None and top_p is not None:
        adapted(f"top_p left out of the request: model {model!r} takes temperature or top_p, not both "
                "(temperature is kept)")
        top_p = None
    return Sampling(temperature, top_p, top_k)


# ---------------------------------------------------------------------- reasoning


def _nearest(value: str, allowed: Sequence[str]) -> str:
    """The allowed value closest to `value` on `EFFORT_ORDER`; a tie goes to the lesser one."""
    at = EFFORT_ORDER.index(value)
    return min(allowed, key=lambda v: (abs(EFFORT_ORDER.index(v) - at), EFFORT_ORDER.index(v)))


def allowed_effort(effort: str, efforts: Sequence[str] | None, *, model: str, what: str = "reasoning_effort"
                   ) -> str | None:
    """`effort` if the model takes it, else the nearest it takes (warned); None when it takes none (warned)."""
    if efforts is None or effort in efforts:
        return effort
    if not efforts:
        adapted(f"{what} left out of the request: model {model!r} takes no reasoning effort")
        return None
    nearest = _nearest(effort, efforts)
    adapted(f"{what} {effort!r} sent as {nearest!r}: model {model!r} takes {', '.join(efforts)}")
    return nearest


def effort_for_budget(budget: int) -> str:
    """The effort nearest to a thinking-token budget (0: no reasoning)."""
    if budget <= 0:
        return "none"
    if budget <= 2048:
        return "low"
    if budget <= 16384:
        return "medium"
    return "high"


@dataclass(frozen=True)
class ReasoningPlan:
    """What to ask the vendor for, within the model's rules. At most one of effort, budget and level is set."""

    off: bool = False
    """Reasoning turned off (the converter sends the API's "off", or nothing where off is the default)."""
    effort: str | None = None
    """An effort the model takes ("effort" and "adaptive" models; "none" for off where it is an effort)."""
    budget: int | None = None
    """A thinking-token budget within the model's range."""
    level: str | None = None
    """A thinking level the model takes ("level" models)."""
    explicit: bool = False
    """The budget is the caller's own `reasoning_budget` (not derived from an effort)."""


def _clamp(budget: int, bounds: tuple[int, int | None] | None, *, model: str, warn: bool) -> int:
    if bounds is None:
        return budget
    low, high = bounds
    clamped = max(budget, low) if high is None else min(max(budget, low), high)
    if clamped != budget and warn:
        adapted(f"reasoning_budget {budget} sent as {clamped}: model {model!r} takes budgets of {low}"
                + (f" to {high} tokens" if high is not None else " tokens or more"))
    return clamped


def _least(traits: ModelTraits, model: str, effort_budgets: Mapping[str, int]) -> ReasoningPlan:
    """The least reasoning a model that cannot turn it off takes."""
    control = traits.reasoning_control
    if control == "level":
        plan = ReasoningPlan(level=(traits.levels or ("low",))[0])
        least = f"thinking level {plan.level!r}"
    elif control == "budget":
        bounds = traits.budget_range
        plan = ReasoningPlan(budget=bounds[0] if bounds else min(v for v in effort_budgets.values() if v > 0))
        least = f"a budget of {plan.budget} tokens"
    else:
        plan = ReasoningPlan(effort=(traits.efforts or ("low",))[0])
        least = f"effort {plan.effort!r}"
    adapted(f"model {model!r} cannot turn reasoning off: sent with the least it takes, {least}")
    return plan


def _off(traits: ModelTraits, model: str, effort_budgets: Mapping[str, int]) -> ReasoningPlan:
    if not traits.thinking_off:
        return _least(traits, model, effort_budgets)
    return ReasoningPlan(off=True, effort="none" if traits.reasoning_control == "effort" else None)


def plan_reasoning(options: GenerateOptions, traits: ModelTraits, *, model: str,
                   effort_budgets: Mapping[str, int] = EFFORT_BUDGETS) -> ReasoningPlan | None:
    """The reasoning to ask for, or None when none was asked for (or the model does not reason: warned).

    `reasoning_budget` wins over `reasoning_effort`. `effort_budgets` turns an effort into a budget on
    models that take one (the converter's table); such a budget is brought into the model's range
    silently, the caller's own budget with a warning. Unsupported efforts and levels go to the nearest.
    """
    effort, budget = options.reasoning_effort, options.reasoning_budget
    if effort is None and budget is None:
        return None
    if not traits.reasoning:
        asked = "/".join(n for n, v in (("reasoning_effort", effort), ("reasoning_budget", budget)) if v is not None)
        adapted(f"{asked} left out of the request: model {model!r} has no extended thinking or reasoning")
        return None
    control = traits.reasoning_control
    if control in ("effort", "adaptive") and traits.efforts == ():
        adapted(f"reasoning_effort/reasoning_budget left out of the request: model {model!r} takes no reasoning "
                "effort")
        return None
    if budget is not None:
        if budget == 0:
            return _off(traits, model, effort_budgets)
        derived = effort_for_budget(budget)
        if control == "effort":
            nearest = allowed_effort(derived, traits.efforts, model=model,
                                     what=f"reasoning_budget {budget} (effort {derived!r})")
            return ReasoningPlan(effort=nearest) if nearest is not None else None
        if control == "adaptive" and traits.budget_range is None:
            chosen = _nearest(derived, traits.efforts) if traits.efforts else derived
            adapted(f"reasoning_budget {budget} sent as effort {chosen!r}: model {model!r} takes no token budget")
            return ReasoningPlan(effort=chosen)
        return ReasoningPlan(budget=_clamp(budget, traits.budget_range, model=model, warn=True), explicit=True)
    assert effort is not None
    if effort == "none":
        return _off(traits, model, effort_budgets)
    if control == "level":
        level = allowed_effort(effort, traits.levels, model=model, what="thinking level for reasoning_effort")
        return ReasoningPlan(level=level)
    if control == "budget":
        return ReasoningPlan(budget=_clamp(effort_budgets[effort], traits.budget_range, model=model, warn=False))
    taken = allowed_effort(effort, traits.efforts, model=model)
    return ReasoningPlan(effort=taken) if taken is not None else None


# ---------------------------------------------------------------------- system prompt


def fold_system(messages: list[Message], traits: ModelTraits, *, model: str) -> list[Message]:
    """The history for a model without system instructions: their text opens the first user turn (warned).

    Unchanged (the same list) when the model takes system instructions or none are given.
    """
    if traits.system_prompt or not any(m.role == "system" for m in messages):
        return messages
    text = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    rest = [m for m in messages if m.role != "system"]
    adapted(f"system instructions folded into the first user turn: model {model!r} takes no system prompt")
    if not text:
        return rest
    for i, m in enumerate(rest):
        if m.role == "user":
            content = m.content
            if isinstance(content, list):
                folded: str | list[Any] = [TextPart(text=text), *content]
            else:
                folded = f"{text}\n\n{content}" if content else text
            rest[i] = m.model_copy(update={"content": folded})
            return rest
    return [Message(role="user", content=text), *rest]
