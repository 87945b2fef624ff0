"""AWS Bedrock's model listing (control plane `ListFoundationModels` + `ListInferenceProfiles`) as
`ModelInfo` rows (pure).

A foundation model is listed under its id; each inference profile (cross-region `us.`/`eu.`/`global.`
ids, application profiles by ARN) is listed too, with the capabilities of the model it routes to, so
`supports_model` and the catalog (which strips the region prefix) know it. Capabilities come from the
listing's modalities: TEXT output is "generate" (plus "stream" when streaming is supported), EMBEDDING
output "embeddings", and the rerank families "rerank"; the request capabilities (tools, vision ...)
stay the catalog's and the model profile's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MalformedResponseError
from ..types import ModelInfo
from .bedrock_invoke import RERANK_MODELS, model_family

__all__ = ["parse_model_list"]


def _capabilities(summary: Mapping[str, Any]) -> frozenset[str]:
    outputs = set(summary.get("outputModalities") or ())
    caps: set[str] = set()
    if model_family(str(summary.get("modelId", ""))) in RERANK_MODELS:
        caps.add("rerank")
    elif "TEXT" in outputs:
        caps.add("generate")
        if summary.get("responseStreamingSupported"):
            caps.add("stream")
    if "EMBEDDING" in outputs:
        caps.add("embeddings")
    return frozenset(caps)


def _model_id_of_arn(arn: Any) -> str | None:
    """`...:foundation-model/anthropic.claude-x-v1:0` gives `anthropic.claude-x-v1:0`."""
    if isinstance(arn, str) and "foundation-model/" in arn:
        return arn.split("foundation-model/", 1)[1]
    return None


def parse_model_list(payload: Any, *, provider: str) -> list[ModelInfo]:
    """`{"modelSummaries": [...], "inferenceProfileSummaries": [...]}` (both listings merged) as ModelInfo rows."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("modelSummaries"), list):
        raise MalformedResponseError("the foundation-model listing has no modelSummaries", provider=provider)
    out: list[ModelInfo] = []
    caps_by_model: dict[str, frozenset[str]] = {}
    for item in payload["modelSummaries"]:
        if not isinstance(item, Mapping) or not isinstance(item.get("modelId"), str):
            continue
        caps = caps_by_model[item["modelId"]] = _capabilities(item)
        name = item.get("modelName")
        out.append(ModelInfo(id=item["modelId"], provider=provider, capabilities=caps,
                             display_name=name if isinstance(name, str) else None))
    for profile in payload.get("inferenceProfileSummaries") or ():
        if not isinstance(profile, Mapping) or profile.get("status", "ACTIVE") != "ACTIVE":
            continue
        # An application profile's short id names nothing; it is called by its ARN.
        pid = profile.get("inferenceProfileId") if profile.get("type") != "APPLICATION" else None
        pid = pid or profile.get("inferenceProfileArn")
        if not isinstance(pid, str):
            continue
        targets = [_model_id_of_arn(m.get("modelArn")) for m in profile.get("models") or () if isinstance(m, Mapping)]
        caps = next((caps_by_model[t] for t in targets if t in caps_by_model), frozenset())
        name = profile.get("inferenceProfileName")
        out.append(ModelInfo(id=pid, provider=provider, capabilities=caps,
                             display_name=name if isinstance(name, str) else None))
    return out
