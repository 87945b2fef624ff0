"""`IProvider`: the contract every provider fulfils, and the policy they all share.

The base class owns validation, retries, error mapping, streaming assembly, structured output,
embedding batching, usage and cost. A provider implements small hooks: build a vendor request
from a `Call` (a pure converter), send it (sync and async twins), and parse what comes back
(pure converters again). `generate` and `stream` go through the same steps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, Protocol, TypeVar

from pydantic import SecretStr

from .catalog import MODEL_LISTS, ModelListCache, catalog_entry, catalog_models, listing_key, model_traits
from .credentials import resolve_settings
from .defaults import ProviderSpec, get_spec
from .errors import (
    AgentOSLLMError,
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidRequestError,
    MalformedResponseError,
    ProviderError,
    StructuredOutputError,
    UnsupportedCapabilityError,
)
from .history_rules import check_history
from .http_bridge import TransportPolicy, resolve_transport, tls_failure
from .model_traits import ModelTraits
from .options import EmbedOptions, GenerateOptions, parse_options
from .pricing import price_usage
from .provider_surface import check_capability, default_icon, default_tools, filter_models, model_capabilities
from .received import Heard, Received, hear
from .redaction import hold_secret
from .request_keys import credential_key, sent_credential, with_key
from .response_metadata import complete as complete_metadata
from .response_metadata import source_headers
from .response_pack import pack
from .retry import RetryPolicy
from .streaming import DEFAULT_STREAM_IDLE_TIMEOUT, arun_stream, noted, run_stream, within
from .structured import StructuredMode, StructuredPlan
from .telemetry.watch import watch, watch_span
from .token_estimate import estimate_tokens
from .types import (
    AudioPart,
    CompletionResponse,
    DocumentPart,
    DoneEvent,
    EmbeddingResponse,
    HealthStatus,
    ImagePart,
    Message,
    MessageInput,
    ModelInfo,
    RerankResponse,
    StreamEvent,
    StructuredResponse,
    TextPart,
    TokenCount,
    Usage,
    UsageEvent,
    coerce_messages,
)

if TYPE_CHECKING:
    from .inspection import InspectedRequest
    from .ledger import UsageLedger
    from .model_pages import ModelPage
    from .provider_surface import ProviderTool
    from .quota import QuotaSnapshot
    from .quota_fetch import QuotaSettings
    from .types import ResponseMetadata

__all__ = ["Call", "Capability", "IProvider", "Received", "StreamAssembler"]

log = logging.getLogger("agentos_llm")
T = TypeVar("T")
Operation = Literal["chat", "embed", "models", "count", "rerank"]
Messages = str | Message | dict[str, Any] | Sequence[MessageInput]


class Capability:
    """Names of capabilities a provider may have (values of `IProvider.capabilities`)."""

    GENERATE = "generate"
    STREAM = "stream"
    TOOLS = "tools"
    VISION = "vision"
    STRUCTURED_OUTPUT = "structured_output"
    EMBEDDINGS = "embeddings"
    LIST_MODELS = "list_models"
    REASONING = "reasoning"
    RERANK = "rerank"


@dataclass(frozen=True)
class Call:
    """One normalized request, as every provider hook sees it."""

    model: str
    messages: list[Message]
    options: GenerateOptions
    traits: ModelTraits
    stream: bool = False
    structured: StructuredPlan[Any] | None = None
    structured_mode: StructuredMode | None = None


class StreamAssembler(Protocol):
    """Turns a vendor's stream chunks into events, and at the end into the whole response."""

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one chunk (often one, sometimes none)."""
        ...

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """Trailing events and the whole response, once the stream has ended."""
        ...


class EventStream(Iterator[StreamEvent]):
    """A sync stream of events; leaving it early (or `close()`) closes the HTTP response."""

    def __init__(self, events: Iterator[StreamEvent]) -> None:
        self._events = events

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def close(self) -> None:
        """Stops the stream and releases its connection."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream(AsyncIterator[StreamEvent]):
    """An async stream of events; `async with` (or `aclose()`) closes the HTTP response when left early."""

    def __init__(self, events: AsyncIterator[StreamEvent]) -> None:
        self._events = events

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stops the stream and releases its connection."""
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_REQUEST_CAPABILITIES = frozenset({"tools", "vision", "json_schema"})
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class IProvider(ABC):
    """One LLM provider behind the common contract.

    Subclasses set `provider_id` (a row of `agentos_llm.defaults.PROVIDERS`) and implement the
    hooks; everything public is implemented here once for all of them.
    """

    provider_id: str = ""
    api: ClassVar[str] = ""
    """The wire API this class speaks (an id of `agentos_llm.apis.APIS`)."""
    family: ClassVar[str] = ""
    """The wire family whose model traits apply (e.g. "openai")."""
    capabilities: frozenset[str] = frozenset({Capability.GENERATE, Capability.STREAM})
    config_keys: ClassVar[frozenset[str]] = frozenset()
    """Extra keyword configuration the provider accepts (e.g. `organization`)."""
    takes_server_tools: ClassVar[bool] = False
    """Whether this API carries `server_tools` (vendor-run tools); others refuse them before sending."""
    structured_max_attempts: int = 3
    no_embeddings_hint: ClassVar[str] = ""
    """Where to turn instead, said when `embed` is called on a provider without embeddings."""
    models_cache: ModelListCache = MODEL_LISTS
    """Where live model listings are kept (per credential, with a TTL); the process-wide cache by default."""
    usage_ledger: UsageLedger | None = None
    """Where each call is recorded and budgets are checked (`agentos_llm.ledger`); None records nothing."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_model: str | None = None,
        deadline: float | None = None,
        spec: ProviderSpec | None = None,
        env: Mapping[str, str] | None = None,
        profile: str | None = None,
        keep_raw: bool = False,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
        **config: Any,
    ) -> None:
        unknown = set(config) - self.config_keys
        if unknown:
            raise ConfigurationError(
                f"unknown configuration for {type(self).__name__}: {', '.join(sorted(unknown))}"
                + (f"; accepted: {', '.join(sorted(self.config_keys))}" if self.config_keys else ""))
        self.spec = spec or get_spec(self.provider_id)
        self.provider_id = self.spec.id
        self.catalog_key: str = self.spec.host_id
        """Whose catalog rows (limits, prices) apply: the host's, whichever API serves it."""
        self.traits_family: str = self.family or self.catalog_key
        """Whose model-traits rules apply to this provider's models."""
        settings = resolve_settings(self.spec, api_key=api_key, base_url=base_url, default_model=default_model,
                                    default_headers=default_headers, profile=profile, env=env)
        self._api_key = settings.credential.api_key
        # Masked in every error for as long as this provider lives, however many keys come after it.
        hold_secret(self, self._api_key.get_secret_value() if self._api_key is not None else None)
        self.credential_source = settings.credential.source
        self.credential_profile = settings.profile
        """The config profile this provider's credential was chosen by (None: the provider table or no config)."""
        self.base_url = settings.base_url
        self.default_model = settings.default_model
        self.default_model_source = settings.default_model_source
        """Where the default model came from: "argument", "config:<path>[#profiles.<name>]", "host default"."""
        self.default_headers = settings.headers
        self.allowed_models = settings.models
        """The config file's model allowlist (None: any model); calls naming another model are refused."""
        self.last_discovery_error: AgentOSLLMError | None = None
        """Why this credential's last live model listing failed (None: it did not)."""
        self._settings = settings
        self.retry_policy = RetryPolicy(
            max_retries=2 if max_retries is None else max_retries,
            timeout=600.0 if timeout is None else timeout,
            deadline=deadline,
        )
        self.config = config
        self._env = env
        self._siblings: dict[str, IProvider] = {}
        self.keep_raw = keep_raw
        """Whether responses keep the vendor's decoded payload on `response.raw` (off: it is dropped once read,
        which keeps a retained response small)."""
        self.stream_idle_timeout = stream_idle_timeout
        """Seconds an async stream may receive nothing after its first event before it fails with
        `APITimeoutError` (None: only the HTTP read timeout and the deadline bound it)."""
        self.transport: TransportPolicy = resolve_transport(
            config=config, section=settings.section, profile=settings.profile, config_path=settings.config_path,
            env=env, where=self.provider_id)
        """How this provider's requests leave the application: proxy, CA bundle, limits, your own HTTP client
        (`agentos_llm.http_bridge`, docs/http-bridge.md)."""

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _build_request(self, call: Call) -> Any:
        """The vendor request for a call (pure)."""

    @abstractmethod
    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        """A whole vendor response as a `CompletionResponse` (pure)."""

    @abstractmethod
    def _stream_assembler(self, call: Call) -> StreamAssembler:
        """A fresh assembler for one stream (pure)."""

    @abstractmethod
    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        """Sends a request and returns the decoded payload, or `Received(payload, headers)` (sync I/O)."""

    @abstractmethod
    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        """Sends a request and returns the decoded payload, or `Received(payload, headers)` (async I/O)."""

    @abstractmethod
    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        """Opens a stream; yields decoded chunks (first, optionally, `Received(None, headers)`) and closes the
        response when closed (sync I/O)."""

    @abstractmethod
    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        """Opens a stream; yields decoded chunks (first, optionally, `Received(None, headers)`) and closes the
        response when closed (async I/O)."""

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        """Translates a vendor SDK or transport exception; None leaves it to the generic mapping."""
        return None

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        """How this provider carries a structured-output request for a model."""
        return "prompt"

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        raise UnsupportedCapabilityError(self.provider_id, "embeddings")

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        raise UnsupportedCapabilityError(self.provider_id, "embeddings")

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        raise UnsupportedCapabilityError(self.provider_id, "model listing")

    def _credential_updates(self, payload: Any) -> dict[str, Any] | None:
        """What a model listing says about this credential (account_id, project_id, plan, next_refresh, a
        rotated api_key), to keep in its config table; None: nothing (pure)."""
        return None

    def _build_rerank_request(self, model: str, query: str, documents: list[str], top_n: int | None) -> Any:
        """The vendor's rerank request (pure)."""
        raise UnsupportedCapabilityError(self.provider_id, "reranking")

    def _parse_rerank(self, payload: Any, model: str, documents: list[str]) -> RerankResponse:
        """A vendor rerank answer as a `RerankResponse`, most relevant first (pure)."""
        raise UnsupportedCapabilityError(self.provider_id, "reranking")

    def _build_count_request(self, call: Call) -> Any:
        """The vendor's token-count request for a call (pure); None counts locally (`estimate_tokens`)."""
        return None

    def _parse_token_count(self, payload: Any) -> int:
        raise UnsupportedCapabilityError(self.provider_id, "token counting")

    def _count_provider(self) -> IProvider:
        """Who counts tokens for this provider: itself, or a sibling API of the same host."""
        return self

    def _adopt_transport(self, other: IProvider) -> None:
        """Shares `other`'s clients when both speak through the same SDK (siblings of one host)."""

    def _embed_batches(self, texts: list[str], model: str = "") -> list[list[str]]:
        """Splits embedding inputs under the vendor's per-request limits (which may depend on the model)."""
        return [texts]

    def _close(self) -> None:
        """Releases sync resources."""

    async def _aclose(self) -> None:
        """Releases async resources."""

    # ------------------------------------------------------------------ policy helpers

    @property
    def label(self) -> str:
        """The provider's human name."""
        return self.spec.label

    @property
    def api_key(self) -> SecretStr | None:
        """The key in use (a `SecretStr`: never shown in reprs or logs)."""
        return self._api_key

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(provider_id={self.provider_id!r}, base_url={self.base_url!r}, "
                f"credential_source={self.credential_source!r})")

    def _make_call(self, model: str | None, messages: Messages, options: Mapping[str, Any], *,
                   stream: bool = False) -> Call:
        model = model or self.default_model
        if not model:
            raise InvalidRequestError(f"no model given and {self.provider_id!r} has no default model",
                                      provider=self.provider_id)
        if self.allowed_models is not None and model not in self.allowed_models:
            raise InvalidRequestError(
                f"model {model!r} is not on the allowlist of {self.provider_id} ({', '.join(self.allowed_models)}) "
                f"in {self._settings.config_path}: add it to `models` under [providers.{self._settings.section}], "
                f"or run agentos_llm.config_writer.ensure_model_allowed({self.provider_id!r}, {model!r})",
                provider=self.provider_id)
        try:
            msgs = coerce_messages(messages)
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(f"invalid messages: {exc}", provider=self.provider_id) from None
        if not msgs:
            raise InvalidRequestError("messages must not be empty", provider=self.provider_id)
        opts = parse_options(options, provider=self.provider_id)
        check_history(msgs, provider=self.provider_id, continued=opts.previous_response_id is not None)
        # Tools, images and JSON schema as the catalog says (model traits when it does not know the model):
        # a request the model cannot serve fails here, before anything is sent. One cached lookup.
        traits = model_traits(self.catalog_key, self.traits_family, model)
        if opts.tools and not traits.tools:
            raise UnsupportedCapabilityError(self.provider_id, "tools", f"model {model!r} cannot call tools")
        if opts.server_tools and not self.takes_server_tools:
            raise UnsupportedCapabilityError(
                self.provider_id, "server tools",
                f"{self.api or type(self).__name__} runs no server tools; use a provider over the Responses API "
                "(create_provider(..., api='responses'))")
        if any(isinstance(m.content, list) and any(type(p) is not TextPart for p in m.content) for m in msgs):
            self._check_parts(model, msgs, traits)
        return Call(model=model, messages=msgs, options=opts, traits=traits, stream=stream)

    def _check_parts(self, model: str, msgs: list[Message], traits: ModelTraits) -> None:
        """Images, documents and audio the model (or this API) cannot take fail here, before sending."""
        kinds = {type(p) for m in msgs if isinstance(m.content, list) for p in m.content}
        if ImagePart in kinds and not traits.vision:
            raise UnsupportedCapabilityError(self.provider_id, "images", f"model {model!r} takes no images")
        if DocumentPart in kinds and not (traits.documents and self._accepts("documents")):
            raise UnsupportedCapabilityError(self.provider_id, "documents",
                                             f"model {model!r} takes no documents over {self.api or 'this API'}")
        if AudioPart in kinds and not (traits.audio and self._accepts("audio")):
            raise UnsupportedCapabilityError(self.provider_id, "audio",
                                             f"model {model!r} takes no audio over {self.api or 'this API'}")

    def _accepts(self, part_kind: Literal["documents", "audio"]) -> bool:
        """Whether this API (and host) carries a kind of content part at all."""
        return True

    def _policy(self, options: GenerateOptions) -> RetryPolicy:
        if options.max_retries is None and options.deadline is None and options.timeout is None:
            return self.retry_policy
        p = self.retry_policy
        return replace(
            p,
            max_retries=p.max_retries if options.max_retries is None else options.max_retries,
            deadline=p.deadline if options.deadline is None else options.deadline,
            timeout=p.timeout if options.timeout is None else options.timeout,
        )

    def _translate(self, exc: Exception) -> AgentOSLLMError:
        """Any exception from a hook, as a typed error of this library."""
        if isinstance(exc, AgentOSLLMError):
            if isinstance(exc, ProviderError) and exc.provider is None:
                exc.provider = self.provider_id
            return exc
        refused = tls_failure(exc, self)  # a certificate the client refused: say so, whatever the SDK's wrapper
        if refused is not None:
            refused.vendor_exception = exc
            return refused
        mapped = self._map_exception(exc)
        if mapped is not None:
            if mapped.provider is None:
                mapped.provider = self.provider_id
            # The SDK's own exception text may quote what the server echoed (a key, even): keep it
            # for debugging, but out of tracebacks.
            mapped.vendor_exception = exc
            return mapped
        name = type(exc).__name__
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            return APITimeoutError(f"request timed out ({name})", provider=self.provider_id)
        if isinstance(exc, (ConnectionError, OSError)):
            return APIConnectionError(f"connection failed: {name}: {exc}", provider=self.provider_id)
        if isinstance(exc, _PARSE_ERRORS):
            return MalformedResponseError(f"cannot parse the response: {name}: {exc}", provider=self.provider_id)
        return ProviderError(f"{name}: {exc}", provider=self.provider_id)

    def _reraise(self, exc: Exception) -> NoReturn:
        """Raises `exc` as a typed error. What it translates is kept on `vendor_exception`, never chained:
        a vendor's exception (or its cause) may quote the raw server body, and with it an echoed key."""
        err = self._translate(exc)
        if err is exc:
            raise exc
        if isinstance(err, ProviderError) and err.vendor_exception is None:
            err.vendor_exception = exc
        raise err from None

    def _parse(self, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except AgentOSLLMError:
            raise
        except _PARSE_ERRORS as exc:
            err = MalformedResponseError(f"cannot parse the response: {type(exc).__name__}: {exc}",
                                         provider=self.provider_id)
            err.vendor_exception = exc
            raise err from None

    def _finish(self, response: CompletionResponse) -> CompletionResponse:
        self._price(response.usage, response.model)
        response.api = self.api or None
        response.metadata = self.get_response_metadata(response, source_headers(response))
        response.metadata._source = None  # every header as received: read by the hook above, not kept
        if not self.keep_raw:
            response.raw = None
        return pack(response)  # kept compactly: agents retain long histories of responses

    def _price(self, usage: Usage, model: str) -> None:
        """Fills `usage.cost_usd` and `usage.cost_source` (the order is `agentos_llm.pricing`'s)."""
        price_usage(self, usage, model)

    def _priced(self, events: Sequence[StreamEvent], model: str) -> Sequence[StreamEvent]:
        """Stream events with the cost on a `usage` event, as `done` will carry it."""
        for event in events:
            if type(event) is UsageEvent:
                self._price(event.usage, model)
        return events

    def _headers(self, options: GenerateOptions, call: Call | None = None) -> Mapping[str, str] | None:
        """Per-request headers: the caller's `extra_headers` (a provider adds what a call's content needs)."""
        return options.extra_headers

    def _send_guarded(self, op: Operation, request: Any, timeout: float | None,
                      headers: Mapping[str, str] | None) -> Any:
        """`_send` with errors typed. A "chat" answer comes back as the hook gave it (`_whole` reads its
        headers onto the response); any other operation's headers are heard here and the payload returned."""
        try:
            got = self._send(op, request, timeout, headers)
        except Exception as exc:
            self._reraise(exc)
        return self._payload(got, headers) if op != "chat" else got

    async def _asend_guarded(self, op: Operation, request: Any, timeout: float | None,
                             headers: Mapping[str, str] | None) -> Any:
        """`_asend` with errors typed; see `_send_guarded`."""
        try:
            # The attempt's timeout bounds the whole exchange, a body that trickles in too (the HTTP clients'
            # timeouts bound each read only).
            got = await within(self._asend(op, request, timeout, headers), timeout)
        except Exception as exc:
            if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) and timeout is not None:
                raise APITimeoutError(f"the attempt did not finish within its timeout of {timeout:g}s",
                                      provider=self.provider_id) from None
            self._reraise(exc)
        return self._payload(got, headers) if op != "chat" else got

    # ------------------------------------------------------------------ what response headers say

    def _hear(self, headers: Mapping[str, str] | None, sent: Mapping[str, str] | None = None,
              status: int | None = None) -> Heard:
        """The request id, rate limits (kept for the credential the request was `sent` with: this provider's,
        or a request's own key), reported cost, status and selected headers of a response."""
        credential = self._listing_key if sent is None else (lambda: sent_credential(self, sent))
        return hear(self.provider_id, credential, headers, status)

    def _payload(self, got: Any, sent: Mapping[str, str] | None = None) -> Any:
        if type(got) is Received:
            self._hear(got.headers, sent, got.status)
            return got.payload
        return got

    def _whole(self, got: Any, call: Call) -> CompletionResponse:
        """A whole answer from what `_send` returned, with what its headers said, priced."""
        if type(got) is not Received:
            return self._finish(self._parse(lambda: self._parse_response(got, call)))
        response = self._parse(lambda: self._parse_response(got.payload, call))
        heard = self._hear(got.headers, with_key(self, None, call.options.api_key), got.status)
        if heard.cost_usd is not None:  # a gateway's own price for the call (LiteLLM) wins
            response.usage.cost_usd, response.usage.cost_source = heard.cost_usd, "provider"
        return self._finish(noted(response, heard))

    # ------------------------------------------------------------------ which API serves a model

    def _serving(self, model: str | None) -> IProvider:
        """This provider, or the sibling over another API of the host when the model's profile names
        only APIs this one is not (o3-pro and the codex models exist on the Responses API only)."""
        apis = model_traits(self.catalog_key, self.traits_family, model or self.default_model or "").apis
        if apis is None or not self.api or self.api in apis:
            return self
        api = next((a for a in self.spec.apis if a in apis), None)
        if api is None:
            raise UnsupportedCapabilityError(
                self.provider_id, "api", f"model {model!r} is served only by the {' or '.join(apis)} API, "
                f"which {self.label} does not offer (it offers {', '.join(self.spec.apis)})")
        return self.sibling(api)

    def sibling(self, api: str) -> IProvider:
        """This host with the same credential and settings over another wire API it offers (made once)."""
        from .apis import get_api
        from .registry import _load_implementation

        api_id = get_api(api).id
        if api_id == self.api:
            return self
        found = self._siblings.get(api_id)
        if found is None:
            cls = _load_implementation(self.spec, api_id)
            p = self.retry_policy
            found = cls(spec=self.spec, api_key=self._api_key, base_url=self.base_url, timeout=p.timeout,
                        max_retries=p.max_retries, deadline=p.deadline, default_headers=self.default_headers,
                        default_model=self.default_model, env=self._env, profile=self.credential_profile,
                        **self.config)
            found.credential_source = self.credential_source
            found.default_model_source = self.default_model_source
            found._settings = self._settings
            found.models_cache = self.models_cache
            found._adopt_transport(self)
            self._siblings[api_id] = found
        found.usage_ledger = self.usage_ledger
        return found

    # ------------------------------------------------------------------ generate

    async def generate(self, model: str | None, messages: Messages, **options: Any) -> CompletionResponse:
        """One whole answer. `model` None means the provider's default model."""
        serving = self._serving(model)
        if serving is not self:
            return await serving.generate(model, messages, **options)
        return await self._agenerate_call(self._make_call(model, messages, options))

    def generate_sync(self, model: str | None, messages: Messages, **options: Any) -> CompletionResponse:
        """`generate`, blocking."""
        serving = self._serving(model)
        if serving is not self:
            return serving.generate_sync(model, messages, **options)
        return self._generate_call(self._make_call(model, messages, options))

    # ------------------------------------------------------------------ token counting

    def _count_plan(self, model: str | None, messages: Messages, options: Mapping[str, Any]
                    ) -> tuple[IProvider, Call, Any]:
        counter = self._serving(model)._count_provider()
        call = counter._make_call(model, messages, options)
        return counter, call, counter._build_count_request(call)

    def _token_count(self, call: Call, payload: Any) -> TokenCount:
        n = self._parse(lambda: self._parse_token_count(payload))
        return TokenCount(input_tokens=n, exact=True, model=call.model, provider=self.provider_id)

    async def count_tokens(self, model: str | None, messages: Messages, **options: Any) -> TokenCount:
        """How many input tokens the call would use: the vendor's counting endpoint, shaped exactly as
        `generate` would send (system, tools and options count); a documented local estimate
        (`exact=False`, see `agentos_llm.token_estimate`) where the host has no endpoint."""
        counter, call, request = self._count_plan(model, messages, options)
        if request is None:
            return estimate_tokens(call, provider=counter.provider_id)
        headers = counter._call_headers(call)

        async def send() -> TokenCount:
            payload = await counter._policy(call.options).acall(
                lambda t: counter._asend_guarded("count", request, t, headers))
            return counter._token_count(call, payload)

        w = watch(counter, "count_tokens", call.model, call)  # a local estimate sends nothing: not watched
        return await (send() if w is None else w.arun(send))

    def count_tokens_sync(self, model: str | None, messages: Messages, **options: Any) -> TokenCount:
        """`count_tokens`, blocking."""
        counter, call, request = self._count_plan(model, messages, options)
        if request is None:
            return estimate_tokens(call, provider=counter.provider_id)
        headers = counter._call_headers(call)

        def send() -> TokenCount:
            payload = counter._policy(call.options).call(lambda t: counter._send_guarded("count", request, t, headers))
            return counter._token_count(call, payload)

        w = watch(counter, "count_tokens", call.model, call)
        return send() if w is None else w.run(send)

    def _whole_via_stream(self, call: Call) -> bool:
        """Whether a whole call must travel as a stream (and be assembled), e.g. a very long answer."""
        return False

    def _generate_call(self, call: Call, metered: bool = False, watched: bool = False) -> CompletionResponse:
        if not watched and (w := watch(self, "chat", call.model, call)) is not None:  # spans, hooks, DEBUG record
            return w.run(lambda: self._generate_call(call, metered, True))
        if self.usage_ledger is not None and not metered:
            return self.usage_ledger.run(self, "chat", call.model, call,
                                         lambda: self._generate_call(call, True, True))
        if self._whole_via_stream(call):
            return _done_response(self._stream_call(replace(call, stream=True)))
        request, headers = self._wire_request(call)
        got = self._policy(call.options).call(lambda t: self._send_guarded("chat", request, t, headers))
        return self._whole(got, call)

    async def _agenerate_call(self, call: Call, metered: bool = False, watched: bool = False) -> CompletionResponse:
        if not watched and (w := watch(self, "chat", call.model, call)) is not None:
            return await w.arun(lambda: self._agenerate_call(call, metered, True))
        if self.usage_ledger is not None and not metered:
            return await self.usage_ledger.arun(self, "chat", call.model, call,
                                                lambda: self._agenerate_call(call, True, True))
        if self._whole_via_stream(call):
            events = self._astream_call(replace(call, stream=True))
            try:
                async for event in events:
                    if isinstance(event, DoneEvent):
                        return event.response
            finally:
                await _aclose(events)
            raise MalformedResponseError("the stream ended without a response", provider=self.provider_id)
        request, headers = self._wire_request(call)

        def attempt(timeout: float | None) -> Awaitable[Any]:
            return self._asend_guarded("chat", request, timeout, headers)

        return self._whole(await self._policy(call.options).acall(attempt), call)

    # ------------------------------------------------------------------ stream

    def stream(self, model: str | None, messages: Messages, **options: Any) -> AsyncEventStream:
        """Events as they arrive; the last is always `done` with the whole response.

        Use `async with provider.stream(...) as events:` so leaving early closes the connection.
        """
        serving = self._serving(model)
        if serving is not self:
            return serving.stream(model, messages, **options)
        call = self._make_call(model, messages, options, stream=True)
        w = watch(self, "stream", call.model, call)
        if w is not None:  # the span ends when the stream ends or is closed
            return AsyncEventStream(w.astream(lambda: self._ametered_stream(call)))
        return AsyncEventStream(self._ametered_stream(call))

    def _ametered_stream(self, call: Call) -> AsyncIterator[StreamEvent]:
        if self.usage_ledger is not None:
            return self.usage_ledger.ameter_stream(self, call, self._astream_call(call))
        return self._astream_call(call)

    def stream_sync(self, model: str | None, messages: Messages, **options: Any) -> EventStream:
        """`stream` as a plain iterator (`with` closes it when left early)."""
        serving = self._serving(model)
        if serving is not self:
            return serving.stream_sync(model, messages, **options)
        call = self._make_call(model, messages, options, stream=True)
        w = watch(self, "stream", call.model, call)
        if w is not None:
            return EventStream(w.stream(lambda: self._metered_stream(call)))
        return EventStream(self._metered_stream(call))

    def _metered_stream(self, call: Call) -> Iterator[StreamEvent]:
        if self.usage_ledger is not None:
            return self.usage_ledger.meter_stream(self, call, self._stream_call(call))
        return self._stream_call(call)

    def _stream_call(self, call: Call) -> Iterator[StreamEvent]:
        return run_stream(self, call)

    def _astream_call(self, call: Call) -> AsyncIterator[StreamEvent]:
        return arun_stream(self, call)

    # ------------------------------------------------------------------ structured output

    def _structured_call(self, model: str | None, messages: Messages, schema: Any,
                         options: Mapping[str, Any]) -> Call:
        call = self._make_call(model, messages, options)
        plan = StructuredPlan.for_type(schema)
        return replace(call, structured=plan, structured_mode=self._structured_mode(call, plan))

    def _structured_step(self, call: Call, response: CompletionResponse, total: Usage | None, attempt: int,
                         max_attempts: int) -> tuple[StructuredResponse[Any] | None, Call, Usage]:
        """Checks one answer: the result when valid, else the call to send next (or an error at the end)."""
        plan = call.structured
        assert plan is not None
        total = response.usage if total is None else total + response.usage
        ok, value = plan.parse(response.text)
        if ok:
            response.usage = total
            return StructuredResponse[Any](value=value, response=response, attempts=attempt), call, total
        if attempt >= max_attempts:
            raise StructuredOutputError(
                f"the answer did not validate against {plan.format.name} after {attempt} attempt(s): {value}",
                raw_text=response.text, validation_errors=value if isinstance(value, list) else [value],
                attempts=attempt, usage=total)
        retry = replace(call, messages=[*call.messages, *plan.retry_messages(response.message, value)])
        return None, retry, total

    async def generate_structured(self, model: str | None, messages: Messages, schema: type[T] | Any, *,
                                  max_attempts: int | None = None, **options: Any) -> StructuredResponse[T]:
        """An answer validated as `schema` (a pydantic model or any type pydantic validates).

        Invalid answers are sent back with the validation errors, up to `max_attempts` calls.
        """
        serving = self._serving(model)
        if serving is not self:
            return await serving.generate_structured(model, messages, schema, max_attempts=max_attempts, **options)
        call = self._structured_call(model, messages, schema, options)
        w = watch_span(self, "structured", call.model, call)  # one span over the attempts' chat spans
        if w is not None:
            return await w.arun(lambda: self._astructured_attempts(call, max_attempts))
        return await self._astructured_attempts(call, max_attempts)

    async def _astructured_attempts(self, call: Call, max_attempts: int | None) -> StructuredResponse[Any]:
        limit = max_attempts or self.structured_max_attempts
        total: Usage | None = None
        for attempt in range(1, limit + 1):
            response = await self._agenerate_call(call)
            result, call, total = self._structured_step(call, response, total, attempt, limit)
            if result is not None:
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def generate_structured_sync(self, model: str | None, messages: Messages, schema: type[T] | Any, *,
                                 max_attempts: int | None = None, **options: Any) -> StructuredResponse[T]:
        """`generate_structured`, blocking."""
        serving = self._serving(model)
        if serving is not self:
            return serving.generate_structured_sync(model, messages, schema, max_attempts=max_attempts, **options)
        call = self._structured_call(model, messages, schema, options)
        w = watch_span(self, "structured", call.model, call)
        if w is not None:
            return w.run(lambda: self._structured_attempts(call, max_attempts))
        return self._structured_attempts(call, max_attempts)

    def _structured_attempts(self, call: Call, max_attempts: int | None) -> StructuredResponse[Any]:
        limit = max_attempts or self.structured_max_attempts
        total: Usage | None = None
        for attempt in range(1, limit + 1):
            response = self._generate_call(call)
            result, call, total = self._structured_step(call, response, total, attempt, limit)
            if result is not None:
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ embeddings

    def _embed_plan(self, model: str | None, texts: str | Sequence[str], dimensions: int | None,
                    input_type: str | None) -> tuple[str, list[list[str]], EmbedOptions]:
        if Capability.EMBEDDINGS not in self.capabilities:
            raise UnsupportedCapabilityError(self.provider_id, "embeddings",
                                             f"{self.label} offers no embeddings API{self.no_embeddings_hint}")
        model = model or self.spec.embedding_model
        if not model:
            raise InvalidRequestError(f"no embedding model given and {self.provider_id!r} has no default",
                                      provider=self.provider_id)
        items = [texts] if isinstance(texts, str) else list(texts)
        if not items or not all(isinstance(t, str) for t in items):
            raise InvalidRequestError("embed takes a non-empty list of strings", provider=self.provider_id)
        try:
            options = EmbedOptions(dimensions=dimensions, input_type=input_type)  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidRequestError(f"invalid embedding options: {exc}", provider=self.provider_id) from None
        return model, self._embed_batches(items, model), options

    def _embed_result(self, model: str, parts: list[EmbeddingResponse]) -> EmbeddingResponse:
        usage = parts[0].usage
        for p in parts[1:]:
            usage = usage + p.usage
        served = parts[0].model or model
        self._price(usage, served)
        return EmbeddingResponse(vectors=[v for p in parts for v in p.vectors], model=served,
                                 provider=self.provider_id, usage=usage)

    async def embed(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                    input_type: str | None = None, api_key: str | SecretStr | None = None) -> EmbeddingResponse:
        """Embedding vectors in input order, batched under the vendor's limits.

        `input_type` (query, document, classification, clustering, similarity) says what the texts are
        for, on vendors that embed differently per task (Gemini); others ignore it. `api_key` sends the
        requests with that key instead of the provider's (see `agentos_llm.request_keys`).
        """
        model, batches, options = self._embed_plan(model, texts, dimensions, input_type)
        headers = with_key(self, None, api_key)

        async def one(batch: list[str]) -> EmbeddingResponse:
            request = self._build_embed_request(model, batch, options)
            payload = await self.retry_policy.acall(lambda t: self._asend_guarded("embed", request, t, headers))
            return self._parse(lambda: self._parse_embeddings(payload, model, len(batch)))

        async def all_batches() -> EmbeddingResponse:
            parts: list[EmbeddingResponse] = []
            for start in range(0, len(batches), 4):  # a few batches at a time, in order
                parts.extend(await asyncio.gather(*(one(b) for b in batches[start:start + 4])))
            return self._embed_result(model, parts)

        async def metered() -> EmbeddingResponse:
            if self.usage_ledger is not None:
                return await self.usage_ledger.arun(self, "embed", model, batches, all_batches)
            return await all_batches()

        w = watch(self, "embed", model, texts)
        return await (metered() if w is None else w.arun(metered))

    def embed_sync(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                   input_type: str | None = None, api_key: str | SecretStr | None = None) -> EmbeddingResponse:
        """`embed`, blocking."""
        model, batches, options = self._embed_plan(model, texts, dimensions, input_type)
        headers = with_key(self, None, api_key)

        def metered() -> EmbeddingResponse:
            if self.usage_ledger is not None:
                return self.usage_ledger.run(self, "embed", model, batches, lambda: self._embed_result(
                    model, [self._embed_batch_sync(model, b, options, headers) for b in batches]))
            return self._embed_result(model, [self._embed_batch_sync(model, b, options, headers) for b in batches])

        w = watch(self, "embed", model, texts)
        return metered() if w is None else w.run(metered)

    def _embed_batch_sync(self, model: str, batch: list[str], options: EmbedOptions,
                          headers: Mapping[str, str] | None = None) -> EmbeddingResponse:
        request = self._build_embed_request(model, batch, options)
        payload = self.retry_policy.call(lambda t: self._send_guarded("embed", request, t, headers))
        return self._parse(lambda: self._parse_embeddings(payload, model, len(batch)))

    # ------------------------------------------------------------------ reranking

    def _rerank_plan(self, model: str | None, query: str, documents: Sequence[str], top_n: int | None
                     ) -> tuple[str, list[str], Any]:
        if Capability.RERANK not in self.capabilities:
            raise UnsupportedCapabilityError(
                self.provider_id, "reranking",
                f"{self.label} offers no rerank API; Cohere, Voyage AI and Bedrock's rerank models do")
        model = model or self.spec.rerank_model
        if not model:
            raise InvalidRequestError(f"no rerank model given and {self.provider_id!r} has no default",
                                      provider=self.provider_id)
        if not isinstance(query, str) or not query:
            raise InvalidRequestError("rerank takes a non-empty query string", provider=self.provider_id)
        docs = [documents] if isinstance(documents, str) else list(documents)
        if not docs or not all(isinstance(d, str) for d in docs):
            raise InvalidRequestError("rerank takes a non-empty list of document strings", provider=self.provider_id)
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise InvalidRequestError(f"top_n must be a positive integer, not {top_n!r}", provider=self.provider_id)
        return model, docs, self._build_rerank_request(model, query, docs, top_n)

    def _rerank_result(self, payload: Any, model: str, docs: list[str]) -> RerankResponse:
        result = self._parse(lambda: self._parse_rerank(payload, model, docs))
        result.provider = self.provider_id
        if result.usage.input_tokens or result.usage.cost_usd is not None:
            self._price(result.usage, result.model)
        else:
            result.usage.cost_source = "none"  # billed per search unit (Cohere): no token price applies
        return result

    async def rerank(self, model: str | None, query: str, documents: Sequence[str], *,
                     top_n: int | None = None, api_key: str | SecretStr | None = None) -> RerankResponse:
        """`documents` ranked by relevance to `query`, most relevant first; `top_n` keeps only the best;
        `api_key` sends the request with that key instead of the provider's."""
        model, docs, request = self._rerank_plan(model, query, documents, top_n)
        headers = with_key(self, None, api_key)

        async def send() -> RerankResponse:
            payload = await self.retry_policy.acall(lambda t: self._asend_guarded("rerank", request, t, headers))
            return self._rerank_result(payload, model, docs)

        async def metered() -> RerankResponse:
            if self.usage_ledger is not None:
                return await self.usage_ledger.arun(self, "rerank", model, (query, docs), send)
            return await send()

        w = watch(self, "rerank", model, (query, docs))
        return await (metered() if w is None else w.arun(metered))

    def rerank_sync(self, model: str | None, query: str, documents: Sequence[str], *,
                    top_n: int | None = None, api_key: str | SecretStr | None = None) -> RerankResponse:
        """`rerank`, blocking."""
        model, docs, request = self._rerank_plan(model, query, documents, top_n)
        headers = with_key(self, None, api_key)

        def metered() -> RerankResponse:
            if self.usage_ledger is not None:
                return self.usage_ledger.run(self, "rerank", model, (query, docs), lambda: self._rerank_result(
                    self.retry_policy.call(lambda t: self._send_guarded("rerank", request, t, headers)), model, docs))
            payload = self.retry_policy.call(lambda t: self._send_guarded("rerank", request, t, headers))
            return self._rerank_result(payload, model, docs)

        w = watch(self, "rerank", model, (query, docs))
        return metered() if w is None else w.run(metered)

    # ------------------------------------------------------------------ models and health

    def _merge_catalog(self, listed: list[ModelInfo]) -> list[ModelInfo]:
        merged = []
        for info in listed:
            known = catalog_entry(self.catalog_key, info.id)
            live = {k: v for k, v in info.model_dump(exclude_defaults=True).items() if k not in ("id", "provider")}
            # What the server says (its context window, its prices) wins over the static catalog. A listing that
            # names request capabilities (OpenRouter) is believed; one that names only other things (Gemini's
            # generation methods) adds to the catalog's.
            if known is not None:
                if "capabilities" in live and not info.capabilities & _REQUEST_CAPABILITIES:
                    live["capabilities"] = known.capabilities | info.capabilities
                info = known.model_copy(update=live)
            merged.append(info.model_copy(update={"source": "live", "provider": self.provider_id}))
        return merged

    def _listing_key(self) -> tuple[str, str, str]:
        """This credential's cache key: provider id, base URL, and a hash of the key and of what scopes it."""
        secret = self._api_key.get_secret_value() if self._api_key is not None else None
        return listing_key(self.provider_id, self.base_url, secret,
                           {"headers": self.default_headers, "config": self.config})

    def _remember_models(self, listed: list[ModelInfo], key: tuple[str, str, str] | None = None) -> list[ModelInfo]:
        """Merges a live listing with the catalog and caches it for this credential (or the one `key` names)."""
        merged = self._merge_catalog(listed)
        self.models_cache.put(self._listing_key() if key is None else key, merged)
        return merged

    def _keep_credential_updates(self, payload: Any) -> None:
        """Writes what the listing said about this credential to its config table (`config_writer.update_credential`)
        when the credential came from the config file; a failure is logged and kept, never raised."""
        self.last_discovery_error = None
        try:
            updates = self._credential_updates(payload)
            if updates and self._settings.from_config:
                from .config_writer import update_credential

                update_credential(self._settings.section, self.credential_profile, path=self._settings.config_path,
                                  **updates)
        except (AgentOSLLMError, OSError, ValueError, TypeError, KeyError) as exc:
            err = exc if isinstance(exc, AgentOSLLMError) else ConfigurationError(
                f"cannot keep what the listing said about this credential: {type(exc).__name__}: {exc}")
            self.last_discovery_error = err
            log.warning("%s: %s", self.provider_id, err)

    def _static_models(self, exc: AgentOSLLMError, own: bool = True) -> list[ModelInfo]:
        if own:  # a request's own key fails for its caller alone: nothing of it is kept on the provider
            self.last_discovery_error = exc
        log.warning("listing the models of %s failed (%s: %s); answering from the static catalog",
                    self.provider_id, type(exc).__name__, exc)
        return [m.model_copy(update={"provider": self.provider_id}) for m in catalog_models(self.catalog_key)]

    async def list_models(self, *, capability: str | None = None,
                          api_key: str | SecretStr | None = None) -> list[ModelInfo]:
        """The models this credential can use, with what the catalog knows about each (`source="live"`).

        Listings are cached per credential for `models_cache.ttl` seconds. When the live call fails, the
        static catalog answers alone (`source="catalog"`, and a warning is logged). `capability` keeps the
        models that have it (tools, vision, json_schema, embeddings, reasoning, documents, audio, rerank; see
        `get_model_capabilities`); `api_key` lists with that key (cached under a hash of it).
        """
        check_capability(capability)
        key = credential_key(self, api_key)
        listed = self.models_cache.get(key)
        if listed is None:
            headers = with_key(self, None, api_key)
            try:
                payload = await self.retry_policy.acall(lambda t: self._asend_guarded("models", None, t, headers))
                parsed = self._parse(lambda: self._parse_model_list(payload))
            except (ProviderError, UnsupportedCapabilityError) as exc:
                return filter_models(self, self._static_models(exc, api_key is None), capability)
            if api_key is None:
                self._keep_credential_updates(payload)
            listed = self._remember_models(parsed, key)
        return filter_models(self, listed, capability)

    def list_models_sync(self, *, capability: str | None = None,
                         api_key: str | SecretStr | None = None) -> list[ModelInfo]:
        """`list_models`, blocking."""
        check_capability(capability)
        key = credential_key(self, api_key)
        listed = self.models_cache.get(key)
        if listed is None:
            headers = with_key(self, None, api_key)
            try:
                payload = self.retry_policy.call(lambda t: self._send_guarded("models", None, t, headers))
                parsed = self._parse(lambda: self._parse_model_list(payload))
            except (ProviderError, UnsupportedCapabilityError) as exc:
                return filter_models(self, self._static_models(exc, api_key is None), capability)
            if api_key is None:
                self._keep_credential_updates(payload)
            listed = self._remember_models(parsed, key)
        return filter_models(self, listed, capability)

    def _model_info(self, model: str, listed: list[ModelInfo]) -> ModelInfo:
        for info in listed:
            if info.id == model:
                return info
        known = catalog_entry(self.catalog_key, model)  # e.g. a dated snapshot of a listed family
        if known is not None:
            return known.model_copy(update={"provider": self.provider_id})
        return ModelInfo(id=model, provider=self.provider_id, known=False, source="unknown")

    async def get_model_info(self, model: str) -> ModelInfo:
        """What is known about a model: the live listing merged with the catalog (cached), else the catalog;
        for a model neither knows, `known=False` and `source="unknown"` (nothing is raised: it may still serve)."""
        return self._model_info(model, await self.list_models())

    def get_model_info_sync(self, model: str) -> ModelInfo:
        """`get_model_info`, blocking."""
        return self._model_info(model, self.list_models_sync())

    def catalog(self) -> list[ModelInfo]:
        """The static catalog's models for this provider (no network)."""
        return [m.model_copy(update={"provider": self.provider_id}) for m in catalog_models(self.catalog_key)]

    def supports_model(self, model: str) -> bool:
        """Whether the static catalog, or this credential's cached live listing, lists `model` (no network)."""
        return (catalog_entry(self.catalog_key, model) is not None
                or self.models_cache.lists(self._listing_key(), model))

    async def check_health(self) -> HealthStatus:
        """Whether the provider answers with this credential (lists models; never raises)."""
        started = time.perf_counter()
        try:
            await self._asend_guarded("models", None, self._health_timeout(), None)
        except AgentOSLLMError as exc:
            return self._health(started, exc)
        return self._health(started, None)

    def check_health_sync(self) -> HealthStatus:
        """`check_health`, blocking (on the sync transport: no async client gets bound to another loop)."""
        started = time.perf_counter()
        try:
            self._send_guarded("models", None, self._health_timeout(), None)
        except AgentOSLLMError as exc:
            return self._health(started, exc)
        return self._health(started, None)

    async def get_quota(self, *, timeout: float | None = None,
                        settings: QuotaSettings | Mapping[str, Any] | None = None) -> QuotaSnapshot:
        """What this key may still spend: the host's quota endpoint (a preset, or the config file's
        `[providers.<id>.quota]`) plus the rate limits of recent responses. Never raises: failures are the
        snapshot's status ("unsupported", "unauthorized", "error") and message. See `agentos_llm.quota_fetch`.
        """
        from .quota_fetch import fetch_quota

        return await fetch_quota(self, timeout=timeout, settings=settings)

    def get_quota_sync(self, *, timeout: float | None = None,
                       settings: QuotaSettings | Mapping[str, Any] | None = None) -> QuotaSnapshot:
        """`get_quota`, blocking."""
        from .quota_fetch import fetch_quota_sync

        return fetch_quota_sync(self, timeout=timeout, settings=settings)

    def _health_timeout(self) -> float:
        return min(10.0, self.retry_policy.timeout or 10.0)

    def _health(self, started: float, error: AgentOSLLMError | None) -> HealthStatus:
        from .health import state_of

        return HealthStatus(provider=self.provider_id, ok=error is None, state=state_of(error),
                            error=None if error is None else f"{type(error).__name__}: {error}",
                            latency_ms=(time.perf_counter() - started) * 1000)

    # ------------------------------------------------------------------ what a call sends, and how it was served

    def _call_headers(self, call: Call) -> Mapping[str, str] | None:
        """A call's per-request headers: `_headers`, and the call's own key (`api_key=`) in the API's auth header."""
        return with_key(self, self._headers(call.options, call), call.options.api_key)

    def _wire_request(self, call: Call) -> tuple[Any, Mapping[str, str] | None]:
        """The vendor request and the per-request headers of a call: what `generate`, `stream` and
        `inspect_request` all hand the I/O hooks."""
        return self._build_request(call), self._call_headers(call)

    async def _inspect_http(self, op: Operation, request: Any, timeout: float | None,
                            headers: Mapping[str, str] | None, *, stream: bool, is_async: bool) -> Any:
        """The HTTP request `_send` / `_open_stream` would send for `request`, built and not sent (a
        `providers.dry_run.Built`, or an `InspectedRequest`); override it for I/O the library does not know."""
        from .providers.dry_run import build_http

        return await build_http(self, op, request, timeout, headers, stream=stream, is_async=is_async)

    async def inspect_request(self, model: str | None, messages: Messages, **options: Any) -> InspectedRequest:
        """Exactly what `generate` would send (with `stream=True`: `stream`), built by the same steps and the
        vendor SDK's own request builder, and not sent: method, URL, headers (credentials redacted), JSON body."""
        from .inspection import inspect_call

        return await inspect_call(self, model, messages, options, is_async=True)

    def inspect_request_sync(self, model: str | None, messages: Messages, **options: Any) -> InspectedRequest:
        """`inspect_request`, for the sync client (what `generate_sync` / `stream_sync` send)."""
        from .inspection import drive, inspect_call

        return drive(inspect_call(self, model, messages, options, is_async=False))

    async def inspect_embed_request(self, model: str | None, texts: str | Sequence[str], *,
                                    dimensions: int | None = None, input_type: str | None = None,
                                    api_key: str | SecretStr | None = None) -> list[InspectedRequest]:
        """What `embed` would send: one request per batch, not sent."""
        from .inspection import inspect_embed

        return await inspect_embed(self, model, texts, dimensions=dimensions, input_type=input_type,
                                   api_key=api_key, is_async=True)

    def inspect_embed_request_sync(self, model: str | None, texts: str | Sequence[str], *,
                                   dimensions: int | None = None, input_type: str | None = None,
                                   api_key: str | SecretStr | None = None) -> list[InspectedRequest]:
        """`inspect_embed_request`, for the sync client."""
        from .inspection import drive, inspect_embed

        return drive(inspect_embed(self, model, texts, dimensions=dimensions, input_type=input_type,
                                   api_key=api_key, is_async=False))

    def get_response_metadata(self, response: CompletionResponse,
                              headers: Mapping[str, str] | None) -> ResponseMetadata:
        """How `response` was served (its `metadata`): HTTP status, selected headers, request id, service tier,
        upstream, API, host and base URL. `headers` are all the response's headers (None when the I/O layer
        passed none on); an override may add what it reads to `extra`."""
        return complete_metadata(self, response)

    def get_icon(self) -> str:
        """The provider's icon: an http(s) URL or a `data:` URI (built-in hosts: a small SVG monogram)."""
        return default_icon(self)

    def get_tools(self) -> list[ProviderTool]:
        """The tools this provider contributes: the server tools its vendor runs (`ProviderTool.build(...)`
        makes one for `server_tools=[...]`)."""
        return default_tools(self)

    async def get_model_capabilities(self, model: str) -> frozenset[str]:
        """What a model can do (tools, vision, json_schema, embeddings, reasoning, documents, audio, rerank):
        its listing and the catalog, else what the request rules assume of it."""
        return model_capabilities(self, await self.get_model_info(model))

    def get_model_capabilities_sync(self, model: str) -> frozenset[str]:
        """`get_model_capabilities`, blocking."""
        return model_capabilities(self, self.get_model_info_sync(model))

    async def list_models_page(self, cursor: str | None = None, limit: int | None = None, *,
                               capability: str | None = None, api_key: str | SecretStr | None = None) -> ModelPage:
        """One page of models (`limit`, 100 by default) after `cursor`, and the cursor of the next page (None:
        the last). Anthropic, Gemini, OpenRouter and Cohere page natively; other listings are sliced."""
        from .model_pages import page_of

        return await page_of(self, cursor, limit, capability, api_key, is_async=True)

    def list_models_page_sync(self, cursor: str | None = None, limit: int | None = None, *,
                              capability: str | None = None, api_key: str | SecretStr | None = None) -> ModelPage:
        """`list_models_page`, blocking."""
        from .inspection import drive
        from .model_pages import page_of

        return drive(page_of(self, cursor, limit, capability, api_key, is_async=False))

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Closes the provider's clients (and those of its siblings over other APIs)."""
        for sibling in self._siblings.values():
            await sibling.aclose()
        await self._aclose()
        self._close()

    def close(self) -> None:
        """Closes the provider's sync client (use `aclose` in async code)."""
        for sibling in self._siblings.values():
            sibling.close()
        self._close()

    async def __aenter__(self: _P) -> _P:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


_P = TypeVar("_P", bound=IProvider)


def _done_response(events: Iterator[StreamEvent]) -> CompletionResponse:
    """The response a stream's `done` event carries (the stream is closed either way)."""
    try:
        for event in events:
            if isinstance(event, DoneEvent):
                return event.response
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    raise MalformedResponseError("the stream ended without a response")


async def _aclose(it: AsyncIterator[Any]) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()

