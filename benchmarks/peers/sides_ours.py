"""agentos-llm over each API the raw sides speak: `create_provider(...)`, `generate_sync` / `generate`,
`stream_sync` / `stream`, the response's text (or tool call) and usage read, every text delta looked at."""

from __future__ import annotations

from typing import Any

from sides_raw import Side, user
from workloads import (
    API_KEY,
    MODEL_ANTHROPIC,
    MODEL_GEMINI,
    MODEL_OPENAI,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    TOOL_SCHEMA,
    prompt,
)


class OursOpenAI(Side):
    """agentos-llm over OpenAI chat completions."""

    import_stmt = "from agentos_llm import create_provider, ToolDefinition"
    host = "openai"
    model = MODEL_OPENAI

    def _url(self, base_url: str) -> str:
        return base_url + "/v1"

    def _make(self, base_url: str) -> Any:
        from agentos_llm import ToolDefinition, create_provider

        self.tools = [ToolDefinition(name=TOOL_NAME, description=TOOL_DESCRIPTION, parameters=TOOL_SCHEMA)]
        return create_provider(self.host, api_key=API_KEY, base_url=self._url(base_url))

    def setup(self, base_url: str) -> None:
        self.p = self._make(base_url)

    async def asetup(self, base_url: str) -> None:
        self.ap = self._make(base_url)

    def _kw(self, kind: str) -> dict[str, Any]:
        return {"tools": self.tools} if kind == "tool" else {}

    def call(self, kind: str) -> Any:
        return self.p.generate_sync(self.model, user(prompt(kind)), **self._kw(kind))

    async def acall(self, kind: str) -> Any:
        return await self.ap.generate(self.model, user(prompt(kind)), **self._kw(kind))

    def read(self, kind: str, resp: Any) -> Any:
        _ = resp.usage.input_tokens, resp.usage.output_tokens
        if kind == "tool":
            call = resp.tool_calls[0]
            return call.name, call.arguments
        return resp.text

    def stream(self, text: str) -> str:
        out = []
        for ev in self.p.stream_sync(self.model, user(text)):
            if ev.type == "text_delta":
                out.append(ev.delta)
        return "".join(out)

    async def astream(self, text: str) -> str:
        out = []
        async with self.ap.stream(self.model, user(text)) as events:
            async for ev in events:
                if ev.type == "text_delta":
                    out.append(ev.delta)
        return "".join(out)

    def close(self) -> None:
        self.p.close()

    async def aclose(self) -> None:
        await self.ap.aclose()


class OursAnthropic(OursOpenAI):
    """agentos-llm over Anthropic messages."""

    api = "anthropic"
    host = "anthropic"
    model = MODEL_ANTHROPIC

    def _url(self, base_url: str) -> str:
        return base_url


class OursGemini(OursOpenAI):
    """agentos-llm over Gemini generateContent."""

    api = "gemini"
    host = "gemini"
    model = MODEL_GEMINI

    def _url(self, base_url: str) -> str:
        return base_url
