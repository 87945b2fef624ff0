"""Voyage AI: the pure converters, the provider against the loopback emulator, the manager's rerank routing,
and a replay of the recorded `voyage-embed` wire samples."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnsupportedCapabilityError,
)
from agentos_llm.provider import Capability, IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.testing.voyage_wire import relevance, voyage_vector
from agentos_llm.wire import voyage as wire

KEY = "voyage-test-key-for-the-emulator-0123"
ROOT = Path(__file__).resolve().parents[1]
SAMPLES_FILE = ROOT / "tests" / "data" / "wire-samples" / "samples.jsonl"
WIRE_CHECK = ROOT.parent / "shared" / "tools" / "wire_check.py"
DOCS = ["the cat sat on the mat", "dogs bark at night", "a cat and a dog play", "nothing relevant here"]


# --------------------------------------------------------------------------------------------
# converters (pure)
# --------------------------------------------------------------------------------------------


def test_embed_request_shape_and_input_types() -> None:
    body = wire.build_embed_request("voyage-3.5", ["a", "b"], dimensions=None, input_type="query", truncation=True)
    assert body == {"input": ["a", "b"], "model": "voyage-3.5", "input_type": "query", "output_dtype": "float",
                    "truncation": True}
    mapped = {t: wire.build_embed_request("voyage-3.5", ["a"], dimensions=None, input_type=t,
                                          truncation=False)["input_type"]
              for t in (None, "query", "document", "classification", "clustering", "similarity")}
    assert mapped == {None: None, "query": "query", "document": "document", "classification": None,
                      "clustering": None, "similarity": None}


@pytest.mark.parametrize("model", ["voyage-3.5", "voyage-3.5-lite", "voyage-3-large", "voyage-code-3", "voyage-4",
                                   "voyage-4-lite", "voyage-4-large"])
def test_dimensions_on_flexible_models(model: str) -> None:
    for dims in (256, 512, 1024, 2048):
        body = wire.build_embed_request(model, ["a"], dimensions=dims, input_type=None, truncation=True)
        assert body["output_dimension"] == dims
    with pytest.raises(InvalidRequestError, match="256, 512, 1024, 2048"):
        wire.build_embed_request(model, ["a"], dimensions=300, input_type=None, truncation=True)


@pytest.mark.parametrize("model", ["voyage-law-2", "voyage-finance-2", "voyage-multilingual-2", "voyage-2"])
def test_dimensions_refused_by_fixed_size_models(model: str) -> None:
    with pytest.raises(InvalidRequestError, match="fixed size"):
        wire.build_embed_request(model, ["a"], dimensions=512, input_type=None, truncation=True)


def test_dimensions_on_an_unknown_model_go_to_the_server() -> None:
    body = wire.build_embed_request("voyage-9", ["a"], dimensions=512, input_type=None, truncation=True)
    assert body["output_dimension"] == 512


def test_token_budgets_follow_the_documented_table() -> None:
    budgets = {m: wire.embed_model(m).batch_tokens for m in
               ("voyage-3.5-lite", "voyage-4-lite", "voyage-3.5", "voyage-4", "voyage-3-large", "voyage-code-3",
                "voyage-4-large", "voyage-law-2", "some-future-model")}
    assert budgets == {"voyage-3.5-lite": 1_000_000, "voyage-4-lite": 1_000_000, "voyage-3.5": 320_000,
                       "voyage-4": 320_000, "voyage-3-large": 120_000, "voyage-code-3": 120_000,
                       "voyage-4-large": 120_000, "voyage-law-2": 120_000, "some-future-model": 120_000}


def test_token_estimate_leans_high() -> None:
    assert wire.estimate_tokens("") == 1
    assert wire.estimate_tokens("a" * 300) == 101  # 3 characters a token, plus one
    assert wire.estimate_tokens("猫" * 10) == 11  # one a character outside ASCII
    assert wire.estimate_tokens("word " * 100) >= 100  # never under a token a word for plain words


def test_batches_split_by_count() -> None:
    texts = [f"t{i}" for i in range(2500)]
    batches = wire.embed_batches(texts, "voyage-3.5")
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [t for b in batches for t in b] == texts


@pytest.mark.parametrize(("model", "expected"), [("voyage-3-large", 3), ("voyage-3.5", 1), ("voyage-3.5-lite", 1)])
def test_batches_split_by_tokens(model: str, expected: int) -> None:
    texts = [f"{i} " + "x" * 29_997 for i in range(25)]  # about 10,000 estimated tokens each
    batches = wire.embed_batches(texts, model)
    assert len(batches) == expected
    assert [t for b in batches for t in b] == texts
    budget = wire.embed_model(model).batch_tokens
    assert all(sum(wire.estimate_tokens(t) for t in b) <= budget for b in batches)


def test_a_text_over_the_budget_travels_alone() -> None:
    huge = "x" * 400_000
    assert wire.embed_batches(["a", huge, "b"], "voyage-3-large") == [["a"], [huge], ["b"]]


def test_parse_embeddings_orders_by_index_and_decodes_base64() -> None:
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
    payload = {"data": [{"embedding": packed, "index": 1}, {"embedding": [1, 2, 3], "index": 0}],
               "model": "voyage-3.5", "usage": {"total_tokens": 7}}
    r = wire.parse_embeddings(payload, provider="voyage", model="asked", count=2)
    assert r.vectors == [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
    assert r.model == "voyage-3.5" and r.usage.input_tokens == 7 and r.usage.total_tokens == 7
    with pytest.raises(MalformedResponseError, match="2 vectors for 3 inputs"):
        wire.parse_embeddings(payload, provider="voyage", model="m", count=3)
    with pytest.raises(MalformedResponseError, match="no data list"):
        wire.parse_embeddings({"detail": "x"}, provider="voyage", model="m", count=1)


def test_rerank_request_shape() -> None:
    body = wire.build_rerank_request("rerank-2.5", "q", ["a", "b"], None, truncation=True)
    assert body == {"query": "q", "documents": ["a", "b"], "model": "rerank-2.5", "truncation": True,
                    "return_documents": False}
    assert wire.build_rerank_request("rerank-2.5", "q", ["a"], 3, truncation=False)["top_k"] == 3
    with pytest.raises(InvalidRequestError, match="at most 1000 documents"):
        wire.build_rerank_request("rerank-2.5", "q", ["d"] * 1001, None, truncation=True)


def test_parse_rerank_sorts_by_score_and_names_the_documents() -> None:
    payload = {"data": [{"index": 0, "relevance_score": 0.25}, {"index": 2, "relevance_score": 0.75},
                        {"index": 1, "relevance_score": 0.5}], "model": "rerank-2.5", "usage": {"total_tokens": 30}}
    r = wire.parse_rerank(payload, provider="voyage", model="x", documents=["d0", "d1", "d2"])
    assert [(x.index, x.relevance_score, x.document) for x in r.results] == [
        (2, 0.75, "d2"), (1, 0.5, "d1"), (0, 0.25, "d0")]
    assert r.model == "rerank-2.5" and r.usage.input_tokens == 30
    with pytest.raises(MalformedResponseError, match="index 5"):
        wire.parse_rerank({"data": [{"index": 5, "relevance_score": 1.0}]}, provider="v", model="m", documents=["a"])


# --------------------------------------------------------------------------------------------
# the provider against the emulator
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> WireEmulator:
    server.reset()
    return server


def make(emu: WireEmulator, **kw: Any) -> IProvider:
    kw.setdefault("max_retries", 0)
    return create_provider("voyage", api_key=KEY, base_url=emu.voyage_base_url, **kw)


async def embed(p: IProvider, asynchronous: bool, *args: Any, **kw: Any) -> Any:
    return await p.embed(*args, **kw) if asynchronous else p.embed_sync(*args, **kw)


async def rerank(p: IProvider, asynchronous: bool, *args: Any, **kw: Any) -> Any:
    return await p.rerank(*args, **kw) if asynchronous else p.rerank_sync(*args, **kw)


def bodies(emu: WireEmulator, suffix: str) -> list[dict[str, Any]]:
    return [r.body for r in emu.requests if r.path.endswith(suffix)]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_embed(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu)
    r = await embed(p, asynchronous, None, ["hello world", "bye"], input_type="document")
    assert r.model == "voyage-3.5" and r.provider == "voyage"
    # JSON floats round-trip exactly.
    assert r.vectors == [voyage_vector(t, 1024, model="voyage-3.5", input_type="document")
                         for t in ("hello world", "bye")]
    assert r.usage.input_tokens == 3 and r.usage.cost_usd == pytest.approx(3 * 0.06 / 1e6)
    [request] = emu.requests
    assert request.path == "/voyage/v1/embeddings" and request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {"input": ["hello world", "bye"], "model": "voyage-3.5", "input_type": "document",
                            "output_dtype": "float", "truncation": True}
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_embed_input_types_and_dimensions(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu)
    r = await embed(p, asynchronous, "voyage-3-large", "q", input_type="similarity", dimensions=512)
    assert len(r.vectors[0]) == 512
    await embed(p, asynchronous, "voyage-3-large", "q", input_type="query")
    sent = bodies(emu, "/embeddings")
    assert [(b["input_type"], b.get("output_dimension")) for b in sent] == [(None, 512), ("query", None)]
    with pytest.raises(InvalidRequestError, match="voyage-law-2"):
        await embed(p, asynchronous, "voyage-law-2", "q", dimensions=512)
    assert len(emu.requests) == 2  # the refusal sent nothing
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_embed_batches_under_the_limits_in_order(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu)
    texts = [f"text {i}" for i in range(2100)]
    r = await embed(p, asynchronous, "voyage-3.5", texts, dimensions=256)
    # Async batches travel side by side: they may arrive in any order.
    assert sorted(len(b["input"]) for b in bodies(emu, "/embeddings")) == [100, 1000, 1000]
    assert r.vectors[1500] == voyage_vector("text 1500", 256, model="voyage-3.5")
    assert r.usage.input_tokens == 2 * 2100
    emu.reset()
    long_texts = [f"{i} " + "abcde " * 5000 for i in range(25)]  # 5,001 words, about 10,000 estimated tokens
    r = await embed(p, asynchronous, "voyage-3-large", long_texts)
    assert len(r.vectors) == 25 and len(bodies(emu, "/embeddings")) == 3  # the emulator refuses > 120K words
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_rerank(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu)
    r = await rerank(p, asynchronous, None, "cat mat", DOCS)
    assert [x.index for x in r.results] == [0, 2, 1, 3]
    assert [x.document for x in r.results] == [DOCS[i] for i in (0, 2, 1, 3)]
    assert r.results[0].relevance_score == relevance("cat mat", DOCS[0]) == 1.0
    assert r.model == "rerank-2.5" and r.provider == "voyage"
    words = sum(len(d.split()) for d in DOCS) + 2 * len(DOCS)
    assert r.usage.input_tokens == words and r.usage.cost_usd == pytest.approx(words * 0.05 / 1e6)
    top = await rerank(p, asynchronous, "rerank-2.5-lite", "cat mat", DOCS, top_n=2)
    assert [x.index for x in top.results] == [0, 2]
    sent = bodies(emu, "/rerank")
    assert sent[0] == {"query": "cat mat", "documents": DOCS, "model": "rerank-2.5", "truncation": True,
                       "return_documents": False}
    assert sent[1]["top_k"] == 2 and sent[1]["model"] == "rerank-2.5-lite"
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_503_is_retried(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu, max_retries=2)
    emu.script(Fault(503, retry_after="0"), Reply())
    r = await embed(p, asynchronous, "voyage-3.5", "hello")
    assert len(r.vectors) == 1 and emu.hits("/voyage/v1/embeddings") == 2
    emu.reset()
    emu.script(Fault(503, retry_after="0"), Reply())
    ranked = await rerank(p, asynchronous, None, "cat", DOCS[:2])
    assert len(ranked.results) == 2 and emu.hits("/voyage/v1/rerank") == 2
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize(("status", "error"), [(400, InvalidRequestError), (401, AuthenticationError),
                                               (404, NotFoundError), (429, RateLimitError), (500, ServerError)])
async def test_errors_are_typed_and_keep_no_key(emu: WireEmulator, asynchronous: bool, status: int,
                                                error: type[ProviderError]) -> None:
    p = make(emu)
    emu.script(Fault(status, body={"detail": f"told {status}"}))
    with pytest.raises(error) as info:
        await embed(p, asynchronous, "voyage-3.5", "x")
    err = info.value
    assert err.status_code == status and err.provider == "voyage" and err.message == f"told {status}"
    assert err.request_id is not None
    for text in (str(err), repr(err), json.dumps(err.body), repr(p)):
        assert KEY not in text
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_malformed_timeout_and_connection_errors(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu)
    emu.script(Fault(malformed=True))
    with pytest.raises(MalformedResponseError):
        await embed(p, asynchronous, "voyage-3.5", "x")
    emu.script(Fault(drop_after_events=0))
    with pytest.raises(APIConnectionError):
        await rerank(p, asynchronous, None, "q", ["d"])
    slow = make(emu, timeout=0.2)
    emu.script(Reply(delay=1.0))
    with pytest.raises(APITimeoutError):
        await embed(slow, asynchronous, "voyage-3.5", "x")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = create_provider("voyage", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(APIConnectionError) as info:
        await embed(closed, asynchronous, "voyage-3.5", "x")
    assert KEY not in str(info.value)
    for provider in (p, slow, closed):
        await provider.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_truncation_false_refuses_over_long_inputs(emu: WireEmulator, asynchronous: bool) -> None:
    p = make(emu, truncation=False)
    with pytest.raises(ContextLengthExceededError):
        await embed(p, asynchronous, "voyage-3.5", "word " * 33_000)
    await rerank(p, asynchronous, None, "q", ["d"])
    assert [r.body["truncation"] for r in emu.requests] == [False, False]
    assert make(emu).embed_sync("voyage-3.5", "word " * 33_000).vectors  # truncated by default
    with pytest.raises(ConfigurationError, match="truncation"):
        make(emu, truncation="no")
    await p.aclose()


class _City(BaseModel):
    name: str


async def test_chat_and_counting_are_refused_naming_what_voyage_offers(emu: WireEmulator) -> None:
    p = make(emu)
    assert p.capabilities == {Capability.EMBEDDINGS, Capability.RERANK}
    calls: list[Callable[[], object]] = [
        lambda: p.generate_sync("voyage-3.5", "hi"),
        lambda: list(p.stream_sync("voyage-3.5", "hi")),
        lambda: p.generate_structured_sync("voyage-3.5", "hi", _City),
        lambda: p.count_tokens_sync("voyage-3.5", "hi"),
    ]
    for call in calls:
        with pytest.raises(UnsupportedCapabilityError, match=r"embeddings \(embed\) and reranking \(rerank\)"):
            call()
    with pytest.raises(UnsupportedCapabilityError, match="reranking"):
        await p.generate("voyage-3.5", "hi")
    with pytest.raises(UnsupportedCapabilityError, match="reranking"):
        async for _ in p.stream("voyage-3.5", "hi"):
            pass
    with pytest.raises(UnsupportedCapabilityError, match="token-counting"):
        await p.count_tokens("voyage-3.5", "hi")
    assert emu.requests == []


async def test_models_come_from_the_catalog_and_health_probes_an_embedding(emu: WireEmulator) -> None:
    p = make(emu)
    listed = await p.list_models()
    assert {m.id for m in listed} >= {"voyage-3.5", "rerank-2.5"} and {m.source for m in listed} == {"catalog"}
    assert p.list_models_sync() == listed and emu.requests == []
    assert (await p.check_health()).ok and p.check_health_sync().ok
    assert [b["input"] for b in bodies(emu, "/embeddings")] == [["ping"], ["ping"]]
    emu.script(Fault(401))
    health = p.check_health_sync()
    assert not health.ok and "AuthenticationError" in (health.error or "")
    await p.aclose()


def test_one_async_client_per_event_loop(emu: WireEmulator) -> None:
    p = make(emu)
    for _ in range(2):  # a client bound to a closed loop would fail the second run
        assert asyncio.run(p.embed("voyage-3.5", "x")).vectors
    p.close()


def test_the_key_comes_from_voyage_api_key(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOYAGE_API_KEY", KEY)
    p = create_provider("voyage", base_url=emu.voyage_base_url)
    p.embed_sync(None, "x")
    assert emu.requests[0].headers["authorization"] == f"Bearer {KEY}" and KEY not in repr(p)
    assert create_provider("voyage").base_url == "https://api.voyageai.com/v1"
    p.close()


# --------------------------------------------------------------------------------------------
# the manager and Anthropic's pointer here
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_manager_routes_rerank_and_embed_to_voyage(emu: WireEmulator, asynchronous: bool) -> None:
    m = AIModelProviderManager([make(emu)])
    for model in ("voyage/rerank-2.5-lite", None):
        r = await m.rerank(model, "cat", DOCS, top_n=1) if asynchronous else m.rerank_sync(model, "cat", DOCS, top_n=1)
        assert r.provider == "voyage" and len(r.results) == 1
    assert [b["model"] for b in bodies(emu, "/rerank")] == ["rerank-2.5-lite", "rerank-2.5"]
    e = await m.embed(None, "x") if asynchronous else m.embed_sync("voyage/voyage-4", "x")
    assert e.provider == "voyage" and bodies(emu, "/embeddings")[0]["model"] == ("voyage-3.5" if asynchronous
                                                                                  else "voyage-4")
    await m.aclose()


def test_anthropic_embed_points_to_the_voyage_provider() -> None:
    anthropic = create_provider("anthropic", api_key="sk-ant-test-not-a-key")
    with pytest.raises(UnsupportedCapabilityError) as info:
        anthropic.embed_sync(None, "x")
    assert 'create_provider("voyage")' in str(info.value) and "VOYAGE_API_KEY" in str(info.value)


# --------------------------------------------------------------------------------------------
# recorded wire samples
# --------------------------------------------------------------------------------------------


def _voyage_samples() -> list[dict[str, Any]]:
    if not SAMPLES_FILE.is_file():
        return []
    with SAMPLES_FILE.open(encoding="utf-8") as fh:
        return [s for s in map(json.loads, fh) if s["kind"] == "voyage-embed"]


class _Recorded(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sample: dict[str, Any] = {}

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = (self.sample.get("body") or "").encode()
        self.send_response(int(self.sample["status"]))
        self.send_header("content-type", self.sample.get("content_type") or "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def recorded() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.skipif(not SAMPLES_FILE.is_file(), reason=f"recorded wire samples not found at {SAMPLES_FILE}")
@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("sample", _voyage_samples(), ids=lambda s: s["id"])
async def test_recorded_sample(recorded: str, sample: dict[str, Any], asynchronous: bool) -> None:
    _Recorded.sample = sample
    p = create_provider("voyage", api_key=KEY, base_url=recorded + "/v1", max_retries=0, timeout=20)
    expected = sample["expected"]
    if sample["status"] >= 400:  # none recorded yet; the rule stands for when some are
        with pytest.raises(ProviderError) as info:
            await embed(p, asynchronous, sample["request_json"]["model"], "x")
        assert info.value.status_code == sample["status"] and info.value.message == expected["message"]
        return
    texts = [f"text {i}" for i in range(expected["count"])]
    r = await embed(p, asynchronous, sample["request_json"]["model"], texts)
    assert len(r.vectors) == expected["count"] and len(r.vectors[0]) == expected["dims"]
    assert r.usage.input_tokens == (expected["usage"] or {}).get("input_tokens", 0)
    await p.aclose()


@pytest.mark.skipif(not (SAMPLES_FILE.is_file() and WIRE_CHECK.is_file()), reason="the shared wire check is absent")
def test_the_public_wire_check_passes_every_voyage_sample() -> None:
    proc = subprocess.run([sys.executable, str(WIRE_CHECK), "--kind", "voyage-embed"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "(100.0%)" in proc.stdout
