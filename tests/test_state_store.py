"""The state store's contract, on `MemoryStore` and on `RedisStore` against a real redis-server alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from agentos_llm.resilience import Adjust, MemoryStore, StateStore, Take
from agentos_llm.resilience.store import UNBOUNDED

pytest_plugins = ("redis_server",)  # its fixtures: redis_server, redis_prefix, redis_url

NOW = 1_000_000.0


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    from agentos_llm.resilience import RedisStore

    url = request.getfixturevalue("redis_url")
    st = RedisStore(url, prefix=request.getfixturevalue("redis_prefix"), timeout=2.0)
    yield st
    assert not st.degraded, "the store fell back to local state during a contract test"
    st.close()


def one(key: str, amount: float = 1, capacity: float = 3, per_second: float = 1.0) -> tuple[Take, ...]:
    return (Take(key, amount, capacity, per_second),)


# ---------------------------------------------------------------------- token buckets


def test_a_new_bucket_is_full_and_refuses_once_empty(store: StateStore) -> None:
    assert [store.take_tokens(one("b"), NOW).granted for _ in range(4)] == [True, True, True, False]
    refused = store.take_tokens(one("b"), NOW)
    assert not refused.granted
    assert refused.wait == pytest.approx(1.0)  # one token short, one token per second


def test_a_bucket_refills_at_its_rate_up_to_its_capacity(store: StateStore) -> None:
    for _ in range(3):
        store.take_tokens(one("b"), NOW)
    assert store.take_tokens(one("b"), NOW + 1.0).granted
    assert not store.take_tokens(one("b"), NOW + 1.5).granted
    # A long idle time fills it only to its capacity.
    assert [store.take_tokens(one("b"), NOW + 1000).granted for _ in range(4)] == [True, True, True, False]


def test_a_take_within_max_wait_is_reserved_and_later_takers_queue_behind_it(store: StateStore) -> None:
    for _ in range(3):
        store.take_tokens(one("b"), NOW)
    first = store.take_tokens(one("b"), NOW, max_wait=5)
    second = store.take_tokens(one("b"), NOW, max_wait=5)
    assert first.granted and second.granted
    assert (first.wait, second.wait) == (pytest.approx(1.0), pytest.approx(2.0))
    too_long = store.take_tokens(one("b"), NOW, max_wait=2.5)
    assert not too_long.granted and too_long.wait == pytest.approx(3.0)
    assert store.take_tokens(one("b"), NOW, max_wait=UNBOUNDED).wait == pytest.approx(3.0)


def test_several_buckets_are_taken_all_or_nothing(store: StateStore) -> None:
    both = (Take("req", 1, 10, 1.0), Take("tok", 600, 1000, 10.0))
    assert store.take_tokens(both, NOW).granted
    refused = store.take_tokens(both, NOW)  # 400 tokens left of the 600 asked
    assert not refused.granted and refused.wait == pytest.approx(20.0)
    # The request bucket was left untouched by the refused take: nine requests remain.
    assert [store.take_tokens(one("req", capacity=10), NOW).granted for _ in range(10)] == [True] * 9 + [False]


def test_an_amount_above_the_capacity_waits_for_a_full_bucket_then_goes_negative(store: StateStore) -> None:
    big = one("b", amount=10, capacity=4, per_second=1.0)
    assert store.take_tokens(big, NOW).granted  # full: it goes, leaving -6
    after = store.take_tokens(one("b", capacity=4), NOW)
    assert not after.granted and after.wait == pytest.approx(7.0)


def test_adjust_gives_back_takes_more_and_lowers_to_a_ceiling(store: StateStore) -> None:
    for _ in range(3):
        store.take_tokens(one("b"), NOW)
    store.adjust_tokens((Adjust("b", 3, 1.0, delta=2),), NOW)
    assert [store.take_tokens(one("b"), NOW).granted for _ in range(3)] == [True, True, False]
    store.adjust_tokens((Adjust("b", 3, 1.0, delta=100),), NOW)  # never above the capacity
    assert [store.take_tokens(one("b"), NOW).granted for _ in range(4)] == [True, True, True, False]
    store.adjust_tokens((Adjust("c", 3, 1.0, ceiling=1),), NOW)  # the vendor says one remains
    assert [store.take_tokens(one("c"), NOW).granted for _ in range(2)] == [True, False]
    store.adjust_tokens((Adjust("d", 3, 1.0, delta=-5),), NOW)  # a settled estimate that was too low
    assert store.take_tokens(one("d"), NOW).wait == pytest.approx(3.0)


def test_a_clock_behind_the_buckets_stamp_does_not_refill_backwards(store: StateStore) -> None:
    for _ in range(3):
        store.take_tokens(one("b"), NOW)
    got = store.take_tokens(one("b"), NOW - 50)  # another machine's clock, a little behind
    assert not got.granted and got.wait == pytest.approx(1.0)


# ---------------------------------------------------------------------- windowed counters


def test_hits_count_within_their_window_only(store: StateStore) -> None:
    assert [store.hit("h", 10, NOW + i) for i in range(3)] == [1, 2, 3]
    assert store.hit("h", 10, NOW + 10.5, add=False) == 2  # the first one is out of the window
    assert store.hit("h", 10, NOW + 30, add=False) == 0
    assert store.hit("h", 10, NOW + 30) == 1
    store.clear_hits("h")
    assert store.hit("h", 10, NOW + 30, add=False) == 0


def test_hits_at_the_same_instant_all_count(store: StateStore) -> None:
    assert [store.hit("same", 5, NOW) for _ in range(4)] == [1, 2, 3, 4]


# ---------------------------------------------------------------------- versioned records


def test_records_change_only_from_the_version_read(store: StateStore) -> None:
    assert store.get_states(("r", "s")) == [None, None]
    assert store.put_state("r", 0, {"state": "open", "until": 5.5}, 60)
    assert not store.put_state("r", 0, {"state": "other"}, 60)  # someone else created it first
    got = store.get_states(("r", "s"))
    assert got[1] is None and got[0] is not None
    assert (got[0].version, got[0].value) == (1, {"state": "open", "until": 5.5})
    assert store.put_state("r", 1, {"state": "half_open"}, 60)
    assert not store.put_state("r", 1, {"state": "closed"}, 60)  # stale version
    assert store.put_state("r", 2, None, 60)  # delete
    assert store.get_states(("r",)) == [None]


def test_records_expire_after_their_ttl(store: StateStore) -> None:
    store.put_state("short", 0, {"x": 1}, 0.05)
    for _ in range(200):
        if store.get_states(("short",)) == [None]:
            break
        time.sleep(0.02)
    assert store.get_states(("short",)) == [None]


# ---------------------------------------------------------------------- counters and scores


def test_counters_add_and_expire_from_their_creation(store: StateStore) -> None:
    assert store.add_counter("c", 2.5, NOW, ttl=3600) == 2.5
    assert store.add_counter("c", 1, NOW) == 3.5
    assert store.get_counter("c", NOW) == 3.5
    assert store.get_counter("absent", NOW) == 0.0


def test_scores_keep_one_value_per_member(store: StateStore) -> None:
    store.set_score("health", "openai/gpt-4o", 0.9, NOW)
    store.set_score("health", "groq/llama", 0.4, NOW, ttl=600)
    store.set_score("health", "openai/gpt-4o", 0.7, NOW)
    assert store.get_scores("health", NOW) == {"openai/gpt-4o": 0.7, "groq/llama": 0.4}
    assert store.get_scores("nothing", NOW) == {}


def test_many_threads_never_take_more_than_the_bucket_holds(store: StateStore) -> None:
    granted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        mine = [store.take_tokens(one("shared", capacity=50, per_second=1e-9), NOW).granted for _ in range(20)]
        with lock:
            granted.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 160 and sum(granted) == 50


# ---------------------------------------------------------------------- memory only


def test_the_memory_store_stays_bounded() -> None:
    st = MemoryStore(max_keys=10)
    for i in range(50):
        st.take_tokens(one(f"b{i}"), NOW)
        st.hit(f"h{i}", 10, NOW)
        st.put_state(f"r{i}", 0, {"i": i}, 3600)
        st.add_counter(f"c{i}", 1, NOW)
        st.set_score(f"s{i}", "m", 1, NOW)
    assert all(len(t) <= 10 for t in (st._buckets, st._hits, st._states, st._counters, st._scores))
    assert st.get_states(("r49",))[0] is not None  # the newest are kept


def test_the_memory_store_satisfies_the_protocol_and_is_not_shared() -> None:
    st = MemoryStore()
    assert isinstance(st, StateStore)
    assert st.shared is False
