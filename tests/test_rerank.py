"""Reranking on the contract: validation, the answer's shape, providers without it, and the manager's routing."""

from __future__ import annotations

import pickle

import pytest

from agentos_llm import AIModelProviderManager, Capability, RerankResponse, create_provider
from agentos_llm.errors import ConfigurationError, InvalidRequestError, UnsupportedCapabilityError
from agentos_llm.testing import FakeProvider

DOCS = ["the cat sat on the mat", "dogs bark at night", "a cat and a dog"]


def test_rerank_ranks_most_relevant_first_and_keeps_the_documents() -> None:
    result = FakeProvider().rerank_sync(None, "cat mat", DOCS)
    assert isinstance(result, RerankResponse)
    assert result.model == "fake-rerank" and result.provider == "fake"
    assert [r.index for r in result.results] == [0, 2, 1]
    assert [r.document for r in result.results] == [DOCS[0], DOCS[2], DOCS[1]]
    scores = [r.relevance_score for r in result.results]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
    assert pickle.loads(pickle.dumps(result)) == result


async def test_async_twin_and_top_n() -> None:
    result = await FakeProvider().rerank("fake-rerank", "dog", DOCS, top_n=1)
    assert [r.index for r in result.results] == [2]


@pytest.mark.parametrize(("query", "documents", "top_n", "says"), [
    ("", DOCS, None, "query"),
    ("q", [], None, "document"),
    ("q", ["ok", 3], None, "document"),
    ("q", DOCS, 0, "top_n"),
    ("q", DOCS, True, "top_n"),
    ("q", DOCS, "2", "top_n"),
])
def test_bad_input_is_refused_before_sending(query: str, documents: list[str], top_n: int | None, says: str) -> None:
    fake = FakeProvider()
    with pytest.raises(InvalidRequestError, match=says):
        fake.rerank_sync(None, query, documents, top_n=top_n)


def test_providers_without_reranking_say_who_has_it() -> None:
    openai = create_provider("openai", api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert Capability.RERANK not in openai.capabilities
    with pytest.raises(UnsupportedCapabilityError, match="Cohere, Voyage AI and Bedrock"):
        openai.rerank_sync("any", "q", DOCS)


async def test_the_manager_routes_rerank() -> None:
    fake = FakeProvider()
    manager = AIModelProviderManager([fake])
    routed = await manager.rerank("fake/fake-rerank", "cat", DOCS, top_n=2)
    assert routed.provider == "fake" and len(routed.results) == 2
    default = manager.rerank_sync(None, "cat", DOCS)
    assert default.model == "fake-rerank"
    with pytest.raises(ConfigurationError, match="reranking"):
        AIModelProviderManager().rerank_sync(None, "q", DOCS)
