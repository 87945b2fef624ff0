"""The Bedrock provider end to end, through real boto3/botocore, against a loopback Bedrock imitation.

Covers credentials (the AWS chain, profiles, Bedrock API keys), regions, secrets, retries (ours only),
streams (closing and cancelling release the connection), error mapping from AWS error bodies, and the
sync and async twins of every operation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bedrock_server import Answer, BedrockImitation, converse_body, event, exception, text_stream

from agentos_llm import DoneEvent, TextDeltaEvent, create_provider
from agentos_llm.errors import (
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from agentos_llm.providers.bedrock import BedrockProvider

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
KEY_ID, SECRET = "AKIDTESTBEDROCK00001", "test-secret-access-key-for-bedrock-0001"
API_KEY = "ABSKdGVzdC1iZWRyb2NrLWFwaS1rZXktMDAwMQ"  # shaped like a Bedrock API key, and fake
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[BedrockImitation]:
    with BedrockImitation() as imitation:
        yield imitation


@pytest.fixture
def aws(server: BedrockImitation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> BedrockImitation:
    """A clean AWS environment (no real profile, no instance metadata) and a reset server."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "BEDROCK_BASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    server.reset()
    return server


@pytest.fixture
def keys(aws: BedrockImitation, monkeypatch: pytest.MonkeyPatch) -> BedrockImitation:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    return aws


def make(server: BedrockImitation, **kw: Any) -> BedrockProvider:
    kw.setdefault("region", "us-east-1")
    kw.setdefault("max_retries", 0)
    provider = create_provider("bedrock", base_url=server.url, **kw)
    assert isinstance(provider, BedrockProvider)
    return provider


# ---------------------------------------------------------------------- credentials and region


def test_env_keys_sign_with_sigv4(keys: BedrockImitation) -> None:
    p = make(keys)
    assert p.credential_source == "aws:env"
    assert p.generate_sync(MODEL, MESSAGES).text == "Hello from Bedrock"
    auth = keys.requests[-1].headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/") and "/us-east-1/bedrock/aws4_request" in auth
    assert keys.requests[-1].model == MODEL


