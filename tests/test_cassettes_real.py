"""Real vendor responses replayed as VCR cassettes through the real SDK-backed providers (`cassettes/real/`).

Every response in these cassettes is a real answer of the vendor's API (the wire samples recorded by
pydantic-ai's test suite, MIT; `tests/data/wire-samples/`), and every request is what our provider sends through
the vendor's SDK for the call (`tests/data/make_real_cassettes.py` builds them). The replay is always
`record_mode="none"`, whatever `--record-mode` says: these cassettes are never recorded again against anything
else. Providers point at the discard port (`http://127.0.0.1:9`), so a pass proves the cassette answered; the
parsed facts are checked against the sample's `expected` ones, through the sync and the async public API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import vcr
import yaml
from cassette_support import CASSETTE_DIR, cassette_lines, find_key_like
from real_cassettes import CASSETTES, DEAD_ROOT, INDEX, WANTED, Case, is_error, pick, run_async, run_sync, vcr_settings
from wire_sample_server import load_samples, sample_payload

from agentos_llm import create_provider, errors
from agentos_llm.provider import IProvider
from agentos_llm.types import CompletionResponse, EmbeddingResponse, StructuredResponse

SAMPLES = {s["id"]: s for s in load_samples()}
INDEXED: list[dict[str, Any]] = json.loads(INDEX.read_text(encoding="utf-8"))["cassettes"]
CASES = [Case(e["cassette"].removesuffix(".yaml"), SAMPLES[e["sample_id"]], e["scenario"]) for e in INDEXED]

FINISH: dict[str, dict[str, str]] = {
    "openai-chat": {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls",
                    "content_filter": "content_filter"},
    "anthropic-messages": {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                           "tool_use": "tool_calls", "refusal": "content_filter"},
    "gemini-generate": {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
                        "MALFORMED_FUNCTION_CALL": "error"},
    "openai-responses": {"completed": "stop", "max_output_tokens": "length", "content_filter": "content_filter",
                         "failed": "error"},
    "bedrock-converse": {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
                         "max_tokens": "length", "guardrail_intervened": "content_filter"},
    "cohere-chat": {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
                    "ERROR": "error"},
}
ERROR_FOR_STATUS: dict[int, tuple[type[errors.ProviderError], ...]] = {
    400: (errors.InvalidRequestError,), 401: (errors.AuthenticationError,), 403: (errors.PermissionDeniedError,),
    404: (errors.NotFoundError,), 429: (errors.RateLimitError, errors.QuotaExceededError),
}


@pytest.fixture(scope="module", autouse=True)
def _offline_aws() -> Iterator[None]:
    # Bedrock signs with the dummy keys each case passes; nothing of this machine's AWS setup is read.
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield


def _replayer() -> vcr.VCR:
    return vcr.VCR(record_mode="none", **vcr_settings())


def _provider(case: Case) -> IProvider:
    return create_provider(case.provider_id, **case.provider_kwargs(DEAD_ROOT))


# ---------------------------------------------------------------------- the facts a replay must give


def _expected_usage(case: Case) -> dict[str, int]:
    """The sample's usage under our inclusive convention: input counts the cache, output counts reasoning."""
    usage = case.sample["expected"].get("usage") or {}
    if not usage:
        return {}
    cached, written = usage.get("cached_input_tokens") or 0, usage.get("cache_write_input_tokens") or 0
    inp, out = usage["input_tokens"], usage["output_tokens"]
    kind = case.sample["kind"]
    if kind in ("anthropic-messages", "bedrock-converse"):
        inp += cached + written  # their input count leaves the cache out
    if kind == "gemini-generate":
        out += usage.get("reasoning_tokens") or 0  # Gemini counts thoughts apart from the candidates
    return {"input_tokens": inp, "output_tokens": out, "cached_input_tokens": cached,
            "cache_write_input_tokens": written}


def _check_completion(case: Case, resp: CompletionResponse) -> None:
    exp = case.sample["expected"]
    assert resp.provider == case.provider_id
    assert resp.text == (exp.get("text") or "")
    want = exp.get("tool_calls") or []
    assert [(t.name, t.arguments) for t in resp.tool_calls] == [(t["name"], t["arguments"]) for t in want]
    for call, spec in zip(resp.tool_calls, want, strict=True):
        assert call.id == spec.get("id", call.id) and call.id, call  # the id a tool result must quote back
    raw = exp["finish_reason"]
    normalized = FINISH[case.sample["kind"]].get(raw, "other")
    if want and normalized == "stop":
        normalized = "tool_calls"
    assert (resp.raw_finish_reason, str(resp.finish_reason)) == (raw, normalized)
    for field, value in _expected_usage(case).items():
        assert getattr(resp.usage, field) == value, field
    if case.scenario == "structured":
        assert json.loads(resp.text) == case.structured_value


def _check(case: Case, result: Any) -> None:
    exp = case.sample["expected"]
    if case.scenario == "embed":
        assert isinstance(result, EmbeddingResponse)
        assert len(result.vectors) == exp["count"] and {len(v) for v in result.vectors} == {exp["dims"]}
        assert all(isinstance(x, float) for v in result.vectors for x in v)
        if (exp.get("usage") or {}).get("input_tokens") is not None:
            assert result.usage.input_tokens == exp["usage"]["input_tokens"]
        return
    if isinstance(result, StructuredResponse):
        assert result.value.model_dump() == case.structured_value
        assert result.attempts == 1
        result = result.response
    assert isinstance(result, CompletionResponse)
    _check_completion(case, result)


