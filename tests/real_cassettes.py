"""Which recorded vendor responses become VCR cassettes (`cassettes/real/`), and how each one is called.

A case names one real sample of `tests/data/wire-samples/samples.jsonl` and a scenario (text, tools,
structured, error, embed), whole or streamed. `make_real_cassettes.py` records the call our provider makes
for it (through the vendor's real SDK) against a loopback server that answers with the sample's recorded bytes,
and `tests/test_cassettes_real.py` replays the cassette with no server and checks the parsed facts against
the sample's `expected` ones. The picks are deterministic: for each (kind, vendor, mode, scenario) the
smallest recorded body that fits, so regenerating gives the same cassettes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cassette_support import scrub_request, vcr_config
from pydantic import BaseModel, create_model

from agentos_llm.provider import IProvider
from agentos_llm.types import CompletionResponse, DoneEvent, TextDeltaEvent, ToolCallEvent

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes" / "real"
INDEX = CASSETTES / "index.json"
#: Where a replay sends: the discard port, nothing listens there, so only the cassette can answer.
DEAD_ROOT = "http://127.0.0.1:9"
MESSAGES = [{"role": "user", "content": "hi"}]
EMBED_KINDS = ("openai-embeddings", "gemini-embed", "bedrock-embed", "cohere-embed", "voyage-embed")

#: (kind, vendor, stream, scenario): every vendor x whole and streamed x text, tools, structured output and
#: errors where a real recording exists (Cohere was never recorded streaming or failing; Voyage only embeds).
WANTED: tuple[tuple[str, str, bool, str], ...] = (
    *(("openai-chat", "openai", s, c) for s in (False, True) for c in ("text", "tools")),
    ("openai-chat", "openai", False, "structured"),
    ("openai-chat", "openai", False, "error"),
    *(("openai-chat", "groq", s, c) for s in (False, True) for c in ("text", "tools")),
    ("openai-chat", "groq", False, "structured"),
    ("openai-chat", "groq", False, "error"),
    ("openai-chat", "groq", True, "error"),  # an error event inside a 200 stream
    ("openai-chat", "mistral", False, "text"),
    ("openai-chat", "mistral", True, "text"),
    ("openai-chat", "mistral", False, "tools"),
    ("openai-chat", "openrouter", False, "text"),
    ("openai-chat", "openrouter", True, "text"),
    ("openai-chat", "openrouter", False, "tools"),
    ("openai-chat", "deepseek", True, "text"),
    ("openai-chat", "deepseek", False, "tools"),
    *(("openai-responses", "openai", s, c) for s in (False, True) for c in ("text", "tools")),
    ("openai-responses", "openai", False, "structured"),
    ("openai-responses", "openai", False, "error"),
    ("openai-responses", "deepseek", False, "error"),
    ("anthropic-messages", "anthropic", False, "text"),
    ("anthropic-messages", "anthropic", True, "text"),
    ("anthropic-messages", "anthropic", False, "tools"),
    ("anthropic-messages", "anthropic", False, "structured"),
    ("anthropic-messages", "anthropic", False, "error"),
    *(("gemini-generate", "google", s, c) for s in (False, True) for c in ("text", "tools", "structured")),
    ("gemini-generate", "google", False, "error"),
    ("bedrock-converse", "bedrock", False, "text"),
    ("bedrock-converse", "bedrock", True, "text"),
    ("bedrock-converse", "bedrock", False, "tools"),
    ("bedrock-converse", "bedrock", False, "structured"),
    ("bedrock-converse", "bedrock", True, "structured"),
    ("bedrock-converse", "bedrock", False, "error"),
    ("bedrock-converse", "bedrock", True, "error"),
    ("cohere-chat", "cohere", False, "text"),
    ("cohere-chat", "cohere", False, "tools"),
    ("openai-embeddings", "openai", False, "embed"),
    ("openai-embeddings", "openai", False, "error"),
    ("gemini-embed", "google", False, "embed"),
    ("gemini-embed", "google", False, "error"),
    ("bedrock-embed", "bedrock", False, "embed"),
    ("cohere-embed", "cohere", False, "embed"),
    ("voyage-embed", "voyage", False, "embed"),
)

# The OpenAI-compatible hosts by vendor (the rest of the chat samples' vendors have no provider of their own).
CHAT_PROVIDER = {"openai": "openai", "groq": "groq", "mistral": "mistral", "openrouter": "openrouter",
                 "deepseek": "deepseek"}
KIND_PROVIDER = {"anthropic-messages": "anthropic", "gemini-generate": "gemini", "gemini-embed": "gemini",
                 "bedrock-converse": "bedrock", "bedrock-embed": "bedrock", "cohere-chat": "cohere",
                 "cohere-embed": "cohere", "voyage-embed": "voyage"}


@dataclass(frozen=True)
class Case:
    """One cassette: the sample it replays and the call that gets it."""

    name: str
    sample: dict[str, Any]
    scenario: str

    @property
    def provider_id(self) -> str:
        kind = self.sample["kind"]
        return KIND_PROVIDER.get(kind) or CHAT_PROVIDER[self.sample["vendor"]]

    @property
    def api(self) -> str | None:
        return "responses" if self.sample["kind"] == "openai-responses" else None

    @property
    def base_path(self) -> str:
        """What goes after the server root in `base_url`: the vendor SDK's own path prefix."""
        kind = self.sample["kind"]
        if kind == "openai-responses":
            return self.sample["path"].rstrip("/")[: -len("/responses")]
        if self.provider_id in ("anthropic", "gemini", "bedrock", "cohere"):
            return ""
        return "/v1"

    @property
    def model(self) -> str:
        path = self.sample["path"]
        if "/model/" in path:
            return unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])
        request = self.sample.get("request_json")
        model = request.get("model") if isinstance(request, dict) else None
        if not model and "/models/" in path:
            model = path.split("/models/")[1].split(":")[0]
        return str(model or "test-model")

    @property
    def texts(self) -> list[str]:
        """What an embedding case embeds: one text per recorded vector."""
        return [f"text {i}" for i in range(int(self.sample["expected"].get("count") or 1))]

    @property
    def tools(self) -> list[dict[str, Any]]:
        """Function tools for the calls the answer makes (named as called, taking what was passed)."""
        made: dict[str, dict[str, Any]] = {}
        for call in self.sample["expected"].get("tool_calls") or ():
            arguments = call.get("arguments") if isinstance(call.get("arguments"), dict) else {}
            made.setdefault(call["name"], {
                "name": call["name"], "description": f"The {call['name']} tool.",
                "parameters": {"type": "object", "properties": {k: {} for k in arguments}},
            })
        return list(made.values())

    @property
    def structured_value(self) -> Any:
        """The JSON value a structured case's answer carries."""
        return json.loads(self.sample["expected"]["text"])

    def provider_kwargs(self, root: str) -> dict[str, Any]:
        """`create_provider` arguments against a server at `root` (dummy credentials; no retries)."""
        kw: dict[str, Any] = {"base_url": root + self.base_path, "max_retries": 0, "timeout": 20}
        if self.api:
            kw["api"] = self.api
        if self.provider_id == "bedrock":
            kw.update(region="us-east-1", aws_access_key_id="AKIATESTCASSETTE0001",
                      aws_secret_access_key="TestCassetteSecretAccessKey/0000000000000")
        else:
            kw["api_key"] = "test-key-real-cassettes"
        return kw


