"""Importing the working API loads no vendor SDK, no HTTP client and no price table, and leaves the pydantic
models a first call does not need unbuilt (issue 15; which modules, not how long: no timing here)."""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = r"""
import json, sys
from agentos_llm import create_provider, AIModelProviderManager
import agentos_llm.types as T
deferred = ["DoneEvent", "ModelInfo", "TokenCount", "StructuredResponse", "EmbeddingResponse", "RerankResponse",
            "RerankResult", "HealthStatus"]
built = {n: getattr(T, n).__pydantic_complete__ for n in deferred}
path = {n: getattr(T, n).__pydantic_complete__ for n in ("CompletionResponse", "Message")}
print(json.dumps({"modules": sorted(sys.modules), "built": built, "first_call_path": path}))
"""
HEAVY = ["openai", "anthropic", "google.genai", "boto3", "botocore", "cohere", "httpx", "httpx2", "httpcore",
         "aiohttp", "requests", "genai_prices"]


def _child() -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _CHILD], check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_working_api_imports_no_vendor_sdk_http_client_or_price_table() -> None:
    modules = set(_child()["modules"])  # type: ignore[call-overload]
    assert "agentos_llm.registry" in modules and "agentos_llm.manager" in modules
    assert [m for m in HEAVY if m in modules] == []


def test_models_off_the_first_calls_path_are_built_on_first_use() -> None:
    child = _child()
    assert child["built"] == dict.fromkeys(child["built"], False)  # type: ignore[arg-type]
    assert child["first_call_path"] == {"CompletionResponse": True, "Message": True}


def test_a_deferred_model_works_when_first_used() -> None:
    from agentos_llm.types import CompletionResponse, DoneEvent, Message, ModelInfo, TokenCount

    response = CompletionResponse(provider="p", model="m", message=Message(role="assistant", content="x"))
    assert DoneEvent(response=response).model_dump()["response"]["provider"] == "p"
    assert ModelInfo(id="m", provider="p").known is True
    assert TokenCount.model_validate({"input_tokens": 3}).exact is True
