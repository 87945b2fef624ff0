"""The raw vendor SDKs, and their transport floors (the SDK's own low-level post plus `json.loads`).

Every side reads what a user of a chat answer reads: the text (or the tool call's name and arguments) and
the usage; a stream is read to its end, every content delta looked at.
"""

from __future__ import annotations

import json
from typing import Any

from workloads import (
    API_KEY,
    MODEL_ANTHROPIC,
    MODEL_GEMINI,
    MODEL_OPENAI,
    OPENAI_TOOL,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    TOOL_SCHEMA,
    prompt,
)


class Side:
    """One library under test. `call` returns the library's response object (what a user keeps); `read`
    extracts what the checks compare. Async clients are made inside the running loop (`asetup`)."""

    api = "openai"
    import_stmt = ""

    def do_import(self) -> None:
        exec(self.import_stmt, {})  # our own constant statement, timed as a user's import

    def setup(self, base_url: str) -> None:
        raise NotImplementedError

    def call(self, kind: str) -> Any:
        raise NotImplementedError

    def read(self, kind: str, resp: Any) -> Any:
        raise NotImplementedError

    def stream(self, text: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass

    async def asetup(self, base_url: str) -> None:
        raise NotImplementedError

    async def acall(self, kind: str) -> Any:
        raise NotImplementedError

    async def astream(self, text: str) -> str:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------------- openai


class OpenAIRaw(Side):
    """`openai.OpenAI().chat.completions.create`, typed responses."""

    import_stmt = "import openai"

    def setup(self, base_url: str) -> None:
        import openai

        self.client: Any = openai.OpenAI(base_url=base_url + "/v1", api_key=API_KEY)

    async def asetup(self, base_url: str) -> None:
        import openai

        self.aclient: Any = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=API_KEY)

    @staticmethod
    def _kw(kind: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": MODEL_OPENAI, "messages": user(prompt(kind))}
        if kind == "tool":
            kw["tools"] = [OPENAI_TOOL]
        return kw

    def call(self, kind: str) -> Any:
        return self.client.chat.completions.create(**self._kw(kind))

    async def acall(self, kind: str) -> Any:
        return await self.aclient.chat.completions.create(**self._kw(kind))

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp.usage.prompt_tokens, resp.usage.completion_tokens
        msg = resp.choices[0].message
        if kind == "tool":
            fn = msg.tool_calls[0].function
            return fn.name, json.loads(fn.arguments)
        return msg.content

    _skw = {"model": MODEL_OPENAI, "stream": True, "stream_options": {"include_usage": True}}

    def stream(self, text: str) -> str:
        out = []
        for chunk in self.client.chat.completions.create(messages=user(text), **self._skw):
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return "".join(out)

    async def astream(self, text: str) -> str:
        out = []
        async for chunk in await self.aclient.chat.completions.create(messages=user(text), **self._skw):
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return "".join(out)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.close()


def _response_cls() -> Any:
    """The HTTP response class under the SDK (openai 3 and anthropic 2 may use httpx2, older ones httpx)."""
    import importlib

    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name).Response
        except ImportError:
            continue
    raise RuntimeError("no httpx2 / httpx")


def _sse_text(lines: Any, pick: Any) -> str:
    out = []
    for line in lines:
        if line.startswith("data: ") and line != "data: [DONE]":
            piece = pick(json.loads(line[6:]))
            if piece:
                out.append(piece)
    return "".join(out)


async def _asse_text(lines: Any, pick: Any) -> str:
    out = []
    async for line in lines:
        if line.startswith("data: ") and line != "data: [DONE]":
            piece = pick(json.loads(line[6:]))
            if piece:
                out.append(piece)
    return "".join(out)


def _openai_delta(ev: dict[str, Any]) -> Any:
    return ev["choices"][0]["delta"].get("content") if ev.get("choices") else None