def _check_error(case: Case, exc: errors.ProviderError) -> None:
    sample, exp = case.sample, case.sample["expected"]
    if sample["status"] >= 400:
        assert exc.status_code == sample["status"]
        want = ERROR_FOR_STATUS.get(sample["status"], (errors.ServerError,))
        assert isinstance(exc, want), f"{type(exc).__name__}, want one of {want}"
        message = exp.get("message")
    else:
        message = exp["stream_error"].get("message")
    if message:
        assert message in str(exc)


# ---------------------------------------------------------------------- replays


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_replay_sync(case: Case) -> None:
    provider = _provider(case)
    try:
        with _replayer().use_cassette(str(CASSETTES / f"{case.name}.yaml")) as cassette:
            if is_error(case.sample):
                with pytest.raises(errors.ProviderError) as info:
                    run_sync(case, provider)
                _check_error(case, info.value)
            else:
                _check(case, run_sync(case, provider))
            assert cassette.all_played
    finally:
        provider.close()


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
async def test_replay_async(case: Case) -> None:
    provider = _provider(case)
    try:
        with _replayer().use_cassette(str(CASSETTES / f"{case.name}.yaml")) as cassette:
            if is_error(case.sample):
                with pytest.raises(errors.ProviderError) as info:
                    await run_async(case, provider)
                _check_error(case, info.value)
            else:
                _check(case, await run_async(case, provider))
            assert cassette.all_played
    finally:
        await provider.aclose()


# ---------------------------------------------------------------------- what the cassettes hold


def test_the_index_is_the_generators_current_pick() -> None:
    picked = [(c.name, c.sample["id"], c.scenario) for c in pick(list(SAMPLES.values()))]
    assert [(c.name, c.sample["id"], c.scenario) for c in CASES] == picked, \
        "cassettes/real/ is stale: run .venv/bin/python tests/data/make_real_cassettes.py"
    assert sorted(p.name for p in CASSETTES.glob("*.yaml")) == sorted(f"{c.name}.yaml" for c in CASES)


def test_every_vendor_mode_and_scenario_with_a_real_recording_has_a_cassette() -> None:
    assert len(CASES) == len(WANTED)
    got = {(c.sample["kind"], c.sample["vendor"], c.sample["stream"], c.scenario) for c in CASES}
    assert got == set(WANTED)
    providers = {c.provider_id for c in CASES}
    assert {"openai", "anthropic", "gemini", "bedrock", "cohere", "voyage", "groq", "mistral"} <= providers
    for provider in ("openai", "anthropic", "gemini", "bedrock"):
        mine = [c for c in CASES if c.provider_id == provider]
        assert {c.scenario for c in mine} >= {"text", "tools", "structured", "error"}, provider
        assert {c.sample["stream"] for c in mine} == {False, True}, provider


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_each_response_is_the_recorded_one_byte_for_byte(case: Case) -> None:
    data = yaml.safe_load((CASSETTES / f"{case.name}.yaml").read_text(encoding="utf-8"))
    [interaction] = data["interactions"]
    response = interaction["response"]
    body = response["body"]["string"]
    assert (body if isinstance(body, bytes) else body.encode("utf-8")) == sample_payload(case.sample)
    assert response["status"]["code"] == case.sample["status"]
    assert response["headers"]["content-type"] == [case.sample["content_type"] or "application/json"]
    assert interaction["request"]["uri"].startswith(f"https://{case.sample['host']}/")


def test_no_key_or_token_in_the_real_cassettes() -> None:
    files = sorted(CASSETTES.iterdir())
    assert len(files) == len(CASES) + 1
    leaks = [(where, found) for path in files for where, line in cassette_lines(path)
             for found in find_key_like(line)]
    assert leaks == []
    for case in CASES:
        data = yaml.safe_load((CASSETTES / f"{case.name}.yaml").read_text(encoding="utf-8"))
        headers = {k.lower() for k in data["interactions"][0]["request"]["headers"]}
        assert not headers & {"authorization", "x-api-key", "x-goog-api-key", "api-key", "x-amz-security-token"}


def test_the_recorded_samples_hold_no_key() -> None:
    # The corpus was scrubbed before it was shared; a sample added later must be too.
    leaks = [(s["id"], found) for s in SAMPLES.values()
             for found in find_key_like(json.dumps([s.get("body"), s.get("request_json"), s.get("headers")]))]
    assert leaks == []


def test_every_cassette_folder_says_where_its_answers_come_from() -> None:
    index = (CASSETTE_DIR / "README.md").read_text(encoding="utf-8")
    for folder in sorted(p for p in CASSETTE_DIR.iterdir() if p.is_dir()):
        line = next((ln for ln in index.splitlines() if f"`{folder.name}/`" in ln), "")
        assert "real vendor responses" in line or "emulator recordings" in line, \
            f"cassettes/README.md does not label cassettes/{folder.name}/"
