"""Recorded AWS Bedrock answers (Converse, ConverseStream, InvokeModel embeddings, CountTokens) replayed through
the Bedrock provider, sync and async, and checked against the samples' `expected` facts.

The samples are `tests/data/wire-samples/samples.jsonl` (pydantic-ai's recordings, MIT); each body is
served as recorded (streams as their binary event-stream bytes) by the loopback imitation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bedrock_server import Answer, BedrockImitation

from agentos_llm import DoneEvent, create_provider, errors
from agentos_llm.providers.bedrock import BedrockProvider
from agentos_llm.types import CompletionResponse

SAMPLES_FILE = Path(__file__).resolve().parent / "data" / "wire-samples" / "samples.jsonl"
if not SAMPLES_FILE.is_file():
    pytest.skip(f"recorded wire samples not found at {SAMPLES_FILE}", allow_module_level=True)


def _load() -> list[dict[str, Any]]:
    with SAMPLES_FILE.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [s for s in rows if s["kind"] in ("bedrock-converse", "bedrock-embed")
            or (s["kind"] == "count-tokens" and s["path"].rstrip("/").endswith("/count-tokens"))]


SAMPLES = _load()
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length",
          "model_context_window_exceeded": "length", "guardrail_intervened": "content_filter",
          "content_filtered": "content_filter", "malformed_model_output": "error", "malformed_tool_use": "error"}
ERRORS: dict[int, type[errors.ProviderError]] = {400: errors.InvalidRequestError, 403: errors.PermissionDeniedError,
                                                 404: errors.NotFoundError, 429: errors.RateLimitError}
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[BedrockProvider, BedrockImitation]]:
    with pytest.MonkeyPatch.context() as mp, BedrockImitation() as server:
        mp.setenv("AWS_ACCESS_KEY_ID", "AKIDSAMPLESREPLAY001")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "samples-replay-dummy-secret")
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
            mp.delenv(name, raising=False)
        p = create_provider("bedrock", base_url=server.url, region="us-east-1", max_retries=0, timeout=20)
        assert isinstance(p, BedrockProvider)
        yield p, server
        p.close()


def _answer(sample: dict[str, Any]) -> Answer:
    if sample.get("body_b64"):
        return Answer(sample["status"], frames=[base64.b64decode(sample["body_b64"])])
    return Answer(sample["status"], (sample.get("body") or "").encode())


def _model(sample: dict[str, Any]) -> str:
    from urllib.parse import unquote

    return unquote(sample["path"].split("/model/", 1)[1].rsplit("/", 1)[0])


async def _run(p: BedrockProvider, sample: dict[str, Any], mode: str) -> Any:
    model, kind = _model(sample), sample["kind"]
    if kind == "count-tokens":
        return p.count_tokens_sync(model, MESSAGES) if mode == "sync" else await p.count_tokens(model, MESSAGES)
    if kind == "bedrock-embed":
        texts = [f"text {i}" for i in range(sample["expected"].get("count") or 1)]
        return p.embed_sync(model, texts) if mode == "sync" else await p.embed(model, texts)
    if sample["stream"]:
        if mode == "sync":
            events = list(p.stream_sync(model, MESSAGES))
        else:
            events = [e async for e in p.stream(model, MESSAGES)]
        assert isinstance(events[-1], DoneEvent)
        return events[-1].response
    return p.generate_sync(model, MESSAGES) if mode == "sync" else await p.generate(model, MESSAGES)


def _check_answer(r: CompletionResponse, exp: dict[str, Any]) -> None:
    assert r.text == (exp.get("text") or "")
    calls = exp.get("tool_calls") or []
    assert [(t.name, t.id) for t in r.tool_calls] == [(c["name"], c.get("id")) for c in calls]
    assert [t.arguments for t in r.tool_calls] == [c["arguments"] for c in calls if c["arguments"] is not None]
    raw = exp.get("finish_reason")
    if raw:
        want = FINISH.get(raw, "other")
        assert r.raw_finish_reason == raw
        assert str(r.finish_reason) == ("tool_calls" if calls and want == "stop" else want)
    u = exp.get("usage")
    if u:
        cached, written = u.get("cached_input_tokens") or 0, u.get("cache_write_input_tokens") or 0
        assert (r.usage.input_tokens, r.usage.output_tokens) == (u["input_tokens"] + cached + written,
                                                                 u["output_tokens"])
        assert (r.usage.cached_input_tokens, r.usage.cache_write_input_tokens) == (cached, written)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s['id']}-{s['kind']}-{s['status']}" for s in SAMPLES])
async def test_recorded_sample(provider: tuple[BedrockProvider, BedrockImitation], sample: dict[str, Any],
                               mode: str) -> None:
    p, server = provider
    server.reset()
    server.answer(_answer(sample))
    exp = sample["expected"]
    if sample["status"] >= 400:
        with pytest.raises(ERRORS.get(sample["status"], errors.ServerError)):
            await _run(p, sample, mode)
        return
    got = await _run(p, sample, mode)
    assert server.requests[-1].model == _model(sample)
    if sample["kind"] == "count-tokens":
        assert got.input_tokens == exp["input_tokens"]
    elif sample["kind"] == "bedrock-embed":
        assert len(got.vectors) == exp["count"] and len(got.vectors[0]) == exp["dims"]
        assert got.usage.input_tokens == ((exp.get("usage") or {}).get("input_tokens") or 0)
    else:
        _check_answer(got, exp)