class OpenAIFloor(OpenAIRaw):
    """The same SDK client's low-level `post` returning the bare HTTP response, decoded with `json.loads`:
    the I/O every OpenAI-compatible library does underneath (the transport floor)."""

    path = "/chat/completions"

    def setup(self, base_url: str) -> None:
        super().setup(base_url)
        self.rcls = _response_cls()

    async def asetup(self, base_url: str) -> None:
        await super().asetup(base_url)
        self.rcls = _response_cls()

    def call(self, kind: str) -> Any:
        return json.loads(self.client.post(self.path, body=self._kw(kind), cast_to=self.rcls).content)

    async def acall(self, kind: str) -> Any:
        return json.loads((await self.aclient.post(self.path, body=self._kw(kind), cast_to=self.rcls)).content)

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp["usage"]["prompt_tokens"]
        msg = resp["choices"][0]["message"]
        if kind == "tool":
            fn = msg["tool_calls"][0]["function"]
            return fn["name"], json.loads(fn["arguments"])
        return msg["content"]

    def stream(self, text: str) -> str:
        r = self.client.post(self.path, body={**self._skw, "messages": user(text)}, cast_to=self.rcls, stream=True,
                             stream_cls=None)
        try:
            return _sse_text(r.iter_lines(), _openai_delta)
        finally:
            r.close()

    async def astream(self, text: str) -> str:
        r = await self.aclient.post(self.path, body={**self._skw, "messages": user(text)}, cast_to=self.rcls,
                                    stream=True, stream_cls=None)
        try:
            return await _asse_text(r.aiter_lines(), _openai_delta)
        finally:
            await r.aclose()


# ---------------------------------------------------------------------- anthropic

ANTHROPIC_TOOL = {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "input_schema": TOOL_SCHEMA}


class AnthropicRaw(Side):
    """`anthropic.Anthropic().messages.create`, typed responses."""

    api = "anthropic"
    import_stmt = "import anthropic"

    def setup(self, base_url: str) -> None:
        import anthropic

        self.client: Any = anthropic.Anthropic(base_url=base_url, api_key=API_KEY)

    async def asetup(self, base_url: str) -> None:
        import anthropic

        self.aclient: Any = anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY)

    @staticmethod
    def _kw(kind: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": MODEL_ANTHROPIC, "max_tokens": 1024, "messages": user(prompt(kind))}
        if kind == "tool":
            kw["tools"] = [ANTHROPIC_TOOL]
        return kw

    def call(self, kind: str) -> Any:
        return self.client.messages.create(**self._kw(kind))

    async def acall(self, kind: str) -> Any:
        return await self.aclient.messages.create(**self._kw(kind))

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp.usage.input_tokens, resp.usage.output_tokens
        block = resp.content[0]
        if kind == "tool":
            return block.name, block.input
        return block.text

    def stream(self, text: str) -> str:
        out = []
        for ev in self.client.messages.create(model=MODEL_ANTHROPIC, max_tokens=1024, messages=user(text),
                                              stream=True):
            if ev.type == "content_block_delta" and ev.delta.type == "text_delta":
                out.append(ev.delta.text)
        return "".join(out)

    async def astream(self, text: str) -> str:
        out = []
        async for ev in await self.aclient.messages.create(model=MODEL_ANTHROPIC, max_tokens=1024,
                                                           messages=user(text), stream=True):
            if ev.type == "content_block_delta" and ev.delta.type == "text_delta":
                out.append(ev.delta.text)
        return "".join(out)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.close()


def _anthropic_delta(ev: dict[str, Any]) -> Any:
    return ev["delta"].get("text") if ev.get("type") == "content_block_delta" else None


class AnthropicFloor(AnthropicRaw):
    """The anthropic client's low-level `post` and `json.loads`."""

    path = "/v1/messages"

    def setup(self, base_url: str) -> None:
        super().setup(base_url)
        self.rcls = _response_cls()

    async def asetup(self, base_url: str) -> None:
        await super().asetup(base_url)
        self.rcls = _response_cls()

    def call(self, kind: str) -> Any:
        return json.loads(self.client.post(self.path, body=self._kw(kind), cast_to=self.rcls).content)

    async def acall(self, kind: str) -> Any:
        return json.loads((await self.aclient.post(self.path, body=self._kw(kind), cast_to=self.rcls)).content)

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp["usage"]["input_tokens"]
        block = resp["content"][0]
        return (block["name"], block["input"]) if kind == "tool" else block["text"]

    def _body(self, text: str) -> dict[str, Any]:
        return {"model": MODEL_ANTHROPIC, "max_tokens": 1024, "messages": user(text), "stream": True}

    def stream(self, text: str) -> str:
        r = self.client.post(self.path, body=self._body(text), cast_to=self.rcls, stream=True, stream_cls=None)
        try:
            return _sse_text(r.iter_lines(), _anthropic_delta)
        finally:
            r.close()

    async def astream(self, text: str) -> str:
        r = await self.aclient.post(self.path, body=self._body(text), cast_to=self.rcls, stream=True, stream_cls=None)
        try:
            return await _asse_text(r.aiter_lines(), _anthropic_delta)
        finally:
            await r.aclose()


# ---------------------------------------------------------------------- google-genai


class GeminiRaw(Side):
    """`google.genai.Client().models.generate_content`, typed responses."""

    api = "gemini"
    import_stmt = "from google import genai"

    def setup(self, base_url: str) -> None:
        from google import genai
        from google.genai import types

        self.types = types
        self.client: Any = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=base_url))
        self.tool_config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[
            types.FunctionDeclaration(name=TOOL_NAME, description=TOOL_DESCRIPTION,
                                      parameters_json_schema=TOOL_SCHEMA)])],
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))

    async def asetup(self, base_url: str) -> None:
        self.setup(base_url)

    def _kw(self, kind: str) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": MODEL_GEMINI, "contents": prompt(kind)}
        if kind == "tool":
            kw["config"] = self.tool_config
        return kw

    def call(self, kind: str) -> Any:
        return self.client.models.generate_content(**self._kw(kind))

    async def acall(self, kind: str) -> Any:
        return await self.client.aio.models.generate_content(**self._kw(kind))

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp.usage_metadata.prompt_token_count
        if kind == "tool":
            fc = resp.function_calls[0]
            return fc.name, fc.args
        return resp.text

    def stream(self, text: str) -> str:
        return "".join(c.text or "" for c in self.client.models.generate_content_stream(model=MODEL_GEMINI,
                                                                                        contents=text))

    async def astream(self, text: str) -> str:
        out = []
        async for c in await self.client.aio.models.generate_content_stream(model=MODEL_GEMINI, contents=text):
            out.append(c.text or "")
        return "".join(out)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.client.aio.aclose()


