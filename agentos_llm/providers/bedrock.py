"""AWS Bedrock on `boto3` (extra `bedrock`): Converse for chat, InvokeModel for embeddings and reranking.

Thin I/O only: botocore signs (SigV4 from the AWS credential chain, or a Bedrock API key as a bearer
token), sends, and decodes the binary event stream of ConverseStream; `agentos_llm.wire.bedrock_converse`
and `agentos_llm.wire.bedrock_invoke` do all the converting. botocore's own retries are off: the
library's retry policy is the only one. boto3 is synchronous, so the async twins run the same calls in
a bounded thread pool owned by the provider (measured against aiobotocore: docs/providers/bedrock.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ..catalog import catalog_entry, listing_key
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MalformedResponseError,
    MissingDependencyError,
    ProviderError,
    parse_retry_after,
)
from ..http_bridge import TRANSPORT_KEYS, botocore_options, is_loopback_url
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, Received, StreamAssembler
from ..redaction import register_secret
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, EmbeddingResponse, ModelInfo, RerankResponse
from ..wire import bedrock_converse as wire
from ..wire import bedrock_invoke as invoke
from ..wire.bedrock_listing import parse_model_list

try:
    # boto3 and botocore ship no type information (the boto3-stubs packages are third-party).
    import boto3  # type: ignore[import-untyped]
    import botocore.session  # type: ignore[import-untyped]
    import urllib3.exceptions
    from botocore import exceptions as bx
    from botocore.config import Config  # type: ignore[import-untyped]
    from botocore.credentials import EnvProvider, RefreshableCredentials  # type: ignore[import-untyped]
    from botocore.eventstream import ParserError as EventStreamParserError  # type: ignore[import-untyped]
    from botocore.tokens import FrozenAuthToken, TokenProviderChain  # type: ignore[import-untyped]

    from .bedrock_stream import SyncEvents, aiter_events
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("bedrock", "boto3") from exc
try:
    from botocore.context import get_context  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - an older botocore: its User-Agent is built its own way
    get_context = None

__all__ = ["BedrockProvider", "BedrockRequest"]

log = logging.getLogger("agentos_llm")
T = TypeVar("T")

DEFAULT_CONCURRENCY = 64
"""Threads of the async pool unless `max_concurrency=` says otherwise (pooled connections: 8 per thread)."""
_CONNECTIONS_PER_THREAD = 8
_CONNECT_TIMEOUT = 60.0  # botocore's default; a shorter provider timeout shortens it
_REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
_JSON = "application/json"
_TOKEN_HEADER = "x-amzn-bedrock-input-token-count"


@dataclass(frozen=True, slots=True)
class BedrockRequest:
    """One call's model id (it goes in the URL path) and the operation's arguments: the Converse or
    CountTokens keyword arguments without `modelId`, or the JSON body of an InvokeModel call."""

    model_id: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _PerCall:
    read_timeout: float | None
    headers: Mapping[str, str] | None


# What the current attempt asks of botocore beyond the client's defaults; read by the event handlers below,
# in the thread that makes the call (a context variable, so concurrent calls never see each other's).
_CALL: contextvars.ContextVar[_PerCall | None] = contextvars.ContextVar("agentos_llm_bedrock_call", default=None)


def _apply_timeout(context: dict[str, Any], **_: Any) -> None:
    call = _CALL.get()
    if call is not None and call.read_timeout is not None:
        context["read_timeout"] = call.read_timeout  # botocore's per-request override of the pool's read timeout


def _apply_headers(request: Any, **_: Any) -> None:
    call = _CALL.get()
    if call is not None and call.headers:
        for name, value in call.headers.items():
            request.headers[name] = value  # before signing, so SigV4 covers them


def _choose_signer(**_: Any) -> Any:
    call = _CALL.get()
    if call is not None and call.headers and any(k.lower() == "authorization" for k in call.headers):
        return botocore.UNSIGNED  # the request carries its own key (`api_key=`, a bearer token): nothing to sign
    return None


def _plain_http(base_url: str | None) -> bool:
    """Whether the endpoint is plain HTTP, which botocore (1.44 and later) refuses a bearer token over; only a
    loopback one is allowed here (a local Bedrock stand-in, the emulator), checked when the provider is made."""
    return bool(base_url) and str(base_url).lower().startswith("http://")


def _bearer_on_loopback(key: str) -> Callable[..., None]:
    def add(request: Any, **_: Any) -> None:
        if not any(k.lower() == "authorization" for k in request.headers):  # a per-call key wins
            request.headers["Authorization"] = f"Bearer {key}"
    return add


class _APIKeyToken:
    """A Bedrock API key as botocore's bearer token, for this provider's session only (never in os.environ)."""

    METHOD = "agentos-llm"

    def __init__(self, key: str) -> None:
        self._token = FrozenAuthToken(key)

    def load_token(self, **_: Any) -> FrozenAuthToken:
        return self._token


_shared_loader: Any = None
_loader_lock = threading.Lock()


def _botocore_session() -> Any:
    """A fresh botocore session sharing one data loader, so a second provider does not parse the service
    models again (~150 ms per session otherwise)."""
    global _shared_loader
    session = botocore.session.Session()
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _shared_loader)
    return session


@dataclass(frozen=True)
class _AWSSetup:
    session: Any
    region: str
    bearer: str | None
    source: str
    identity: str
    """What tells this credential apart for the listing cache (an access key id or the profile; no secret)."""


def _config_str(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"bedrock: {key} must be a string, not {type(value).__name__}")
    return value or None


def _resolve_aws(config: Mapping[str, Any], bearer: str | None, bearer_source: str | None,
                 env: Mapping[str, str]) -> _AWSSetup:
    """The boto3 session, region and credential in use; `ConfigurationError` saying what to set when missing."""
    try:
        return _resolve(config, bearer, bearer_source, env)
    except bx.ProfileNotFound as exc:
        raise ConfigurationError(f"bedrock: {exc}; profiles live in ~/.aws/config (AWS_CONFIG_FILE)") from None
    except (bx.PartialCredentialsError, bx.CredentialRetrievalError, bx.InvalidConfigError) as exc:
        raise ConfigurationError(f"AWS credentials for Bedrock are incomplete or unreadable: {exc}") from None


def _read_env_from(core: Any, env: Mapping[str, str], profile: str | None) -> None:
    """Points a botocore session at an `env=` mapping given instead of the process environment: its shared
    files, its profile and its keys (the chain's environment step). botocore's role and container steps still
    read `os.environ`."""
    for var, name in (("AWS_CONFIG_FILE", "config_file"), ("AWS_SHARED_CREDENTIALS_FILE", "credentials_file")):
        if env.get(var):
            core.set_config_variable(name, env[var])
    if profile:
        core.set_config_variable("profile", profile)
    chain = core.get_component("credential_provider")
    chain.remove("env")
    chain.providers.insert(0, EnvProvider(environ=dict(env)))


def _resolve(config: Mapping[str, Any], bearer: str | None, bearer_source: str | None,
             env: Mapping[str, str]) -> _AWSSetup:
    keys = {k: _config_str(config, k) for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")}
    for key in ("aws_secret_access_key", "aws_session_token"):
        register_secret(keys[key])
    explicit = bool(keys["aws_access_key_id"] or keys["aws_secret_access_key"])
    given = config.get("session")
    if given is not None and not isinstance(given, boto3.Session):
        raise ConfigurationError(f"bedrock: session must be a boto3.Session, not {type(given).__name__}")
    if bearer_source == "argument" and (explicit or given is not None):
        raise ConfigurationError("bedrock: pass a Bedrock API key (api_key=) or AWS credentials (aws_access_key_id=, "
                                 "session=), not both")
    # A Bedrock API key (the argument, AWS_BEARER_TOKEN_BEDROCK, or the config file) signs as a bearer token,
    # unless explicit AWS keys or a ready session say otherwise (botocore's own precedence).
    use_bearer = bearer is not None and not explicit and given is None
    session = given
    if session is None:
        core = _botocore_session()
        profile = _config_str(config, "aws_profile")
        if env is not os.environ:
            profile = profile or env.get("AWS_PROFILE") or None
            _read_env_from(core, env, profile)
        if use_bearer:
            assert bearer is not None
            core.register_component("token_provider", TokenProviderChain([_APIKeyToken(bearer)]))
        session = boto3.Session(botocore_session=core, profile_name=profile, **{k: v for k, v in keys.items() if v})
    region = _config_str(config, "region") or next((env[v] for v in _REGION_VARS if env.get(v)), None)
    region = region or session.region_name
    if not region:
        raise ConfigurationError(
            "AWS Bedrock needs a region: pass region='us-east-1' (or another Bedrock region) to create_provider, "
            "set AWS_REGION or AWS_DEFAULT_REGION, or set region in your AWS profile (~/.aws/config)")
    if use_bearer:
        source = "aws:bearer-token" if bearer_source == "env:AWS_BEARER_TOKEN_BEDROCK" else bearer_source or "argument"
        return _AWSSetup(session, region, bearer, source, "bearer")
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigurationError(
            "no credentials for AWS Bedrock: set AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key) or pass api_key=..., "
            "or provide AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE (shared files, "
            "SSO: run `aws sso login`), a role (web identity, container, instance), or aws_access_key_id= and "
            "aws_secret_access_key= (or aws_profile=, session=) arguments")
    method = getattr(credentials, "method", None) or "unknown"
    if isinstance(credentials, RefreshableCredentials):
        # Refreshed (SSO, assumed role, container, instance): reading the keys now could fetch them; botocore
        # never prints them.
        identity = f"{method}:{session.profile_name}"
    else:
        register_secret(credentials.secret_key)
        register_secret(credentials.token)
        identity = credentials.access_key
    return _AWSSetup(session, region, None, "argument" if explicit else f"aws:{method}", identity)


class BedrockProvider(IProvider):
    """Models on AWS Bedrock: chat through Converse (text, vision, documents, tools, reasoning, prompt
    caching, structured output, token counting), embeddings (Titan, Cohere, Nova) and reranking (Cohere,
    Amazon) through InvokeModel, and model listing (foundation models and inference profiles)."""

    provider_id = "bedrock"
    api: ClassVar[str] = "bedrock-converse"
    family: ClassVar[str] = "bedrock"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION, Capability.STRUCTURED_OUTPUT,
        Capability.EMBEDDINGS, Capability.LIST_MODELS, Capability.REASONING, Capability.RERANK,
    })
    takes_server_tools: ClassVar[bool] = True  # Nova runs code_interpreter and web_search (the converters check)
    config_keys: ClassVar[frozenset[str]] = frozenset({
        "region", "aws_profile", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "session",
        "embed_format", "rerank_format", "max_concurrency",
    }) | TRANSPORT_KEYS  # botocore takes no HTTP client of the application's: http_client is refused

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for key, table in (("embed_format", invoke.EMBED_FORMATS), ("rerank_format", invoke.RERANK_FORMATS)):
            value = self.config.get(key)
            if value is not None and value not in table:
                raise ConfigurationError(f"bedrock: {key} must be one of {', '.join(table)}, not {value!r}")
        concurrency = self.config.get("max_concurrency", DEFAULT_CONCURRENCY)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"bedrock: max_concurrency must be a positive integer, not {concurrency!r}")
        self._concurrency: int = concurrency
        secret = self._api_key.get_secret_value() if self._api_key is not None else None
        env = os.environ if self._env is None else self._env
        setup = self._aws = _resolve_aws(self.config, secret, self.credential_source, env)
        if setup.bearer is not None and _plain_http(self.base_url) and not is_loopback_url(str(self.base_url)):
            raise ConfigurationError(f"bedrock: a Bedrock API key travels in the clear over {self.base_url}; use an "
                                     "https:// endpoint (plain http is allowed for a loopback address only)")
        self.region: str = setup.region
        """The AWS region calls go to."""
        self.credential_source = setup.source
        self._lock = threading.Lock()
        self._runtime_client: Any = None
        self._control_client: Any = None
        self._header_hook: set[int] = set()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(provider_id={self.provider_id!r}, region={self.region!r}, "
                f"base_url={self.base_url!r}, credential_source={self.credential_source!r})")

    # ------------------------------------------------------------------ clients

    def _client_config(self) -> Any:
        timeout = self.retry_policy.timeout
        options: dict[str, Any] = {
            "region_name": self.region,
            "retries": {"total_max_attempts": 1, "mode": "standard"},  # the library's RetryPolicy is the only retry
            "connect_timeout": _CONNECT_TIMEOUT if timeout is None else min(timeout, _CONNECT_TIMEOUT),
            "read_timeout": timeout,
            # A stream holds its connection but not a thread between reads (providers/bedrock_stream.py), so more
            # connections than threads are open under many streams; urllib3 closes the ones beyond this number
            # when they come back (a new TCP and TLS handshake for the next call), so it keeps more.
            "max_pool_connections": self._concurrency * _CONNECTIONS_PER_THREAD,
            "tcp_keepalive": True,
        }
        # Said in code, so that AWS_BEARER_TOKEN_BEDROCK in the environment cannot switch a SigV4 provider
        # (explicit keys, a ready session) to the bearer token, nor the other way round.
        options["signature_version"] = "bearer" if self._aws.bearer is not None else "v4"
        if self._aws.bearer is not None and _plain_http(self.base_url):
            options["signature_version"] = botocore.UNSIGNED  # the key goes on by `_bearer_on_loopback`
        return Config(**options)

    def _make_client(self, service: str) -> Any:
        # Proxy, CA bundle and pool size (agentos_llm.http_bridge), decided for the endpoint botocore will call.
        endpoint = self.base_url or f"https://{service}.{self.region}.amazonaws.com"
        transport, client_args = botocore_options(self.transport, endpoint, where=self.provider_id)
        config = self._client_config().merge(Config(**transport)) if transport else self._client_config()
        client = self._aws.session.client(service, endpoint_url=self.base_url or None, config=config, **client_args)
        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-call.{service_id}", _apply_timeout)
        if self._aws.bearer is not None and _plain_http(self.base_url):
            client.meta.events.register(f"before-sign.{service_id}", _bearer_on_loopback(self._aws.bearer))
        _keep_user_agent(client)
        return client

    @property
    def client(self) -> Any:
        """The `bedrock-runtime` client (made on first use, then reused; thread-safe)."""
        client = self._runtime_client
        if client is None:
            with self._lock:
                if self._runtime_client is None:
                    self._runtime_client = self._make_client("bedrock-runtime")
                client = self._runtime_client
        return client

    @property
    def control_client(self) -> Any:
        """The `bedrock` control-plane client (model listing)."""
        client = self._control_client
        if client is None:
            with self._lock:
                if self._control_client is None:
                    self._control_client = self._make_client("bedrock")
                client = self._control_client
        return client

    def _with_headers(self, client: Any) -> Any:
        """`client`, able to send extra headers: its before-sign hook is added the first time one is needed,
        so calls without extra headers never pay for it."""
        if id(client) not in self._header_hook:
            with self._lock:
                if id(client) not in self._header_hook:
                    service = client.meta.service_model.service_id.hyphenize()
                    client.meta.events.register(f"before-sign.{service}", _apply_headers)
                    client.meta.events.register(f"choose-signer.{service}", _choose_signer)
                    self._header_hook.add(id(client))
        return client

    @property
    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """The bounded pool the async twins run boto3 in (`max_concurrency` threads, made on first use)."""
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self._concurrency, thread_name_prefix=f"agentos-llm-{self.provider_id}")
                pool = self._pool
        return pool

    def _close(self) -> None:
        with self._lock:
            clients = [c for c in (self._runtime_client, self._control_client) if c is not None]
            self._runtime_client = self._control_client = None
            self._header_hook.clear()
            pool, self._pool = self._pool, None
        for client in clients:
            _close_pools(client)
            client.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _listing_key(self) -> tuple[str, str, str]:
        return listing_key(self.provider_id, self.base_url, self._aws.bearer,
                           {"identity": self._aws.identity, "region": self.region, "headers": self.default_headers})

    # ------------------------------------------------------------------ converters (pure)

    def _max_tokens(self, model: str) -> int | None:
        known = catalog_entry(self.catalog_key, model)
        return known.max_output_tokens if known is not None else None

    def _build_request(self, call: Call) -> BedrockRequest:
        return BedrockRequest(call.model, wire.build_converse_request(call, max_tokens=self._max_tokens(call.model)))

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_converse(payload, provider=self.provider_id, model=call.model,
                                   structured_tool=wire.structured_tool_name(call))

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return wire.ConverseStreamAssembler(self.provider_id, call.model, wire.structured_tool_name(call))

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        return wire.structured_mode(call, plan)

    def _build_count_request(self, call: Call) -> BedrockRequest:
        return BedrockRequest(call.model, wire.build_count_request(call, max_tokens=self._max_tokens(call.model)))

    def _parse_token_count(self, payload: Any) -> int:
        return wire.parse_token_count(payload, provider=self.provider_id)

    def _embed_batches(self, texts: list[str], model: str = "") -> list[list[str]]:
        size = invoke.embed_format_for(model, self.config.get("embed_format"), provider=self.provider_id).batch
        return [texts[i:i + size] for i in range(0, len(texts), size)]

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> BedrockRequest:
        fmt = invoke.embed_format_for(model, self.config.get("embed_format"), provider=self.provider_id)
        return BedrockRequest(model, invoke.build_embed_body(fmt, texts, options, provider=self.provider_id))

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        return invoke.parse_embeddings(payload, model=model, count=count, provider=self.provider_id)

    def _build_rerank_request(self, model: str, query: str, documents: list[str], top_n: int | None
                              ) -> BedrockRequest:
        fmt = invoke.rerank_format_for(model, self.config.get("rerank_format"), provider=self.provider_id)
        return BedrockRequest(model, invoke.build_rerank_body(fmt, query, documents, top_n))

    def _parse_rerank(self, payload: Any, model: str, documents: list[str]) -> RerankResponse:
        return invoke.parse_rerank(payload, model=model, documents=documents, provider=self.provider_id)

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return parse_model_list(payload, provider=self.provider_id)

    # ------------------------------------------------------------------ I/O (thin)

    def _per_call(self, timeout: float | None, headers: Mapping[str, str] | None) -> _PerCall | None:
        """What this attempt needs beyond the client's defaults (None: nothing, the common case)."""
        if self.default_headers:
            headers = {**self.default_headers, **(headers or {})}
        override = timeout if timeout != self.retry_policy.timeout else None
        if override is None and not headers:
            return None
        return _PerCall(override, headers or None)

    def _call(self, timeout: float | None, headers: Mapping[str, str] | None, fn: Callable[[Any], T],
              client: Any = None) -> T:
        client = self.client if client is None else client
        per_call = self._per_call(timeout, headers)
        if per_call is None:
            return fn(client)
        if per_call.headers:
            self._with_headers(client)
        token = _CALL.set(per_call)
        try:
            return fn(client)
        finally:
            _CALL.reset(token)

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        if op == "models":
            return self._call(timeout, headers, _list_models, self.control_client)
        if op == "chat":
            return _received(self._call(timeout, headers, lambda c: c.converse(modelId=request.model_id,
                                                                               **request.params)))
        if op == "count":
            return self._call(timeout, headers, lambda c: c.count_tokens(modelId=request.model_id, **request.params))
        body = json.dumps(request.params, separators=(",", ":")).encode()
        response = self._call(timeout, headers, lambda c: c.invoke_model(
            modelId=request.model_id, body=body, contentType=_JSON, accept=_JSON))
        return _invoke_reply(response, self.provider_id)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        # A cancelled call leaves its thread to finish (bounded by the read timeout); the answer is dropped.
        return await asyncio.wrap_future(self.executor.submit(self._send, op, request, timeout, headers))

    def _start_stream(self, request: BedrockRequest, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> Any:
        """Sends ConverseStream and returns botocore's EventStream (the binary frames, decoded lazily)."""
        response = self._call(timeout, headers, lambda c: c.converse_stream(modelId=request.model_id,
                                                                            **request.params))
        return response["stream"]

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        return SyncEvents(self._start_stream(request, timeout, headers))

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        return aiter_events(self.executor, lambda: self._start_stream(request, timeout, headers))

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        return map_botocore_error(exc, self.provider_id, self.base_url or f"Bedrock in {self.region}")


def _close_pools(client: Any) -> None:
    """Closes the idle connections of a client's urllib3 pools: botocore's `close()` only forgets the pools
    (urllib3 2 closes none on `clear()`), so a connection a finished stream gave back would stay open."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    managers = [getattr(session, "_manager", None), *getattr(session, "_proxy_managers", {}).values()]
    for manager in managers:
        pools: Any = getattr(manager, "pools", None)
        if pools is None:
            continue
        for key in list(pools.keys()):
            pool = pools.get(key)
            if pool is not None:
                with contextlib.suppress(Exception):
                    pool.close()


def _keep_user_agent(client: Any) -> None:
    """Builds each of the client's User-Agent strings once.

    botocore builds the header twice per call (~45 µs each: every character of every part is checked one by one),
    from parts fixed per client plus the features the call used (its context's `features`). Kept per set of
    features, the string is the same, and a Converse call costs ~90 µs less CPU (benchmarks/README.md). A botocore
    without these internals keeps its own behaviour.
    """
    creator: Any = getattr(client, "_user_agent_creator", None)
    build = getattr(creator, "to_string", None)
    if build is None or get_context is None:
        return
    built: dict[frozenset[str], str] = {}

    def to_string() -> str:
        context = get_context()
        key = frozenset(getattr(context, "features", None) or ())
        text = built.get(key)
        if text is None:
            text = built[key] = build()
        return text

    creator.to_string = to_string


def _list_models(client: Any) -> dict[str, Any]:
    """Foundation models and inference profiles (every page), as one payload for `parse_model_list`."""
    models = client.list_foundation_models().get("modelSummaries", [])
    profiles: list[Any] = []
    try:
        for page in client.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 1000}):
            profiles.extend(page.get("inferenceProfileSummaries", []))
    except bx.ClientError as exc:
        # Listing profiles is a permission of its own; without it, the foundation models still answer.
        if exc.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "UnknownOperationException"):
            raise
        log.info("bedrock: listing inference profiles is not allowed (%s); listing foundation models only",
                 exc.response.get("Error", {}).get("Code"))
    return {"modelSummaries": models, "inferenceProfileSummaries": profiles}


def _received(reply: Mapping[str, Any]) -> Received:
    """A Converse answer with its HTTP status and headers (botocore keeps them in `ResponseMetadata`)."""
    meta = reply.get("ResponseMetadata") or {}
    return Received(reply, meta.get("HTTPHeaders"), meta.get("HTTPStatusCode"))


def _invoke_reply(response: Mapping[str, Any], provider: str) -> invoke.InvokeReply:
    raw = response["body"].read()
    try:
        body = json.loads(raw)
    except ValueError:
        raise MalformedResponseError(f"the InvokeModel answer is not JSON: {raw[:200]!r}", provider=provider) from None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    count = headers.get(_TOKEN_HEADER)
    return invoke.InvokeReply(body, int(count) if isinstance(count, str) and count.isdigit() else None)


def map_botocore_error(exc: Exception, provider: str, where: str) -> ProviderError | None:
    """A typed error for a botocore (or, inside a stream, urllib3) exception; None for anything else."""
    if isinstance(exc, bx.ClientError):  # HTTP errors, and exception events inside a stream (EventStreamError)
        error = exc.response.get("Error") or {}
        meta = exc.response.get("ResponseMetadata") or {}
        headers = meta.get("HTTPHeaders") or {}
        mapped = wire.error_for(error.get("Code"), error.get("Message") or "", meta.get("HTTPStatusCode"),
                                provider=provider, retry_after=parse_retry_after(headers))
        if mapped.request_id is None:
            mapped.request_id = meta.get("RequestId") or headers.get("x-amzn-requestid")
        return mapped
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError, urllib3.exceptions.TimeoutError)):
        return APITimeoutError(f"the request to {where} timed out ({type(exc).__name__})", provider=provider)
    if isinstance(exc, (bx.ConnectionError, bx.HTTPClientError, urllib3.exceptions.HTTPError)):
        return APIConnectionError(f"the connection to {where} failed: {type(exc).__name__}", provider=provider)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError,
                        bx.TokenRetrievalError, bx.NoAuthTokenError, bx.SSOError)):
        return AuthenticationError(f"AWS credentials could not be used: {exc}", provider=provider)
    if isinstance(exc, bx.ParamValidationError):
        return InvalidRequestError(f"the request does not fit the Bedrock API: {exc}", provider=provider)
    if isinstance(exc, EventStreamParserError):
        return MalformedResponseError(f"a broken event-stream frame: {type(exc).__name__}: {exc}", provider=provider)
    return None
