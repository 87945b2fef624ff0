"""The Voyage AI provider (plain httpx), replayed from cassettes in ``cassettes/test_cassettes_voyage/``.

Record (against the emulator's Voyage dialect)::

    pytest tests/test_cassettes_voyage.py --record-mode=once

Replay (CI)::

    AGENTOS_LLM_CASSETTE_NO_EMULATOR=1 pytest tests/test_cassettes_voyage.py --record-mode=none --block-network

Re-record against the real API: ``AGENTOS_LLM_RECORD_LIVE=1 VOYAGE_API_KEY=... pytest
tests/test_cassettes_voyage.py --record-mode=rewrite -k "not error"`` (see ``docs/cassettes.md``). The
emulator serves Voyage under ``/voyage/v1``; the recorded paths are Voyage's own (``/v1/embeddings``), so a
cassette recorded either way replays against either base URL.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassette_support import (
    CASSETTE_DIR,
    VOYAGE,
    VOYAGE_TEST_API_KEY,
    CassetteTarget,
    cassette_lines,
    find_key_like,
    open_target,
    skip_live,
)
from cassette_support import vcr_config as cassette_vcr_config
from vcr import VCR
from vcr.request import Request as VcrRequest

from agentos_llm.errors import AuthenticationError, RateLimitError
from agentos_llm.testing.emulator import Fault

MODULE = Path(__file__).stem
EMBED = "voyage-3.5"
RERANK = "rerank-2.5"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR / MODULE)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_vcr_config(MODULE, path_prefix="/voyage")


@pytest.fixture
def target(vcr: Any) -> Iterator[CassetteTarget]:
    yield from open_target(vcr, VOYAGE)


def unit_length(vector: list[float]) -> bool:
    return math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-3)


# ---------------------------------------------------------------------- embeddings


@pytest.mark.vcr
def test_embed_queries_with_dimensions_sync(target: CassetteTarget) -> None:
    texts = ["when is the launch", "who leads the project"]
    result = target.provider().embed_sync(EMBED, texts, input_type="query", dimensions=256)
    assert target.request_path(0) == "/v1/embeddings"
    assert target.request_json(0) == {"input": texts, "model": EMBED, "input_type": "query",
                                      "output_dimension": 256, "output_dtype": "float", "truncation": True}
    wire = target.response_json(0)
    assert result.vectors == [d["embedding"] for d in sorted(wire["data"], key=lambda d: d["index"])]
    assert len(result.vectors) == 2 and all(len(v) == 256 and unit_length(v) for v in result.vectors)
    assert result.vectors[0] != result.vectors[1]
    assert result.usage.input_tokens == wire["usage"]["total_tokens"] > 0
    assert result.usage.cost_usd is not None and result.usage.cost_usd > 0  # priced in the catalog
    assert (result.model, result.provider) == (wire["model"], "voyage")
    if target.emulator is not None and target.emulator.requests:  # recording: the key was on the wire
        assert target.emulator.requests[0].headers["authorization"] == f"Bearer {VOYAGE_TEST_API_KEY}"


@pytest.mark.vcr
async def test_embed_documents_async(target: CassetteTarget) -> None:
    texts = ["The launch is on Tuesday.", "Ada leads the project."]
    async with target.provider() as voyage:
        result = await voyage.embed(EMBED, texts, input_type="document")
    sent, wire = target.request_json(0), target.response_json(0)
    assert sent["input_type"] == "document" and "output_dimension" not in sent
    assert result.vectors == [d["embedding"] for d in sorted(wire["data"], key=lambda d: d["index"])]
    dims = len(result.vectors[0])
    assert dims > 256 and all(len(v) == dims and unit_length(v) for v in result.vectors)  # the model's default size
    assert result.usage.input_tokens == wire["usage"]["total_tokens"] > 0


# ---------------------------------------------------------------------- rerank


@pytest.mark.vcr
def test_rerank_sync(target: CassetteTarget) -> None:
    docs = ["bananas are yellow", "the launch is on tuesday", "launch day party"]
    result = target.provider().rerank_sync(RERANK, "when is the launch", docs, top_n=2)
    assert target.request_path(0) == "/v1/rerank"
    assert target.request_json(0) == {"query": "when is the launch", "documents": docs, "model": RERANK, "top_k": 2,
                                      "truncation": True, "return_documents": False}
    wire = target.response_json(0)
    assert [(r.index, r.relevance_score) for r in result.results] == [(w["index"], w["relevance_score"])
                                                                      for w in wire["data"]]
    assert len(result.results) == 2 and result.results[0].document == docs[1]
    assert result.usage.input_tokens == wire["usage"]["total_tokens"] > 0
    assert (result.model, result.provider) == (wire["model"], "voyage")


@pytest.mark.vcr
async def test_rerank_async(target: CassetteTarget) -> None:
    docs = ["Paris is the capital of France", "Berlin is in Germany"]
    async with target.provider() as voyage:
        result = await voyage.rerank(RERANK, "capital of France", docs)
    assert "top_k" not in target.request_json(0)
    assert [r.index for r in result.results] == [w["index"] for w in target.response_json(0)["data"]]
    assert result.results[0].index == 0


# ---------------------------------------------------------------------- errors


@pytest.mark.vcr
def test_error_rate_limit_sync(target: CassetteTarget) -> None:
    skip_live(target)
    target.script(Fault(429))
    with pytest.raises(RateLimitError) as caught:
        target.provider().embed_sync(EMBED, ["hello"], input_type="query")
    assert target._interaction(0)[1]["status"]["code"] == 429
    assert caught.value.status_code == 429
    assert target.response_json(0)["detail"] in str(caught.value)


@pytest.mark.vcr
async def test_error_invalid_key_async(target: CassetteTarget) -> None:
    skip_live(target)
    target.script(Fault(401))
    async with target.provider() as voyage:
        with pytest.raises(AuthenticationError) as caught:
            await voyage.rerank(RERANK, "q", ["a", "b"])
    assert caught.value.status_code == 401
    assert target.response_json(0)["detail"] in str(caught.value)


# ---------------------------------------------------------------------- paths and secrets


def test_emulator_prefix_is_taken_off_recorded_paths() -> None:
    """Matching sees Voyage's own path whether the emulator (``/voyage/v1``) or the API (``/v1``) answered."""
    hook = VCR().get_merged_config(**cassette_vcr_config(MODULE, path_prefix="/voyage"))["before_record_request"]
    emulated = hook(VcrRequest("POST", "http://127.0.0.1:5000/voyage/v1/embeddings?x=1", b"{}",
                               {"Authorization": f"Bearer {VOYAGE_TEST_API_KEY}"}))
    live = hook(VcrRequest("POST", "https://api.voyageai.com/v1/embeddings?x=1", b"{}", {}))
    assert emulated.path == live.path == "/v1/embeddings" and emulated.query == [("x", "1")]
    assert dict(emulated.headers) == {}  # and the key is gone


def test_no_keys_in_these_cassettes() -> None:
    files = sorted((CASSETTE_DIR / MODULE).glob("*.yaml"))
    assert len(files) >= 6, "the Voyage cassettes are missing"
    leaks = [f"{where}: {m[:12]}..." for path in files for where, line in cassette_lines(path)
             for m in find_key_like(line)]
    leaks += [path.name for path in files if "authorization" in path.read_text(encoding="utf-8").lower()]
    assert not leaks, "credentials in the Voyage cassettes:\n" + "\n".join(leaks)
