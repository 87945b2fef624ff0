"""Pure converters for AWS Bedrock's Converse API (`/model/{id}/converse`, `/converse-stream`, `/count-tokens`).

Our types become a Converse request: the keyword arguments of boto3's `client.converse(**kwargs)` (and of
`converse_stream`) without `modelId`, which is also the JSON body of `POST /model/{id}/converse`. Responses,
stream events and errors are converted by `agentos_llm.wire.bedrock_converse_response`, re-exported here.
No I/O and no SDK import: the provider sends what these functions build.

Conventions worth knowing:

- Blobs (image, document and audio `source.bytes`, `reasoningContent.redactedContent`) are raw `bytes`, as boto3
  takes them (it base64-encodes them itself); `json_body()` turns a request into the JSON body a plain HTTP
  client would send.
- What the model takes is asked of its `ModelTraits` (family "bedrock"): how reasoning is requested in
  `additionalModelRequestFields` (`request_dialect`), where cache checkpoints may go (`cache_fields`), whether a
  tool choice can force a call (`tool_choice`), whether `outputConfig` JSON schemas are taken (`json_schema`).
- `extra` keys that are Converse request fields (`guardrailConfig`, `performanceConfig`, `serviceTier`,
  `requestMetadata`, `promptVariables`, ...) go to the request as they are, merged one level into ours; any other
  key goes into `additionalModelRequestFields`, for what Converse does not model.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..model_traits import ModelTraits
from ..request_rules import (
    EFFORT_BUDGETS,
    adapted,
    check_tool_names,
    fold_system,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..server_tools import CodeInterpreter, WebSearch
from ..types import Message
from .anthropic_messages import MIN_THINKING_BUDGET, output_schema, structured_tool_name
from .bedrock_converse_content import cache_point, document_name, messages_to_wire, tool_use_id
from .bedrock_converse_response import (
    MADE_BY,
    PROVIDER,
    ConverseStreamAssembler,
    error_for,
    finish_reason,
    parse_converse,
    parse_token_count,
    response_from_blocks,
    stored_block,
    usage_from_wire,
)
from .common import merge_extra

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call
    from ..structured import StructuredMode, StructuredPlan

__all__ = [
    "CONVERSE_FIELDS",
    "DEFAULT_ANSWER_TOKENS",
    "MADE_BY",
    "MAX_CACHE_POINTS",
    "PROVIDER",
    "ConverseStreamAssembler",
    "build_converse_request",
    "build_count_request",
    "document_name",
    "error_for",
    "finish_reason",
    "json_body",
    "messages_to_wire",
    "parse_converse",
    "parse_token_count",
    "response_from_blocks",
    "stored_block",
    "structured_mode",
    "structured_tool_name",
    "tool_use_id",
    "usage_from_wire",
]

_API = "the Bedrock Converse API"
CONVERSE_FIELDS = frozenset({"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
                             "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
                             "requestMetadata", "performanceConfig", "serviceTier", "outputConfig"})
"""The Converse request's members besides `modelId` (botocore's bedrock-runtime service model)."""
_COUNT_FIELDS = frozenset({"messages", "system", "toolConfig", "additionalModelRequestFields"})
DEFAULT_ANSWER_TOKENS = 4096
"""Room left for the answer beside a thinking budget, when the caller set no `max_tokens`."""
MAX_CACHE_POINTS = 4
"""The most cache checkpoints one request may carry (Bedrock prompt caching)."""

_METADATA_VALUE = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}$")
_SYSTEM_TOOLS = {CodeInterpreter: "nova_code_interpreter", WebSearch: "nova_grounding"}


# ---------------------------------------------------------------------- request


def _drop(option: str, why: str) -> None:
    adapted(f"{option} left out of the request: {why}")


def structured_mode(call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
    """How a structured-output call travels: `outputConfig` JSON schema where the model takes it, else a forced
    tool where it can be forced, else instructions in the prompt."""
    traits = call.traits
    if traits.json_schema and plan.format.strict_schema is not None:
        return "json_schema"
    return "tool" if traits.tools and traits.tool_choice else "prompt"


def _tool_spec(tool: Any, traits: ModelTraits) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters or {"type": "object"}}}
    if tool.description:
        spec["description"] = tool.description
    if tool.strict and traits.json_schema:  # strict tool use comes with structured outputs
        spec["strict"] = True
    return {"toolSpec": spec}


def _server_tools(call: Call) -> list[dict[str, Any]]:
    tools = []
    for tool in call.options.server_tools or ():
        name = _SYSTEM_TOOLS.get(type(tool))
        if name is None or name not in call.traits.system_tools:
            raise UnsupportedCapabilityError(PROVIDER, "server tools", f"{tool.kind} is not run by model "
                                             f"{call.model!r} on Bedrock (Nova 2 runs code_interpreter and web_search)")
        tools.append({"systemTool": {"name": name}})
    return tools


def _tool_history(turns: Sequence[Mapping[str, Any]]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the history has tool blocks at all, and declarations of the tools it calls: an open schema for a
    function tool, a `systemTool` for one Bedrock ran itself."""
    tools: list[dict[str, Any]] = []
    found = False
    for turn in turns:
        for block in turn["content"]:
            found = found or "toolUse" in block or "toolResult" in block
            use = block.get("toolUse")
            if not isinstance(use, Mapping):
                continue
            name = str(use.get("name"))
            tool = {"systemTool": {"name": name}} if use.get("type") else {"toolSpec": {
                "name": name, "description": "A tool called earlier in this conversation.",
                "inputSchema": {"json": {"type": "object"}}}}
            if tool not in tools:
                tools.append(tool)
    return found, tools