def test_a_profile_from_the_shared_files_gives_credentials_and_region(aws: BedrockImitation, tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text("[profile dev]\nregion = eu-west-3\n")
    (tmp_path / "aws-credentials").write_text(f"[dev]\naws_access_key_id = {KEY_ID}\n"
                                              f"aws_secret_access_key = {SECRET}\n")
    p = make(aws, aws_profile="dev", region=None)
    assert (p.region, p.credential_source) == ("eu-west-3", "aws:shared-credentials-file")
    p.generate_sync(MODEL, MESSAGES)
    assert "/eu-west-3/bedrock/aws4_request" in aws.requests[-1].headers["authorization"]


def test_aws_profile_env_with_keys_in_the_config_file(aws: BedrockImitation, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "aws-config").write_text(f"[profile ops]\nregion = ap-southeast-2\naws_access_key_id = {KEY_ID}\n"
                                         f"aws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_PROFILE", "ops")
    p = make(aws, region=None)
    assert (p.region, p.credential_source) == ("ap-southeast-2", "aws:config-file")


def test_bearer_token_from_the_environment(aws: BedrockImitation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    p = make(aws)
    assert p.credential_source == "aws:bearer-token"
    p.generate_sync(MODEL, MESSAGES)
    assert aws.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"


def test_api_key_argument_is_a_bearer_token_and_stays_out_of_the_environment(keys: BedrockImitation) -> None:
    p = make(keys, api_key=API_KEY)
    assert p.credential_source == "argument"
    p.generate_sync(MODEL, MESSAGES)
    assert keys.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    p.list_models_sync()  # the control plane takes the key too
    assert keys.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in os.environ.values()
    # A provider without the key, made afterwards, signs with the environment's keys again.
    make(keys).generate_sync(MODEL, MESSAGES)
    assert keys.requests[-1].headers["authorization"].startswith("AWS4-HMAC-SHA256")


def test_explicit_keys_win_over_a_bearer_token_in_the_environment(aws: BedrockImitation,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    p = make(aws, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    assert p.credential_source == "argument"
    p.generate_sync(MODEL, MESSAGES)
    assert aws.requests[-1].headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")


def test_a_ready_boto3_session(aws: BedrockImitation) -> None:
    import boto3  # type: ignore[import-untyped]

    session = boto3.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name="ca-central-1")
    p = make(aws, session=session, region=None)
    assert (p.region, p.credential_source) == ("ca-central-1", "aws:explicit")


def test_an_env_mapping_replaces_the_process_environment(keys: BedrockImitation, tmp_path: Path) -> None:
    other = "AKIDFROMMAPPING00002"
    env = {"AWS_ACCESS_KEY_ID": other, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "eu-west-1",
           "AGENTOS_LLM_CONFIG": str(tmp_path / "absent.toml")}
    p = create_provider("bedrock", base_url=keys.url, env=env, max_retries=0)
    assert (p.region, p.credential_source) == ("eu-west-1", "aws:env")  # type: ignore[attr-defined]
    p.generate_sync(MODEL, MESSAGES)
    assert keys.requests[-1].headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={other}/")
    (tmp_path / "cfg").write_text(f"[profile m]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
    from_profile = create_provider("bedrock", base_url=keys.url, region="us-east-1",
                                   env={"AWS_PROFILE": "m", "AWS_CONFIG_FILE": str(tmp_path / "cfg")})
    assert from_profile.credential_source == "aws:config-file"


def test_region_from_aws_region_and_a_clear_error_without_one(keys: BedrockImitation,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"region='us-east-1'.*AWS_REGION"):
        make(keys, region=None)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert make(keys, region=None).region == "eu-central-1"


def test_missing_or_partial_credentials_are_configuration_errors(aws: BedrockImitation,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"AWS_BEARER_TOKEN_BEDROCK.*AWS_PROFILE"):
        make(aws)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    with pytest.raises(ConfigurationError, match="incomplete"):
        make(aws)
    with pytest.raises(ConfigurationError, match="nosuch"):
        make(aws, aws_profile="nosuch")


def test_unknown_config_and_bad_values_are_refused(keys: BedrockImitation) -> None:
    with pytest.raises(ConfigurationError, match=r"accepted:.*region"):
        make(keys, regoin="us-east-1")
    with pytest.raises(ConfigurationError, match="embed_format"):
        make(keys, embed_format="word2vec")
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        make(keys, max_concurrency=0)
    with pytest.raises(ConfigurationError, match="not both"):
        make(keys, api_key=API_KEY, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)


def test_no_secret_in_repr_errors_or_logs(aws: BedrockImitation, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="agentos_llm")
    p = make(aws, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    bearer = make(aws, api_key=API_KEY)
    for provider in (p, bearer):
        text = repr(provider)
        assert "region='us-east-1'" in text and "credential_source=" in text
        assert SECRET not in text and KEY_ID not in text and API_KEY not in text
    aws.answer(Answer(403, {"message": f"The request signature we calculated does not match ({SECRET}, {API_KEY})"},
                      {"x-amzn-errortype": "InvalidSignatureException"}))
    with pytest.raises(AuthenticationError) as info:
        p.generate_sync(MODEL, MESSAGES)
    shown = f"{info.value} {info.value!r} {info.value.body}"
    assert SECRET not in shown and API_KEY not in shown and "[REDACTED]" in shown
    assert SECRET not in caplog.text and API_KEY not in caplog.text


# ---------------------------------------------------------------------- retries and timeouts


@pytest.mark.parametrize(("max_retries", "hits"), [(1, 2), (0, 1)])
def test_retries_are_the_librarys_only(keys: BedrockImitation, max_retries: int, hits: int) -> None:
    p = make(keys, max_retries=max_retries)
    keys.answer(Answer(503, {"message": "Bedrock is unable to process your request."},
                       {"x-amzn-errortype": "ServiceUnavailableException"}))
    if max_retries:
        assert p.generate_sync(MODEL, MESSAGES).text == "Hello from Bedrock"
    else:
        with pytest.raises(ServerError):
            p.generate_sync(MODEL, MESSAGES)
    assert len(keys.requests) == hits


async def test_async_retry_after_throttling(keys: BedrockImitation) -> None:
    p = make(keys, max_retries=1)
    keys.answer(Answer(429, {"message": "Too many requests, please wait before trying again."},
                       {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                        "retry-after": "0"}))
    assert (await p.generate(MODEL, MESSAGES)).text == "Hello from Bedrock"
    assert len(keys.requests) == 2
    await p.aclose()


def test_a_shorter_per_call_timeout_applies_to_that_call(keys: BedrockImitation) -> None:
    p = make(keys, timeout=30)
    keys.answer(Answer(body=converse_body(), delay=2.0))
    with pytest.raises(APITimeoutError):
        p.generate_sync(MODEL, MESSAGES, timeout=0.3)
    assert p.generate_sync(MODEL, MESSAGES).text == "Hello from Bedrock"  # the client's own timeout is unchanged


# ---------------------------------------------------------------------- error mapping

AWS_ERRORS = [
    (400, "ValidationException", "The provided model identifier is invalid.", InvalidRequestError),
    (400, "ValidationException", "Input is too long for requested model.", ContextLengthExceededError),
    (403, "AccessDeniedException", "You don't have access to the model with the specified model ID.",
     PermissionDeniedError),
    (403, "UnrecognizedClientException", "The security token included in the request is invalid.",
     AuthenticationError),
    (404, "ResourceNotFoundException", "Model not found.", NotFoundError),
    (429, "ThrottlingException", "Too many tokens, please wait before trying again.", RateLimitError),
    (500, "InternalServerException", "Internal server error", ServerError),
]


@pytest.mark.parametrize(("status", "code", "message", "cls"), AWS_ERRORS, ids=[f"{e[0]}-{e[1]}" for e in AWS_ERRORS])
async def test_aws_error_bodies_map_to_typed_errors(keys: BedrockImitation, status: int, code: str, message: str,
                                                    cls: type[ProviderError]) -> None:
    p = make(keys)
    for call in ("sync", "async"):
        keys.answer(Answer(status, {"message": message}, {"x-amzn-errortype": f"{code}:http://internal.amazon.com/"}))
        with pytest.raises(cls) as info:
            if call == "sync":
                p.generate_sync(MODEL, MESSAGES)
            else:
                await p.generate(MODEL, MESSAGES)
        assert info.value.status_code == status and message in str(info.value)
        assert info.value.request_id == "req-0001"
    await p.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_exception_event_inside_a_stream_is_a_typed_error(keys: BedrockImitation, mode: str) -> None:
    p = make(keys)
    frames = [*text_stream("partial")[:2], exception("throttlingException", "Too many requests mid-stream")]
    keys.answer(Answer(frames=frames))
    seen: list[Any] = []
    with pytest.raises(RateLimitError, match="mid-stream"):
        if mode == "sync":
            seen.extend(p.stream_sync(MODEL, MESSAGES))
        else:
            seen.extend([e async for e in p.stream(MODEL, MESSAGES)])
    await p.aclose()


def test_an_unreachable_endpoint_is_a_connection_error(keys: BedrockImitation) -> None:
    from agentos_llm.errors import APIConnectionError

    p = create_provider("bedrock", base_url="http://127.0.0.1:9", region="us-east-1", max_retries=0)
    with pytest.raises(APIConnectionError):
        p.generate_sync(MODEL, MESSAGES)


# ---------------------------------------------------------------------- streams


def test_sync_stream_and_closing_it_releases_the_connection(keys: BedrockImitation) -> None:
    p = make(keys)
    events = list(p.stream_sync(MODEL, MESSAGES))
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "Hello"
    assert isinstance(events[-1], DoneEvent) and events[-1].response.usage.input_tokens == 5
    keys.answer(Answer(frames=text_stream("one", "two", "three"), hang_after=2))
    with p.stream_sync(MODEL, MESSAGES) as stream:
        first = next(e for e in stream if isinstance(e, TextDeltaEvent))
    assert first.delta == "one"
    assert keys.closed.wait(10), "the server never saw the connection close"


async def test_async_stream_left_early_releases_the_connection(keys: BedrockImitation) -> None:
    p = make(keys)
    keys.answer(Answer(frames=text_stream("one", "two"), hang_after=2))
    async with p.stream(MODEL, MESSAGES) as stream:
        async for e in stream:
            if isinstance(e, TextDeltaEvent):
                break
    assert await asyncio.to_thread(keys.closed.wait, 10)
    await p.aclose()


async def test_cancelling_a_stream_mid_read_frees_the_socket_and_the_thread(keys: BedrockImitation) -> None:
    # One thread in the pool: if the cancelled read kept it, the next call could never run.
    p = make(keys, max_concurrency=1, timeout=60)
    keys.answer(Answer(frames=text_stream("one", "two"), hang_after=2))
    got: list[Any] = []

    async def consume() -> None:
        async for e in p.stream(MODEL, MESSAGES):
            got.append(e)

    task = asyncio.create_task(consume())
    while not got:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the next read is now blocked in the pool's only thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(keys.closed.wait, 10), "the cancelled stream's connection stayed open"
    answer = await asyncio.wait_for(p.generate(MODEL, MESSAGES), 15)
    assert answer.text == "Hello from Bedrock"
    await p.aclose()


async def test_async_stream(keys: BedrockImitation) -> None:
    p = make(keys)
    keys.answer(Answer(frames=[event("messageStart", {"role": "assistant"}), *text_stream("a", "b", "c")[1:]]))
    events = [e async for e in p.stream(MODEL, MESSAGES)]
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "abc"
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.response.finish_reason == "stop"
    assert keys.requests[-1].path.endswith("/converse-stream")
    await p.aclose()


# ---------------------------------------------------------------------- headers, counting, listing


async def test_extra_and_default_headers_are_sent_and_signed(keys: BedrockImitation) -> None:
    p = make(keys, default_headers={"x-team": "search"})
    p.generate_sync(MODEL, MESSAGES, extra_headers={"x-trace-id": "t-1"})
    seen = keys.requests[-1]
    assert (seen.headers["x-team"], seen.headers["x-trace-id"]) == ("search", "t-1")
    assert "x-trace-id" in seen.headers["authorization"]  # listed in SignedHeaders
    await p.generate(MODEL, MESSAGES)
    assert "x-trace-id" not in keys.requests[-1].headers and keys.requests[-1].headers["x-team"] == "search"
    await p.aclose()


async def test_count_tokens_sync_and_async(keys: BedrockImitation) -> None:
    p = make(keys)
    assert p.count_tokens_sync(MODEL, MESSAGES).input_tokens == 7
    assert (await p.count_tokens(MODEL, MESSAGES)).input_tokens == 7
    seen = keys.requests[-1]
    assert seen.path.endswith("/count-tokens") and "converse" in seen.body["input"]
    keys.answer(Answer(400, {"message": "The provided model doesn't support counting tokens."},
                       {"x-amzn-errortype": "ValidationException"}))
    with pytest.raises(InvalidRequestError, match="counting tokens"):
        await p.count_tokens("amazon.titan-text-express-v1", MESSAGES)
    await p.aclose()


async def test_list_models_merges_profiles_and_the_catalog(keys: BedrockImitation) -> None:
    p = make(keys)
    listed = {m.id: m for m in p.list_models_sync()}
    assert sorted(p for p in keys.paths()) == ["/foundation-models", "/inference-profiles?maxResults=1000"]
    profile = listed["us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    assert {"generate", "stream", "tools"} <= profile.capabilities and profile.input_price == 3.0
    assert "embeddings" in listed["amazon.titan-embed-text-v2:0"].capabilities
    assert "rerank" in listed["cohere.rerank-v3-5:0"].capabilities
    keys.reset()
    p.models_cache.clear()
    assert {m.id for m in await p.list_models()} == set(listed)
    assert (await p.check_health()).ok
    await p.aclose()


# ---------------------------------------------------------------------- embeddings and reranking


async def test_titan_embeds_one_text_per_request(keys: BedrockImitation) -> None:
    p = make(keys)
    r = await p.embed("amazon.titan-embed-text-v2:0", ["a", "b", "c"], dimensions=256)
    assert len(r.vectors) == 3 and r.usage.input_tokens == 9
    bodies = sorted((s.body for s in keys.requests), key=lambda b: b["inputText"])  # sent concurrently
    assert bodies == [{"inputText": t, "normalize": True, "dimensions": 256} for t in "abc"]
    assert {s.headers["content-type"] for s in keys.requests} == {"application/json"}
    await p.aclose()


def test_cohere_embeds_in_batches_of_96_with_usage_from_the_header(keys: BedrockImitation) -> None:
    p = make(keys)
    r = p.embed_sync("us.cohere.embed-v4:0", [f"t{i}" for i in range(100)], input_type="query", dimensions=512)
    assert len(r.vectors) == 100 and r.usage.input_tokens == 200
    assert [len(s.body["texts"]) for s in keys.requests] == [96, 4]
    assert keys.requests[0].body["input_type"] == "search_query" and keys.requests[0].body["output_dimension"] == 512


def test_embedding_problems_are_found_before_sending(keys: BedrockImitation) -> None:
    p = make(keys)
    with pytest.raises(InvalidRequestError, match="dimensions=300"):
        p.embed_sync("amazon.titan-embed-text-v2:0", ["a"], dimensions=300)
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    with pytest.raises(InvalidRequestError, match="embed_format="):
        p.embed_sync(arn, ["a"])
    assert keys.requests == []
    assert len(make(keys, embed_format="cohere-v3").embed_sync(arn, ["a", "b"]).vectors) == 2
    assert keys.requests[-1].model == arn


async def test_rerank_sync_and_async(keys: BedrockImitation) -> None:
    p = make(keys)
    docs = ["alpha", "beta", "gamma"]
    r = p.rerank_sync(None, "which?", docs, top_n=2)
    assert keys.requests[-1].model == "cohere.rerank-v3-5:0"
    assert keys.requests[-1].body == {"query": "which?", "documents": docs, "top_n": 2, "api_version": 2}
    assert [x.index for x in r.results] == [2, 1, 0] and r.results[0].document == "gamma"
    r = await p.rerank("amazon.rerank-v1:0", "which?", docs)
    assert keys.requests[-1].body == {"query": "which?", "documents": docs, "top_n": 3}
    assert r.provider == "bedrock" and r.results[0].relevance_score == pytest.approx(0.9)
    await p.aclose()


def test_close_then_reuse(keys: BedrockImitation) -> None:
    p = make(keys)
    p.generate_sync(MODEL, MESSAGES)
    p.close()
    assert p.generate_sync(MODEL, MESSAGES).text == "Hello from Bedrock"
    assert {"rerank", "embeddings", "stream", "list_models"} <= p.capabilities


def test_without_boto3_the_error_names_the_extra() -> None:
    code = textwrap.dedent("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("boto3", "botocore"):
                    raise ModuleNotFoundError(name, name=name)

        sys.meta_path.insert(0, Block())
        import agentos_llm
        from agentos_llm.errors import MissingDependencyError
        try:
            agentos_llm.create_provider("bedrock", region="us-east-1", api_key="ABSK-not-a-real-key-000")
        except MissingDependencyError as exc:
            print(exc.pip_command)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'pip install "agentos-llm[bedrock]"'


def test_a_bedrock_api_key_is_refused_over_plain_http_except_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="in the clear"):
        create_provider("bedrock", api_key="bedrock-api-key-0000000000", region="us-east-1",
                        base_url="http://bedrock.example.com")
    local = create_provider("bedrock", api_key="bedrock-api-key-0000000000", region="us-east-1",
                            base_url="http://127.0.0.1:9")  # a local stand-in: the key is added by us, not botocore
    assert local.credential_source == "argument"
    local.close()
