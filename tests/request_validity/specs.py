"""The vendor schemas, loaded and converted once per test session."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from schema_check import SCHEMAS, ClosedOpenAPI, DiscoverySchema, ProtoSchema, load_json

GEMINI_PACKAGE = "google.ai.generativelanguage.v1beta"
VERTEX_PREFIX = "GoogleCloudAiplatformV1beta1"
THINKING_CONFIG = f"{GEMINI_PACKAGE}.ThinkingConfig"


@cache
def openai() -> ClosedOpenAPI:
    """OpenAI's OpenAPI request schemas."""
    return ClosedOpenAPI(load_json("openai/openapi.requests.json"))


@cache
def vertex() -> DiscoverySchema:
    """Vertex AI's aiplatform v1beta1 discovery document (request schemas)."""
    return DiscoverySchema(load_json("vertex/aiplatform.v1beta1.requests.json"))


def thinking_levels() -> frozenset[str]:
    """`thinkingLevel` values the live API takes, from the newer Vertex AI document (see `gemini`)."""
    spec = vertex().schemas[f"{VERTEX_PREFIX}GenerationConfigThinkingConfig"]["properties"]["thinkingLevel"]
    return frozenset(v for v in spec["enum"] if v != "THINKING_LEVEL_UNSPECIFIED")


@cache
def gemini() -> ProtoSchema:
    """The Gemini API's generativelanguage v1beta protos.

    The published protos lag the live API: `ThinkingConfig.thinkingLevel` (Gemini 3) is not in them yet.
    It is checked against the values Vertex AI's newer document gives, then set aside; a test fails
    once the protos catch up, so the allowance goes away.
    """
    return ProtoSchema(SCHEMAS / "gemini", "google/ai/generativelanguage/v1beta/generative_service.proto",
                       lagging={(THINKING_CONFIG, "thinkingLevel"): thinking_levels()})


def assert_valid(problems: list[str], body: Any) -> None:
    """Fails with every problem and the body."""
    assert not problems, "\n".join(problems) + "\n\nbody: " + json.dumps(body, default=str)[:4000]