class GeminiFloor(GeminiRaw):
    """google-genai's API client sending the REST body and returning the JSON (`request` and its stream
    segments, decoded with `json.loads`): the transport under the typed API."""

    def _body(self, kind: str) -> dict[str, Any]:
        body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt(kind)}]}]}
        if kind == "tool":
            body["tools"] = [{"functionDeclarations": [{"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                                                        "parametersJsonSchema": TOOL_SCHEMA}]}]
        return body

    def call(self, kind: str) -> Any:
        api = self.client._api_client
        return json.loads(api.request("post", f"models/{MODEL_GEMINI}:generateContent", self._body(kind)).body)

    async def acall(self, kind: str) -> Any:
        api = self.client._api_client
        r = await api.async_request("post", f"models/{MODEL_GEMINI}:generateContent", self._body(kind))
        return json.loads(r.body)

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp["usageMetadata"]["promptTokenCount"]
        part = resp["candidates"][0]["content"]["parts"][0]
        if kind == "tool":
            return part["functionCall"]["name"], part["functionCall"]["args"]
        return part["text"]

    def _sbody(self, text: str) -> dict[str, Any]:
        return {"contents": [{"role": "user", "parts": [{"text": text}]}]}

    _spath = f"models/{MODEL_GEMINI}:streamGenerateContent?alt=sse"

    def stream(self, text: str) -> str:
        api = self.client._api_client
        r = api._request(api._build_request("post", self._spath, self._sbody(text)), None, stream=True)
        return "".join(s["candidates"][0]["content"]["parts"][0].get("text", "") for s in r.segments())

    async def astream(self, text: str) -> str:
        api = self.client._api_client
        r = await api._async_request(api._build_request("post", self._spath, self._sbody(text)), None, stream=True)
        out = []
        async for s in r.async_segments():
            out.append(s["candidates"][0]["content"]["parts"][0].get("text", ""))
        return "".join(out)
