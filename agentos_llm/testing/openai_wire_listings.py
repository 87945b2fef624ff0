"""The OpenAI dialect's embeddings and model listings: OpenAI's, OpenRouter's priced listing and Ollama's native
``/api/tags`` / ``/api/show``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from agentos_llm.testing.emulator import (
    Fault,
    Reply,
    WireRequest,
    WireResponse,
    word_count,
)
from agentos_llm.testing.openai_wire_chat import OPENROUTER_PRICING, _body
from agentos_llm.testing.openai_wire_faults import error_body, fault_response, rate_limit_headers

DEFAULT_EMBEDDING_DIMS = 8
MODEL_CREATED = 1_700_000_000


def embedding_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit-length vector for ``text``, derived from sha256 of the text."""
    values: list[float] = []
    seed = text.encode()
    block = 0
    while len(values) < dims:
        digest = hashlib.sha256(seed if block == 0 else seed + block.to_bytes(4, "little")).digest()
        values.extend(u / 2147483647.5 - 1.0 for u in struct.unpack("<8I", digest))
        block += 1
    del values[dims:]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def render_embeddings(texts: list[str], *, model: str, dims: int, encoding_format: str) -> dict[str, Any]:
    """A ``list`` of embeddings; ``encoding_format="base64"`` packs little-endian float32."""
    data = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, dims)
        embedding: list[float] | str = vector
        if encoding_format == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(max(1, word_count(text)) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "emulator"}


def _embedding_inputs(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):  # one token array
            return [" ".join(str(v) for v in value)]
        texts: list[str] = []
        for v in value:
            if isinstance(v, str):
                texts.append(v)
            elif isinstance(v, list) and all(isinstance(t, int) for t in v):
                texts.append(" ".join(str(t) for t in v))
            else:
                return None
        return texts
    return None


def embeddings(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../embeddings``: deterministic vectors; a popped ``Reply`` only adds its delay."""
    if isinstance(item, Fault):
        return fault_response(item, stream=False)
    body = _body(request)
    texts = _embedding_inputs(body.get("input"))
    if texts is None:
        return WireResponse.json(
            error_body(400, "invalid_input", "'input' must be a non-empty string or list of strings"), 400
        )
    dims = body.get("dimensions")
    return WireResponse.json(
        render_embeddings(
            texts,
            model=str(body.get("model") or "unknown"),
            dims=dims if isinstance(dims, int) and dims > 0 else DEFAULT_EMBEDDING_DIMS,
            encoding_format=str(body.get("encoding_format") or "float"),
        ),
        headers=rate_limit_headers(request, sum(word_count(t) for t in texts)),
    )


def list_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET .../models``: the emulator's ``models``."""
    return WireResponse.json({"object": "list", "data": [_model_object(m) for m in request.emulator.models]})


def retrieve_model(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET .../models/{id}``: one model or a 404."""
    model_id = request.params.get("model_id", "")
    if model_id in request.emulator.models:
        return WireResponse.json(_model_object(model_id))
    message = f"The model '{model_id}' does not exist or you do not have access to it."
    return WireResponse.json(error_body(404, "model_not_found", message), 404)


def openrouter_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /api/v1/models``: OpenRouter's listing, with names, context lengths, prices and parameters."""
    data = []
    for model_id in request.emulator.models:
        embedding = "embed" in model_id
        data.append({
            "id": model_id,
            "canonical_slug": model_id,
            "name": f"Emulated: {model_id}",
            "created": MODEL_CREATED,
            "context_length": 8192 if embedding else 128000,
            "architecture": {
                "modality": "text->text" if embedding else "text+image->text",
                "input_modalities": ["text"] if embedding else ["text", "image"],
                "output_modalities": ["text"],
            },
            "pricing": {**OPENROUTER_PRICING, "request": "0", "image": "0"},
            "top_provider": {"context_length": 128000, "max_completion_tokens": 16384, "is_moderated": False},
            "supported_parameters": [] if embedding else [
                "max_tokens", "temperature", "tools", "tool_choice", "response_format", "structured_outputs"],
        })
    return WireResponse.json({"data": data})


def _ollama_name(model_id: str) -> str:
    return model_id if ":" in model_id else f"{model_id}:latest"


def ollama_tags(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /api/tags``: Ollama's local models (the emulator's ``models``, tagged ``:latest``)."""
    models = []
    for model_id in request.emulator.models:
        name = _ollama_name(model_id)
        family = "nomic-bert" if "embed" in model_id else "llama"
        digest = hashlib.sha256(name.encode()).hexdigest()
        models.append({
            "name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z", "size": 2019393189,
            "digest": digest,
            "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                        "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        })
    return WireResponse.json({"models": models})


def ollama_show(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /api/show``: one model's details: ``model_info`` (with ``<arch>.context_length``) and ``capabilities``."""
    name = str(_body(request).get("model") or _body(request).get("name") or "")
    known = {_ollama_name(m): m for m in request.emulator.models}
    model_id = known.get(_ollama_name(name)) if name else None
    if model_id is None:
        return WireResponse.json({"error": f"model '{name}' not found"}, 404)
    if "embed" in model_id:
        arch, context, capabilities = "nomic-bert", 2048, ["embedding"]
    else:
        arch, context, capabilities = "llama", 131072, ["completion", "tools"]
        if any(word in model_id for word in ("vision", "llava")):
            capabilities.append("vision")
        if any(word in model_id for word in ("r1", "qwen3", "think")):
            capabilities.append("thinking")
    return WireResponse.json({
        "license": "", "modelfile": f"FROM {name}", "parameters": "", "template": "{{ .Prompt }}",
        "details": {"parent_model": "", "format": "gguf", "family": arch, "families": [arch],
                    "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        "model_info": {"general.architecture": arch, "general.parameter_count": 3212749888,
                       f"{arch}.context_length": context, f"{arch}.embedding_length": 3072},
        "capabilities": capabilities,
        "modified_at": "2025-01-01T00:00:00Z",
    })