def is_error(sample: dict[str, Any]) -> bool:
    """A 4xx/5xx, or an error event inside a 200 stream."""
    return sample["status"] >= 400 or bool(sample["expected"].get("stream_error"))


def _asks_for_a_schema(sample: dict[str, Any]) -> bool:
    request = sample.get("request_json")
    if not isinstance(request, dict):
        return False
    format_ = (request.get("response_format") or {}).get("type") == "json_schema" or \
        ((request.get("text") or {}).get("format") or {}).get("type") == "json_schema" or \
        "format" in (request.get("output_config") or {}) or \
        "textFormat" in (request.get("outputConfig") or {})
    config = request.get("generationConfig") or {}
    return bool(format_ or "responseSchema" in config or "responseJsonSchema" in config)


def _fits(sample: dict[str, Any], scenario: str) -> bool:
    exp = sample["expected"]
    if scenario == "error":
        return is_error(sample)
    if is_error(sample) or exp.get("server_tool_calls") or exp.get("text_outside_think"):
        return False
    if scenario == "embed":
        return sample["kind"] in EMBED_KINDS and not sample["path"].endswith(":embedContent")
    calls = exp.get("tool_calls") or []
    if scenario == "tools":
        return bool(calls) and all(isinstance(c.get("arguments"), dict) for c in calls)
    if calls or not exp.get("finish_reason") or exp.get("reasoning"):
        return False
    if scenario == "structured":
        if not _asks_for_a_schema(sample):
            return False
        try:
            return isinstance(json.loads(exp.get("text") or ""), dict)
        except ValueError:
            return False
    return bool(exp.get("text")) and not _asks_for_a_schema(sample)


def _size(sample: dict[str, Any]) -> tuple[int, str]:
    return len(sample.get("body") or sample.get("body_b64") or ""), sample["id"]


