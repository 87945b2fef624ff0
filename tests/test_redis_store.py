"""`RedisStore` on a real redis-server (tests/redis_server.py): state shared by processes, measured as the
issue asks, and the fall back to local state when Redis dies or hangs.

Measurements (bounds, not timings):
- 8 processes sharing one limit of N requests per minute against a loopback server send at most
  N + ceil(N * t / 60) in t seconds (the bucket starts full, then refills N/60 a second) and, since they try
  far more, at least N;
- 8 processes racing for a bucket's last token: exactly one gets it, every round;
- a breaker opened by one process is open for the 7 others on their first call after it (one round trip);
- Redis killed or hung mid-run: every call still succeeds, on local state, with exactly one warning, and
  none takes longer than a generous bound (each round trip is capped at 0.1 s).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from resilience_helpers import CountingServer, captured, post, run_forked

from agentos_llm.errors import CircuitOpenError, MissingDependencyError, QuotaExceededError, RateLimitError
from agentos_llm.resilience import Breakers, CallKey, CredentialPool, Guard, Limiter, Limits, RedisStore, Take
from agentos_llm.testing import FakeProvider

if TYPE_CHECKING:
    from redis_server import RedisServer

pytest_plugins = ("redis_server",)  # its fixtures: redis_server, redis_prefix, redis_url, own_redis

KEY = CallKey("loopback", "c0ffee0000000001", "model-x", "team key")
WORKERS = 8
SECRET = "sk-redis-test-SECRETSECRETSECRET0123"


def _write(out: Path, index: int, data: dict[str, Any]) -> None:
    (out / f"w{index}.json").write_text(json.dumps(data))


def _read(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("w*.json"))]


# ---------------------------------------------------------------------- shared limits


def _rpm_worker(url: str, prefix: str, port: int, rpm: int, attempts: int, index: int, go: Any, out: Path) -> None:
    store = RedisStore(url, prefix=prefix, timeout=2.0)
    guard = Guard(limiter=Limiter(Limits(requests_per_minute=rpm), store=store))
    sent = refused = 0
    go.wait(30)
    for _ in range(attempts):
        try:
            guard.call(KEY, lambda: post(port), max_wait=0)
            sent += 1
        except RateLimitError as exc:
            assert exc.code == "client_rate_limit"
            refused += 1
    _write(out, index, {"sent": sent, "refused": refused, "degraded": store.degraded})


def test_eight_processes_sharing_n_requests_per_minute_send_at_most_n(redis_url: str, redis_prefix: str,
                                                                      tmp_path: Path) -> None:
    rpm, attempts = 40, 15
    go = multiprocessing.get_context("fork").Event()
    with CountingServer() as server:
        # Workers wait on `go`: forking them all first keeps start-up out of the measured time.
        runner = threading.Thread(target=run_forked, args=(_rpm_worker, [
            (redis_url, redis_prefix, server.port, rpm, attempts, i, go, tmp_path) for i in range(WORKERS)]))
        runner.start()
        time.sleep(0.2)
        started = time.monotonic()
        go.set()
        runner.join(90)
        elapsed = time.monotonic() - started
        sent_at_server = server.count
    results = _read(tmp_path)
    assert len(results) == WORKERS and not any(r["degraded"] for r in results)
    assert sum(r["sent"] for r in results) == sent_at_server
    assert sum(r["sent"] + r["refused"] for r in results) == WORKERS * attempts
    bound = rpm + math.ceil(rpm * elapsed / 60)
    print(f"\n{WORKERS} workers, {rpm}/min: {sent_at_server} sent in {elapsed:.2f}s (bound {bound})")
    assert rpm <= sent_at_server <= bound, f"{sent_at_server} sent in {elapsed:.2f}s; at most {bound} allowed"


def _last_token_worker(url: str, prefix: str, rounds: int, index: int, go: Any, out: Path) -> None:
    store = RedisStore(url, prefix=prefix, timeout=2.0)
    go.wait(30)
    won = [store.take_tokens((Take(f"last{r}", 1, 1, 1e-9),), time.time()).granted for r in range(rounds)]
    _write(out, index, {"won": won, "degraded": store.degraded})


def test_two_workers_never_both_take_the_last_token(redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    rounds = 50
    go = multiprocessing.get_context("fork").Event()
    go.set()
    run_forked(_last_token_worker, [(redis_url, redis_prefix, rounds, i, go, tmp_path) for i in range(WORKERS)])
    results = _read(tmp_path)
    assert not any(r["degraded"] for r in results)
    winners_per_round = [sum(r["won"][i] for r in results) for i in range(rounds)]
    assert winners_per_round == [1] * rounds


# ---------------------------------------------------------------------- shared breakers


def _breaker_worker(url: str, prefix: str, port: int, index: int, opened: Any, out: Path) -> None:
    store = RedisStore(url, prefix=prefix, timeout=2.0)
    guard = Guard(Breakers(store=store))
    if index == 0:
        try:
            guard.call(KEY, lambda: post(port))
            result: dict[str, Any] = {"outcome": "sent"}
        except QuotaExceededError:
            result = {"outcome": "quota"}
        opened.set()
    else:
        opened.wait(30)
        try:  # the first call after the breaker opened elsewhere
            guard.call(KEY, lambda: post(port))
            result = {"outcome": "sent"}
        except CircuitOpenError as exc:
            result = {"outcome": "open", "retry_after": exc.retry_after, "breaker": exc.breaker}
    result["degraded"] = store.degraded
    _write(out, index, result)


def test_a_breaker_opened_by_one_process_is_open_for_the_others_on_their_next_call(
        redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    opened = multiprocessing.get_context("fork").Event()
    with CountingServer(status=402) as server:
        run_forked(_breaker_worker, [(redis_url, redis_prefix, server.port, i, opened, tmp_path)
                                     for i in range(WORKERS)])
        assert server.count == 1  # only the first process's call reached the server
    results = _read(tmp_path)
    assert [r["outcome"] for r in results] == ["quota"] + ["open"] * (WORKERS - 1)
    assert not any(r["degraded"] for r in results)
    assert all(0 < r["retry_after"] <= 300 and r["breaker"] == "loopback/team key" for r in results[1:])


# ---------------------------------------------------------------------- Redis going away


def _guarded(store: RedisStore) -> Guard:
    return Guard(Breakers(store=store), Limiter(Limits(requests_per_minute=100_000), store=store))


def _warnings(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.levelno >= logging.WARNING and "Redis" in r.getMessage()]


def _run_calls(guard: Guard, calls: int) -> float:
    worst = 0.0
    for _ in range(calls):
        t = time.perf_counter()
        assert guard.call(KEY, lambda: "ok") == "ok"
        worst = max(worst, time.perf_counter() - t)
    return worst


def test_redis_killed_mid_run_calls_go_on_locally_with_one_warning(own_redis: RedisServer,
                                                                   redis_prefix: str) -> None:
    server = own_redis
    store = RedisStore(server.url, prefix=redis_prefix, timeout=0.1, reconnect_after=0.05,
                       max_reconnect_after=0.2)
    guard = _guarded(store)
    with captured("agentos_llm.resilience") as records:
        _run_calls(guard, 20)
        assert not store.degraded and store.ping()
        server.kill()
        worst = _run_calls(guard, 60)
        # The breakers keep working on local state: a quota error still opens one.
        with pytest.raises(QuotaExceededError):
            guard.call(KEY, _raise_quota)
        with pytest.raises(CircuitOpenError):
            guard.call(KEY, lambda: "never")
    assert store.degraded and store.outages == 1
    warnings = _warnings(records)
    assert len(warnings) == 1 and "unreachable" in warnings[0], warnings
    assert worst < 2.0, f"a call took {worst:.3f}s with Redis dead"


def _raise_quota() -> str:
    raise QuotaExceededError("out of credits", provider="loopback", status_code=402)


def test_a_hung_redis_costs_at_most_its_timeout_and_is_used_again_once_back(own_redis: RedisServer,
                                                                            redis_prefix: str) -> None:
    server = own_redis
    store = RedisStore(server.url, prefix=redis_prefix, timeout=0.1, reconnect_after=0.05,
                       max_reconnect_after=0.1)
    guard = _guarded(store)
    with captured("agentos_llm.resilience") as records:
        _run_calls(guard, 5)
        server.pause()
        worst = _run_calls(guard, 30)
        assert store.degraded
        server.resume()
        for _ in range(500):
            _run_calls(guard, 1)
            if not store.degraded:
                break
            time.sleep(0.01)
    assert not store.degraded, "the store never went back to Redis"
    assert store.outages == 1 and len(_warnings(records)) == 1
    assert any("reachable again" in r.getMessage() for r in records)
    assert worst < 2.0, f"a call took {worst:.3f}s with Redis hung"


def test_an_unreachable_redis_from_the_start_is_one_warning_and_local_state() -> None:
    store = RedisStore(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.1)  # nothing listens there
    with captured("agentos_llm.resilience") as records:
        worst = _run_calls(_guarded(store), 50)
    assert store.degraded and len(_warnings(records)) == 1 and worst < 2.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- hygiene


def test_no_secret_reaches_redis(redis_url: str, redis_prefix: str) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix, timeout=2.0)
    provider = FakeProvider([QuotaExceededError("out of credits", provider="fake", status_code=402)], api_key=SECRET)
    key = CallKey.for_provider(provider, "fake-model")
    guard = Guard(Breakers(store=store), Limiter(Limits(requests_per_minute=10, tokens_per_minute=1000), store=store))
    with pytest.raises(QuotaExceededError):
        guard.call(key, lambda: provider.generate_sync("fake-model", "hi"), estimated_tokens=10)
    pool = CredentialPool("fake", [SECRET, SECRET[::-1]], store=store)
    pool.report(pool.credentials[0], QuotaExceededError("no credit", status_code=402))
    client = store._client
    dumped = []
    for raw in client.scan_iter(match=f"{redis_prefix}*"):
        kind = client.type(raw).decode()
        value = {"string": client.get, "hash": client.hgetall, "zset": lambda k: client.zrange(k, 0, -1)}[kind](raw)
        dumped.append(f"{raw!r} {value!r}")
    assert len(dumped) >= 4  # breaker record, buckets, pool record
    text = "\n".join(dumped)
    assert SECRET not in text and SECRET[::-1] not in text and SECRET[-12:] not in text


def test_without_redis_py_the_store_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError) as info:
        RedisStore()
    assert 'agentos-llm[redis]' in info.value.pip_command


def test_importing_the_engine_does_not_import_redis() -> None:
    code = "import agentos_llm.resilience, sys; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