def _unsigned_tool_loop(turns: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the request continues a tool loop whose assistant turn does not open with reasoning (Claude
    requires that turn to start with its signed reasoning while thinking)."""
    for turn in reversed(turns):
        content = turn["content"]
        if turn["role"] == "user":
            if not any("toolResult" in b for b in content):
                return False
            continue
        if not any("toolUse" in b for b in content):
            return False
        return "reasoningContent" not in content[0]
    return False


def _fit_budget(budget: int, limit: int | None, *, explicit: bool, explicit_max: bool) -> tuple[int, int]:
    """(budget_tokens, maxTokens): Claude counts thinking inside `maxTokens`, so the budget must fit under it."""
    budget = max(budget, MIN_THINKING_BUDGET)
    if limit is None or (budget >= limit and not explicit_max):
        return budget, max(limit or 0, budget + DEFAULT_ANSWER_TOKENS)
    if budget < limit:
        return budget, limit
    if explicit:
        raise InvalidRequestError(f"reasoning_budget ({budget}) must be less than max_tokens ({limit}): Claude counts "
                                  "thinking inside max_tokens; raise max_tokens or lower the budget", provider=PROVIDER)
    if limit - 1 < MIN_THINKING_BUDGET:
        raise InvalidRequestError(f"max_tokens ({limit}) leaves no room for extended thinking (at least "
                                  f"{MIN_THINKING_BUDGET} tokens); raise max_tokens or drop reasoning_effort",
                                  provider=PROVIDER)
    return limit - 1, limit


def _limit_cache_points(system: list[dict[str, Any]], tools: list[dict[str, Any]],
                        turns: list[dict[str, Any]]) -> None:
    """At most `MAX_CACHE_POINTS` checkpoints: the earliest ones in the messages go first (warned)."""
    places = [system, tools, *(t["content"] for t in turns)]
    count = sum(1 for blocks in places for b in blocks if "cachePoint" in b)
    if count <= MAX_CACHE_POINTS:
        return
    adapted(f"{count - MAX_CACHE_POINTS} prompt-cache checkpoint(s) left out: Bedrock takes at most "
            f"{MAX_CACHE_POINTS} per request (the earliest in the messages were dropped)")
    for blocks in [*places[2:], tools, system]:
        while count > MAX_CACHE_POINTS and any("cachePoint" in b for b in blocks):
            blocks.remove(next(b for b in blocks if "cachePoint" in b))
            count -= 1


def _addcache_point(blocks: list[dict[str, Any]]) -> None:
    if blocks and "cachePoint" not in blocks[-1]:
        blocks.append(cache_point())


def _merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    if "modelId" in extra:
        raise InvalidRequestError("extra must not carry modelId: pass the model as the model argument",
                                  provider=PROVIDER)
    merge_extra(body, {k: v for k, v in extra.items() if k in CONVERSE_FIELDS})
    vendor = {k: v for k, v in extra.items() if k not in CONVERSE_FIELDS}
    if vendor:
        fields = body.setdefault("additionalModelRequestFields", {})
        merge_extra(fields, vendor)


def build_converse_request(call: Call, *, max_tokens: int | None = None) -> dict[str, Any]:
    """The Converse request for a `Call`: boto3 `converse(**kwargs)` / `converse_stream(**kwargs)` keyword
    arguments without `modelId` (blobs as raw bytes; see `json_body`).

    `max_tokens` is the output limit to assume when the caller set none (the provider may pass the catalog's);
    it is sent only where a thinking budget needs a limit above it, otherwise Bedrock's default applies.
    """
    opts, traits = call.options, call.traits
    plan = call.structured
    forced = structured_tool_name(call)
    schema_format = plan is not None and call.structured_mode == "json_schema" and plan.format.strict_schema is not None
    messages = list(call.messages)
    if plan is not None and forced is None and not schema_format:
        messages.append(Message(role="system", content=plan.format.instructions()))
    system, turns = messages_to_wire(fold_system(messages, traits, model=call.model), traits, call.model)
    if not turns:
        raise InvalidRequestError("Bedrock needs at least one user message besides system instructions",
                                  provider=PROVIDER)
    body: dict[str, Any] = {"messages": turns}
    fields: dict[str, Any] = {}
    inference: dict[str, Any] = {}
    output: dict[str, Any] = {}

    # Tools. Bedrock refuses a request whose history has tool blocks but no toolConfig: the tools called earlier
    # are declared again (with an open schema) when the caller gave none.
    check_tool_names(opts.tools, traits.tool_name, _API, provider=PROVIDER)
    tools: list[dict[str, Any]] = []
    for tool in opts.tools or ():
        tools.append(_tool_spec(tool, traits))
        if tool.cache_control and "tools" in traits.cache_fields:
            tools.append(cache_point(tool.cache_control))
    tools += _server_tools(call)
    choice = tool_choice_for(opts.tool_choice, bool(tools), _API)
    tool_choice: dict[str, Any] | None = None
    if choice is not None and choice != "none":
        if choice == "auto":
            tool_choice = {"auto": {}} if traits.tool_choice else None
        elif not traits.tool_choice:
            raise InvalidRequestError(f"model {call.model!r} cannot be made to call a tool on Bedrock (tool_choice "
                                      f"{choice!r}); use tool_choice='auto' or leave it out", provider=PROVIDER)
        else:
            tool_choice = {"any": {}} if choice == "required" else {"tool": {"name": choice}}
    has_tool_blocks, called = _tool_history(turns)
    if choice == "none":
        if has_tool_blocks:
            _drop("tool_choice 'none'", "Converse has no such choice and the history has tool calls, so the tools "
                  "stay declared (the model may still call them)")
        else:
            tools = []
    if forced is not None and plan is not None:
        tools.append({"toolSpec": {"name": forced, "description": plan.format.description or
                                   "Give your answer by calling this tool: its input is the answer.",
                                   "inputSchema": {"json": plan.format.schema}}})
        tool_choice = {"tool": {"name": forced}}
    elif plan is not None and schema_format:
        schema: dict[str, Any] = {"schema": json.dumps(output_schema(plan.format.strict_schema)),
                                  "name": plan.format.name}
        if plan.format.description:
            schema["description"] = plan.format.description
        output["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": schema}}
    if not tools and has_tool_blocks:
        tools = called
        if not tools:
            raise InvalidRequestError("the history has tool results but no tool calls: Bedrock needs the tool "
                                      "declared; pass tools=[...]", provider=PROVIDER)

    # Reasoning, as the model's family asks for it in additionalModelRequestFields.
    reasoning = plan_reasoning(opts, traits, model=call.model, effort_budgets=EFFORT_BUDGETS)
    dialect = traits.request_dialect
    limit = opts.max_tokens
    thinks = False
    if reasoning is not None and dialect == "anthropic":
        forcing = tool_choice is not None and ("any" in tool_choice or "tool" in tool_choice)
        if not reasoning.off and forced is not None:
            _drop("extended thinking", "structured output through a forced tool cannot think first")
        elif not reasoning.off and forcing:
            raise InvalidRequestError("tool_choice 'required' or a named tool cannot be combined with extended "
                                      "thinking (Claude only allows auto while thinking)", provider=PROVIDER)
        elif not reasoning.off and _unsigned_tool_loop(turns):
            _drop("extended thinking", "the tool loop in progress started without a signed reasoning block (e.g. on "
                  "another provider), and Claude cannot switch thinking on mid-turn")
        elif reasoning.off:
            if traits.reasoning_control == "adaptive":
                fields["thinking"] = {"type": "disabled"}
        elif reasoning.budget is not None:
            budget, limit = _fit_budget(reasoning.budget, opts.max_tokens or max_tokens, explicit=reasoning.explicit,
                                        explicit_max=opts.max_tokens is not None)
            fields["thinking"] = {"type": "enabled", "budget_tokens": budget}
            thinks = True
        else:
            fields["thinking"] = {"type": "adaptive"}
            if reasoning.effort is not None:
                output["effort"] = reasoning.effort
            thinks = True
    elif reasoning is not None and dialect == "nova":
        if not reasoning.off and reasoning.effort is not None:
            fields["reasoningConfig"] = {"type": "enabled", "maxReasoningEffort": reasoning.effort}
            if reasoning.effort in traits.unbounded_efforts and limit is not None:
                _drop("max_tokens", f"model {call.model!r} takes no output limit at reasoning effort "
                      f"{reasoning.effort!r}")
                limit = None
    elif reasoning is not None and dialect == "openai":
        if reasoning.effort is not None and not reasoning.off:
            fields["reasoning_effort"] = reasoning.effort
    elif reasoning is not None and not reasoning.off:
        _drop("reasoning_effort/reasoning_budget", f"no known way to ask model {call.model!r} for reasoning on "
              "Bedrock (use extra={...} for its additionalModelRequestFields)")

    # Sampling, limits and stop sequences (inferenceConfig); top_k where the family takes one.
    sampling = reconcile_sampling(traits, model=call.model, temperature=opts.temperature, top_p=opts.top_p,
                                  top_k=opts.top_k, thinking=thinks)
    if limit is not None:
        inference["maxTokens"] = limit
    if sampling.temperature is not None:
        if sampling.temperature > 1.0:
            _drop(f"temperature {sampling.temperature}", "sent as 1.0 instead: Bedrock's range is 0 to 1")
        inference["temperature"] = min(sampling.temperature, 1.0)
    if sampling.top_p is not None:
        inference["topP"] = sampling.top_p
    stop = limit_stop(opts.stop, traits.max_stop, model=call.model, api=_API, provider=PROVIDER)
    if stop:
        inference["stopSequences"] = stop
    if sampling.top_k is not None:
        if dialect == "anthropic":
            fields["top_k"] = sampling.top_k
        elif dialect == "nova":
            fields["inferenceConfig"] = {"topK": sampling.top_k}
        else:
            _drop("top_k", f"Converse has no top_k for model {call.model!r} (use extra={{...}} for its "
                  "additionalModelRequestFields)")

    # Prompt caching: checkpoints after the system prompt, the tools and the last user turn.
    if opts.cache_prompt:
        if "system" in traits.cache_fields:
            _addcache_point(system)
        if "tools" in traits.cache_fields and any("toolSpec" in t for t in tools):
            _addcache_point(tools)
        if "messages" in traits.cache_fields:
            last_user = next((t for t in reversed(turns) if t["role"] == "user"), None)
            if last_user is not None:
                _addcache_point(last_user["content"])
    _limit_cache_points(system, tools, turns)

    if system:
        body["system"] = system
    if inference:
        body["inferenceConfig"] = inference
    if tools:
        config: dict[str, Any] = {"tools": tools}
        if tool_choice is not None:
            config["toolChoice"] = tool_choice
        body["toolConfig"] = config
    if output:
        body["outputConfig"] = output
    if opts.user is not None:
        if _METADATA_VALUE.match(opts.user):
            body["requestMetadata"] = {"user": opts.user}
        else:
            _drop("user", "Bedrock request metadata takes letters, digits, spaces and :_@$#=/+,-. only")
    if opts.seed is not None:
        _drop("seed", "Converse has no seed parameter")
    if opts.parallel_tool_calls is False and tools:
        _drop("parallel_tool_calls", "Converse has no switch for parallel tool calls")
    if fields:
        body["additionalModelRequestFields"] = fields
    if opts.extra:
        _merge_extra(body, opts.extra)
    return body


def build_count_request(call: Call, *, max_tokens: int | None = None) -> dict[str, Any]:
    """CountTokens keyword arguments without `modelId`: `{"input": {"converse": {...}}}`, the request `generate`
    would send minus what ConverseTokensRequest does not take (inference and output settings, guardrails)."""
    body = build_converse_request(replace(call, stream=False), max_tokens=max_tokens)
    return {"input": {"converse": {k: v for k, v in body.items() if k in _COUNT_FIELDS}}}


def json_body(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request as its JSON body: blobs (bytes) base64-encoded, as botocore serializes them."""

    def convert(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(bytes(value)).decode("ascii")
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value

    return {k: convert(v) for k, v in request.items()}