def pick(samples: list[dict[str, Any]]) -> list[Case]:
    """The cases of `WANTED`, each on the smallest recorded body that fits; a wanted case nothing fits is an error."""
    cases = []
    for kind, vendor, stream, scenario in WANTED:
        fitting = [s for s in samples if s["kind"] == kind and s["vendor"] == vendor and s["stream"] == stream
                   and _fits(s, scenario)]
        if not fitting:
            raise LookupError(f"no recorded sample fits {kind} {vendor} {'stream' if stream else 'whole'} {scenario}")
        sample = min(fitting, key=_size)
        name = f"{kind}_{vendor}_{'stream' if stream else 'whole'}_{scenario}"
        cases.append(Case(name, sample, scenario))
    return cases


def index_entry(case: Case) -> dict[str, Any]:
    """What `cassettes/real/index.json` says of a case: where its response comes from and what it must parse to."""
    s = case.sample
    return {"cassette": f"{case.name}.yaml", "scenario": case.scenario, "stream": s["stream"],
            "sample_id": s["id"], "source": s["source"], "kind": s["kind"], "vendor": s["vendor"], "host": s["host"],
            "status": s["status"], "provider": case.provider_id, "api": case.api, "base_path": case.base_path,
            "model": case.model, "expected": s["expected"]}


# ---------------------------------------------------------------------- the call a case makes


def answer_model(value: Any) -> type[BaseModel]:
    """A pydantic model the structured answer `value` validates as (one field per key, typed by its value)."""
    def typed(v: Any) -> Any:
        return {bool: bool, int: int, float: float, str: str}.get(type(v), Any)

    fields: dict[str, Any] = {k: (typed(v), ...) for k, v in value.items()}
    return create_model("RecordedAnswer", **fields)


def _options(case: Case) -> dict[str, Any]:
    return {"tools": case.tools} if case.scenario == "tools" else {}


def run_sync(case: Case, provider: IProvider) -> Any:
    """The public call of `case`, blocking: a CompletionResponse (streams: the `done` one, after the events are
    checked to add up), a StructuredResponse or an EmbeddingResponse. There is no streamed structured call: a
    streamed structured answer is streamed as text (the test parses it)."""
    if case.scenario == "embed" or case.sample["kind"] in EMBED_KINDS:
        return provider.embed_sync(case.model, case.texts)
    if case.scenario == "structured" and not case.sample["stream"]:
        return provider.generate_structured_sync(case.model, MESSAGES, answer_model(case.structured_value))
    if case.sample["stream"]:
        with provider.stream_sync(case.model, MESSAGES, **_options(case)) as events:
            return streamed(list(events))
    return provider.generate_sync(case.model, MESSAGES, **_options(case))


async def run_async(case: Case, provider: IProvider) -> Any:
    """`run_sync`, through the async API."""
    if case.scenario == "embed" or case.sample["kind"] in EMBED_KINDS:
        return await provider.embed(case.model, case.texts)
    if case.scenario == "structured" and not case.sample["stream"]:
        return await provider.generate_structured(case.model, MESSAGES, answer_model(case.structured_value))
    if case.sample["stream"]:
        async with provider.stream(case.model, MESSAGES, **_options(case)) as stream:
            return streamed([event async for event in stream])
    return await provider.generate(case.model, MESSAGES, **_options(case))


def streamed(events: list[Any]) -> CompletionResponse:
    """The `done` response of a stream, after checking it closes the stream once and its deltas add up to it."""
    assert events and isinstance(events[-1], DoneEvent), f"the stream did not end with done: {events[-1:]}"
    assert sum(isinstance(e, DoneEvent) for e in events) == 1
    response = events[-1].response
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == response.text
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == response.tool_calls
    return response


# ---------------------------------------------------------------------- vcrpy


def _scrubbed_upper(request: Any) -> Any:
    # google-genai's async path (aiohttp) records the method as the SDK passes it ("post"); httpx2 upper-cases it.
    request = scrub_request(request)
    request.method = request.method.upper()
    return request


def vcr_settings() -> dict[str, Any]:
    """vcrpy settings of the real cassettes: the shared scrubbing, methods compared upper-cased, and no body
    matching. Each cassette holds one exchange, and what it proves is how the real answer parses; the request
    bodies are checked by the request-validity and wire-sample tests, so a change to what a provider sends does
    not make these cassettes stale (the recorded request body stays as documentation)."""
    config = vcr_config("real")
    config.pop("cassette_library_dir")
    config["before_record_request"] = _scrubbed_upper
    config["match_on"] = ["method", "path", "query"]
    return config
