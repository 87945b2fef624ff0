"""The peers over OpenAI chat completions, each used as its documentation shows a careful user: one reusable
client (or model object), tools bound once, the response's text or tool call and usage read."""

from __future__ import annotations

import json
from typing import Any

from sides_raw import Side, user
from workloads import API_KEY, MODEL_OPENAI, OPENAI_TOOL, TOOL_DESCRIPTION, TOOL_NAME, TOOL_SCHEMA, prompt

_SOPT = {"include_usage": True}


def _openai_like_read(kind: str, resp: Any) -> Any:
    _ = resp.usage.prompt_tokens, resp.usage.completion_tokens
    msg = resp.choices[0].message
    if kind == "tool":
        fn = msg.tool_calls[0].function
        return fn.name, json.loads(fn.arguments)
    return msg.content


def _delta(chunk: Any) -> str:
    return (chunk.choices[0].delta.content or "") if chunk.choices else ""


class LiteLLM(Side):
    """`litellm.completion` / `acompletion` with `model="openai/..."` and `api_base`."""

    import_stmt = "import litellm"

    def setup(self, base_url: str) -> None:
        import litellm

        self.m = litellm
        self.base = base_url + "/v1"

    async def asetup(self, base_url: str) -> None:
        self.setup(base_url)

    def _kw(self, kind: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": f"openai/{MODEL_OPENAI}", "messages": user(prompt(kind)),
                              "api_base": self.base, "api_key": API_KEY}
        if kind == "tool":
            kw["tools"] = [OPENAI_TOOL]
        return kw

    def _skw(self, text: str) -> dict[str, Any]:
        return {"model": f"openai/{MODEL_OPENAI}", "messages": user(text), "api_base": self.base, "api_key": API_KEY,
                "stream": True, "stream_options": _SOPT}

    def call(self, kind: str) -> Any:
        return self.m.completion(**self._kw(kind))

    async def acall(self, kind: str) -> Any:
        return await self.m.acompletion(**self._kw(kind))

    read = staticmethod(_openai_like_read)

    def stream(self, text: str) -> str:
        return "".join(_delta(c) for c in self.m.completion(**self._skw(text)))

    async def astream(self, text: str) -> str:
        out = []
        async for c in await self.m.acompletion(**self._skw(text)):
            out.append(_delta(c))
        return "".join(out)


