"""`IProvider`: the contract every provider fulfils, and the policy entry points they all share.

The base class owns validation, retries, error mapping, streaming assembly, structured output,
embedding batching, usage and cost. A provider implements small hooks: build a vendor request
from a `Call` (a pure converter), send it (sync and async twins), and parse what comes back
(pure converters again). `generate` and `stream` go through the same steps.

The policy is split by concern into mixins `IProvider` inherits: errors (`provider_errors`), what comes back
(`provider_responses`), token counting (`provider_counting`), structured output (`structured_attempts`),
embeddings (`provider_embeddings`), reranking (`provider_rerank`), model listings (`provider_models`), health
and quota (`provider_health`) and request inspection (`provider_inspection`). The call and stream types live in
`calls` and `event_streams`; every name is re-exported here. A mixin reaches the provider through
`cast("IProvider", self)`: mypy cannot type a mixin's `self` as the class that inherits it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from .calls import Call, Capability, Messages, Operation
from .catalog import MODEL_LISTS, ModelListCache, model_traits
from .credentials import resolve_settings
from .defaults import ProviderSpec, get_spec
from .errors import (
    AgentOSLLMError,
    ConfigurationError,
    InvalidRequestError,
    MalformedResponseError,
    ProviderError,
    UnsupportedCapabilityError,
)
from .event_streams import AsyncEventStream, EventStream, StreamAssembler, _aclose, _done_response
from .history_rules import check_history
from .http_bridge import TransportPolicy, resolve_transport
from .model_traits import ModelTraits
from .options import EmbedOptions, GenerateOptions, parse_options
from .provider_counting import TokenCounting
from .provider_embeddings import Embeddings
from .provider_errors import ErrorTranslation
from .provider_health import HealthAndQuota
from .provider_inspection import RequestInspection
from .provider_models import ModelListing
from .provider_rerank import Reranking
from .provider_responses import ResponseFinishing
from .provider_surface import default_icon, default_tools
from .received import Received
from .redaction import hold_secret, redact
from .request_keys import with_key
from .retry import RetryPolicy
from .streaming import DEFAULT_STREAM_IDLE_TIMEOUT, arun_stream, run_stream
from .structured import StructuredMode, StructuredPlan
from .structured_attempts import StructuredOutput
from .telemetry.watch import watch
from .types import (
    AudioPart,
    CompletionResponse,
    DocumentPart,
    DoneEvent,
    EmbeddingResponse,
    ImagePart,
    Message,
    ModelInfo,
    RerankResponse,
    StreamEvent,
    TextPart,
    coerce_messages,
)

if TYPE_CHECKING:
    from .ledger import UsageLedger
    from .provider_surface import ProviderTool

__all__ = [
    "AsyncEventStream",
    "Call",
    "Capability",
    "EventStream",
    "IProvider",
    "Messages",
    "Operation",
    "Received",
    "StreamAssembler",
]

log = logging.getLogger("agentos_llm")
T = TypeVar("T")


class IProvider(ErrorTranslation, ResponseFinishing, TokenCounting, StructuredOutput, Embeddings, Reranking,
                ModelListing, HealthAndQuota, RequestInspection, ABC):
    """One LLM provider behind the common contract.

    Subclasses set `provider_id` (a row of `agentos_llm.defaults.PROVIDERS`) and implement the
    hooks; everything public is implemented once for all of them, here and in the policy mixins above.
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
        """Seconds a stream (sync or async) may receive nothing after its first event before it fails with
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
        return redact(f"{type(self).__name__}(provider_id={self.provider_id!r}, base_url={self.base_url!r}, "
                      f"credential_source={self.credential_source!r})")  # a URL may carry a password

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

    def _headers(self, options: GenerateOptions, call: Call | None = None) -> Mapping[str, str] | None:
        """Per-request headers: the caller's `extra_headers` (a provider adds what a call's content needs)."""
        return options.extra_headers

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

    def get_icon(self) -> str:
        """The provider's icon: an http(s) URL or a `data:` URI (built-in hosts: a small SVG monogram)."""
        return default_icon(self)

    def get_tools(self) -> list[ProviderTool]:
        """The tools this provider contributes: the server tools its vendor runs (`ProviderTool.build(...)`
        makes one for `server_tools=[...]`)."""
        return default_tools(self)


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

