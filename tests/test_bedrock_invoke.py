"""The pure Bedrock InvokeModel converters (embeddings, reranking) and the model-listing parser, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from agentos_llm.errors import InvalidRequestError, MalformedResponseError
from agentos_llm.options import EmbedOptions
from agentos_llm.wire.bedrock_invoke import (
    EMBED_FORMATS,
    EMBED_MODELS,
    RERANK_FORMATS,
    InvokeReply,
    build_embed_body,
    build_rerank_body,
    embed_format_for,
    model_family,
    parse_embeddings,
    parse_rerank,
    rerank_format_for,
)
from agentos_llm.wire.bedrock_listing import parse_model_list

P = "bedrock"


def body(model: str, texts: list[str], **options: Any) -> dict[str, Any]:
    return build_embed_body(embed_format_for(model, None, provider=P), texts, EmbedOptions(**options), provider=P)


@pytest.mark.parametrize(("model", "family"), [
    ("amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2"),
    ("us.cohere.embed-v4:0", "cohere.embed-v4"),
    ("global.amazon.nova-2-multimodal-embeddings-v1:0", "amazon.nova-2-multimodal-embeddings-v1"),
    ("amazon.titan-embed-text-v1:2:8k", "amazon.titan-embed-text-v1"),
    ("cohere.embed-english-v3", "cohere.embed-english-v3"),
    ("arn:aws:bedrock:eu-west-1::foundation-model/cohere.embed-multilingual-v3", "cohere.embed-multilingual-v3"),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.cohere.embed-v4:0", "cohere.embed-v4"),
])
def test_model_family_strips_arn_region_prefix_and_version(model: str, family: str) -> None:
    assert model_family(model) == family


def test_every_table_entry_names_a_known_format() -> None:
    assert set(EMBED_MODELS.values()) <= set(EMBED_FORMATS)
    assert {f.name for f in EMBED_FORMATS.values()} == set(EMBED_FORMATS)


def test_titan_bodies() -> None:
    assert body("amazon.titan-embed-text-v2:0", ["hi"]) == {"inputText": "hi", "normalize": True}
    assert body("amazon.titan-embed-text-v2:0", ["hi"], dimensions=512, input_type="query") == {
        "inputText": "hi", "normalize": True, "dimensions": 512}
    assert body("amazon.titan-embed-text-v1", ["hi"]) == {"inputText": "hi"}
    assert body("amazon.titan-embed-image-v1", ["hi"], dimensions=384) == {
        "inputText": "hi", "embeddingConfig": {"outputEmbeddingLength": 384}}


@pytest.mark.parametrize(("input_type", "cohere", "nova"), [
    (None, "search_document", "GENERIC_INDEX"),
    ("document", "search_document", "GENERIC_INDEX"),
    ("query", "search_query", "GENERIC_RETRIEVAL"),
    ("classification", "classification", "CLASSIFICATION"),
    ("clustering", "clustering", "CLUSTERING"),
    ("similarity", "clustering", "GENERIC_INDEX"),
])
def test_input_types_per_family(input_type: str | None, cohere: str, nova: str) -> None:
    assert body("cohere.embed-english-v3", ["a", "b"], input_type=input_type) == {
        "texts": ["a", "b"], "input_type": cohere, "embedding_types": ["float"], "truncate": "NONE"}
    assert body("amazon.nova-2-multimodal-embeddings-v1:0", ["a"], input_type=input_type) == {
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {"embeddingPurpose": nova, "text": {"truncationMode": "NONE", "value": "a"}}}


def test_sizes_only_where_the_model_offers_them() -> None:
    assert body("cohere.embed-v4:0", ["a"], dimensions=256)["output_dimension"] == 256
    nova = body("us.amazon.nova-2-multimodal-embeddings-v1:0", ["a"], dimensions=1024)
    assert nova["singleEmbeddingParams"]["embeddingDimension"] == 1024
    with pytest.raises(InvalidRequestError, match="no choice of size"):
        body("cohere.embed-english-v3", ["a"], dimensions=1024)
    with pytest.raises(InvalidRequestError, match="one of 256, 512, 1024"):
        body("amazon.titan-embed-text-v2:0", ["a"], dimensions=768)


def test_batch_limits_and_unknown_models() -> None:
    assert EMBED_FORMATS["cohere-v4"].batch == 96 and EMBED_FORMATS["titan-v2"].batch == 1
    with pytest.raises(InvalidRequestError, match="at most 1"):
        body("amazon.titan-embed-text-v2:0", ["a", "b"])
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1y2"
    with pytest.raises(InvalidRequestError, match=r"embed_format=.*titan-v2"):
        embed_format_for(arn, None, provider=P)
    assert embed_format_for(arn, "nova", provider=P).name == "nova"
    assert embed_format_for("cohere.embed-v4:0", "titan-v1", provider=P).name == "cohere-v4"  # the table wins


def test_parse_titan_nova_and_both_cohere_shapes() -> None:
    titan = parse_embeddings(InvokeReply({"embedding": [1, 2.5], "inputTextTokenCount": 4}), model="m", count=1,
                             provider=P)
    assert titan.vectors == [[1.0, 2.5]] and titan.usage.input_tokens == 4 and titan.provider == P
    nova = parse_embeddings(InvokeReply({"embeddings": [{"embeddingType": "TEXT", "embedding": [0.5]}]}, 6),
                            model="m", count=1, provider=P)
    assert nova.vectors == [[0.5]] and nova.usage.input_tokens == 6
    listed = parse_embeddings(InvokeReply({"embeddings": [[1], [2]], "texts": ["a", "b"]}), model="m", count=2,
                              provider=P)
    by_type = parse_embeddings(InvokeReply({"embeddings": {"float": [[1], [2]]}, "response_type":
                                            "embeddings_by_type"}), model="m", count=2, provider=P)
    assert listed.vectors == by_type.vectors == [[1.0], [2.0]] and listed.usage.input_tokens == 0


@pytest.mark.parametrize("payload", [
    {"embeddings": [[1]]},  # one vector for two texts
    {"embeddings": {"int8": [[1], [2]]}},
    {"embeddings": [["x"], [2]]},
    {"message": "nothing"},
    [1, 2],
])
def test_malformed_embeddings(payload: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_embeddings(InvokeReply(payload), model="m", count=2, provider=P)


def test_rerank_bodies_and_answers() -> None:
    cohere = rerank_format_for("cohere.rerank-v3-5:0", None, provider=P)
    amazon = rerank_format_for("amazon.rerank-v1:0", None, provider=P)
    docs = ["a", "b", "c"]
    assert build_rerank_body(cohere, "q", docs, None) == {"query": "q", "documents": docs, "top_n": 3,
                                                           "api_version": 2}
    assert build_rerank_body(amazon, "q", docs, 10) == {"query": "q", "documents": docs, "top_n": 3}
    with pytest.raises(InvalidRequestError, match="rerank_format="):
        rerank_format_for("cohere.command-r-v1:0", None, provider=P)
    assert rerank_format_for("arn:aws:bedrock:x:1:application-inference-profile/z", "amazon",
                             provider=P) is RERANK_FORMATS["amazon"]
    answer = {"id": "r1", "results": [{"index": 0, "relevance_score": 0.2}, {"index": 2, "relevance_score": 0.9}],
              "meta": {"billed_units": {"search_units": 1}}}
    r = parse_rerank(InvokeReply(answer), model="cohere.rerank-v3-5:0", documents=docs, provider=P)
    assert [(x.index, x.document) for x in r.results] == [(2, "c"), (0, "a")] and r.search_units == 1
    with pytest.raises(MalformedResponseError):
        parse_rerank(InvokeReply({"results": [{"index": 7, "relevance_score": 1}]}), model="m", documents=docs,
                     provider=P)


def test_model_listing_maps_profiles_to_their_models() -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/"
    payload = {
        "modelSummaries": [
            {"modelId": "amazon.nova-pro-v1:0", "modelArn": arn + "amazon.nova-pro-v1:0", "modelName": "Nova Pro",
             "outputModalities": ["TEXT"], "responseStreamingSupported": True},
            {"modelId": "cohere.embed-v4:0", "modelArn": arn + "cohere.embed-v4:0", "outputModalities": ["EMBEDDING"]},
            {"modelId": "amazon.rerank-v1:0", "modelArn": arn + "amazon.rerank-v1:0", "outputModalities": ["TEXT"]},
        ],
        "inferenceProfileSummaries": [
            {"inferenceProfileId": "eu.amazon.nova-pro-v1:0", "inferenceProfileName": "EU Nova Pro",
             "status": "ACTIVE", "type": "SYSTEM_DEFINED", "models": [{"modelArn": arn + "amazon.nova-pro-v1:0"}]},
            {"inferenceProfileId": "abc123", "inferenceProfileArn": "arn:aws:bedrock:us-east-1:1:application-"
             "inference-profile/abc123", "status": "ACTIVE", "type": "APPLICATION",
             "models": [{"modelArn": arn + "cohere.embed-v4:0"}]},
        ],
    }
    rows = {m.id: m for m in parse_model_list(payload, provider=P)}
    assert rows["amazon.nova-pro-v1:0"].capabilities == {"generate", "stream"}
    assert rows["eu.amazon.nova-pro-v1:0"].capabilities == {"generate", "stream"}
    assert rows["eu.amazon.nova-pro-v1:0"].display_name == "EU Nova Pro"
    assert rows["arn:aws:bedrock:us-east-1:1:application-inference-profile/abc123"].capabilities == {"embeddings"}
    assert rows["amazon.rerank-v1:0"].capabilities == {"rerank"}
    with pytest.raises(MalformedResponseError):
        parse_model_list({"models": []}, provider=P)