class AnyLLM(Side):
    """any-llm's reusable client, `AnyLLM.create("openai", api_base=...)`; its sync API runs the async client
    on a loop of its own in a background thread."""

    import_stmt = "from any_llm import AnyLLM"

    def setup(self, base_url: str) -> None:
        from any_llm import AnyLLM

        self.llm = AnyLLM.create("openai", api_key=API_KEY, api_base=base_url + "/v1")

    async def asetup(self, base_url: str) -> None:
        from any_llm import AnyLLM

        self.allm = AnyLLM.create("openai", api_key=API_KEY, api_base=base_url + "/v1")

    @staticmethod
    def _kw(kind: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": MODEL_OPENAI, "messages": user(prompt(kind))}
        if kind == "tool":
            kw["tools"] = [OPENAI_TOOL]
        return kw

    def call(self, kind: str) -> Any:
        return self.llm.completion(**self._kw(kind))

    async def acall(self, kind: str) -> Any:
        return await self.allm.acompletion(**self._kw(kind))

    read = staticmethod(_openai_like_read)

    def stream(self, text: str) -> str:
        it = self.llm.completion(model=MODEL_OPENAI, messages=user(text), stream=True, stream_options=_SOPT)
        return "".join(_delta(c) for c in it)

    async def astream(self, text: str) -> str:
        out = []
        async for c in await self.allm.acompletion(model=MODEL_OPENAI, messages=user(text), stream=True,
                                                   stream_options=_SOPT):
            out.append(_delta(c))
        return "".join(out)


class PydanticAI(Side):
    """pydantic-ai's model layer without the agent loop (`pydantic_ai.direct.model_request*`), with an
    `OpenAIChatModel`; its sync API runs the async client on a private event loop."""

    import_stmt = "from pydantic_ai.direct import model_request"

    def _model(self, base_url: str) -> Any:
        from pydantic_ai.models import ModelRequestParameters
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider
        from pydantic_ai.tools import ToolDefinition

        self.plain = ModelRequestParameters()
        self.tools = ModelRequestParameters(function_tools=[ToolDefinition(
            name=TOOL_NAME, description=TOOL_DESCRIPTION, parameters_json_schema=TOOL_SCHEMA)])
        return OpenAIChatModel(MODEL_OPENAI, provider=OpenAIProvider(base_url=base_url + "/v1", api_key=API_KEY))

    def setup(self, base_url: str) -> None:
        from pydantic_ai import ModelRequest, direct

        self.d, self.req = direct, ModelRequest
        self.model = self._model(base_url)

    async def asetup(self, base_url: str) -> None:
        self.setup(base_url)

    def _args(self, text: str, kind: str = "small") -> tuple[Any, Any]:
        return [self.req.user_text_prompt(text)], (self.tools if kind == "tool" else self.plain)

    def call(self, kind: str) -> Any:
        msgs, params = self._args(prompt(kind), kind)
        return self.d.model_request_sync(self.model, msgs, model_request_parameters=params)

    async def acall(self, kind: str) -> Any:
        msgs, params = self._args(prompt(kind), kind)
        return await self.d.model_request(self.model, msgs, model_request_parameters=params)

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp.usage.input_tokens, resp.usage.output_tokens
        part = resp.parts[0]
        if kind == "tool":
            return part.tool_name, part.args_as_dict()
        return part.content

    @staticmethod
    def _piece(ev: Any) -> str:
        kind = ev.event_kind
        if kind == "part_start":
            return getattr(ev.part, "content", "") or ""
        if kind == "part_delta":
            return getattr(ev.delta, "content_delta", "") or ""
        return ""

    def stream(self, text: str) -> str:
        msgs, params = self._args(text)
        with self.d.model_request_stream_sync(self.model, msgs, model_request_parameters=params) as s:
            return "".join(self._piece(ev) for ev in s)

    async def astream(self, text: str) -> str:
        msgs, params = self._args(text)
        out = []
        async with self.d.model_request_stream(self.model, msgs, model_request_parameters=params) as s:
            async for ev in s:
                out.append(self._piece(ev))
        return "".join(out)


class LangChain(Side):
    """LangChain's `ChatOpenAI` (`invoke` / `ainvoke` / `stream` / `astream`), tools bound once."""

    import_stmt = "from langchain_openai import ChatOpenAI"

    def setup(self, base_url: str) -> None:
        from langchain_openai import ChatOpenAI

        self.llm = ChatOpenAI(model=MODEL_OPENAI, base_url=base_url + "/v1", api_key=API_KEY,
                              stream_usage=True)
        self.with_tools = self.llm.bind_tools([OPENAI_TOOL])

    async def asetup(self, base_url: str) -> None:
        self.setup(base_url)

    def _llm(self, kind: str) -> Any:
        return self.with_tools if kind == "tool" else self.llm

    def call(self, kind: str) -> Any:
        return self._llm(kind).invoke(prompt(kind))

    async def acall(self, kind: str) -> Any:
        return await self._llm(kind).ainvoke(prompt(kind))

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp.usage_metadata["input_tokens"]
        if kind == "tool":
            call = resp.tool_calls[0]
            return call["name"], call["args"]
        return resp.content

    def stream(self, text: str) -> str:
        return "".join(c.content for c in self.llm.stream(text))

    async def astream(self, text: str) -> str:
        out = []
        async for c in self.llm.astream(text):
            out.append(c.content)
        return "".join(out)
