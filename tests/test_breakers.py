"""Circuit breakers: AgentOS's table, half-open trial calls, scopes, errors that never count, and the
typed error that says which breaker and when it closes. A fake clock drives every cooldown."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from resilience_helpers import FakeClock

from agentos_llm.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ContentFilterError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from agentos_llm.resilience import BreakerPolicy, BreakerRule, Breakers, BreakerStatus, CallKey, Guard, MemoryStore
from agentos_llm.testing import FakeProvider

SECRET = "sk-test-0123456789abcdefSECRETSECRET"
KEY = CallKey("openai", "c0ffee0000000001", "gpt-4o", "OPENAI_API_KEY")
OTHER_MODEL = KEY.with_model("gpt-4o-mini")
OTHER_CREDENTIAL = CallKey("openai", "c0ffee0000000002", "gpt-4o", "key #2")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breakers(clock: FakeClock) -> Breakers:
    return Breakers(store=MemoryStore(), clock=clock)


def fail(breakers: Breakers, key: CallKey, exc: BaseException) -> bool:
    return breakers.record_failure(breakers.check(key), exc)


def is_open(breakers: Breakers, key: CallKey) -> bool:
    try:
        permit = breakers.check(key)
    except CircuitOpenError:
        return True
    breakers.release(permit)
    return False


# ---------------------------------------------------------------------- the table


def test_402_opens_after_one_failure_for_five_minutes_for_every_model_of_the_key(
        breakers: Breakers, clock: FakeClock) -> None:
    assert fail(breakers, KEY, QuotaExceededError("out of credits", provider="openai", status_code=402))
    with pytest.raises(CircuitOpenError) as info:
        breakers.check(OTHER_MODEL)  # the key is out of credit for every model
    err = info.value
    assert err.retry_after == pytest.approx(300.0)
    assert err.closes_at == pytest.approx(clock.now + 300)
    assert err.opened_by == "QuotaExceededError"
    assert err.breaker == "openai/OPENAI_API_KEY" and err.credential == "OPENAI_API_KEY" and err.model is None
    assert err.provider == "openai" and err.code == "circuit_open" and isinstance(err, ProviderError)
    assert not is_open(breakers, OTHER_CREDENTIAL)
    clock.advance(299.0)
    assert is_open(breakers, KEY)
    clock.advance(1.5)
    assert not is_open(breakers, KEY)  # a trial call goes through


def test_401_opens_for_thirty_minutes_and_403_only_for_its_model(breakers: Breakers, clock: FakeClock) -> None:
    fail(breakers, KEY, AuthenticationError("bad key", status_code=401))
    with pytest.raises(CircuitOpenError) as info:
        breakers.check(OTHER_MODEL)
    assert info.value.retry_after == pytest.approx(1800.0)
    fail(breakers, OTHER_CREDENTIAL, PermissionDeniedError("no access to this model", status_code=403))
    assert is_open(breakers, OTHER_CREDENTIAL)
    assert not is_open(breakers, CallKey("openai", OTHER_CREDENTIAL.credential, "gpt-4o-mini", "key #2"))
    clock.advance(1799.0)
    assert is_open(breakers, OTHER_CREDENTIAL)


def test_429_opens_after_three_in_thirty_seconds(breakers: Breakers, clock: FakeClock) -> None:
    limited = RateLimitError("slow down", status_code=429)
    assert not fail(breakers, KEY, limited)
    clock.advance(10)
    assert not fail(breakers, KEY, limited)
    clock.advance(10)
    assert fail(breakers, KEY, limited)
    with pytest.raises(CircuitOpenError) as info:
        breakers.check(KEY)
    assert info.value.retry_after == pytest.approx(30.0) and info.value.model == "gpt-4o"
    assert not is_open(breakers, OTHER_MODEL)  # rate limits are per model


def test_three_429_spread_over_more_than_thirty_seconds_do_not_open(breakers: Breakers, clock: FakeClock) -> None:
    for _ in range(6):
        assert not fail(breakers, KEY, RateLimitError("slow down", status_code=429))
        clock.advance(16)
    assert not is_open(breakers, KEY)


def test_a_429_with_retry_after_opens_at_once_for_that_long(breakers: Breakers, clock: FakeClock) -> None:
    assert fail(breakers, KEY, RateLimitError("slow down", status_code=429, retry_after=7.0))
    with pytest.raises(CircuitOpenError) as info:
        breakers.check(KEY)
    assert info.value.retry_after == pytest.approx(7.0)
    clock.advance(7.01)
    assert not is_open(breakers, KEY)


@pytest.mark.parametrize("exc", [ServerError("boom", status_code=503), APIConnectionError("reset"),
                                 APITimeoutError("timed out")])
def test_5xx_connection_and_timeout_errors_open_after_five_in_sixty_seconds(
        breakers: Breakers, clock: FakeClock, exc: ProviderError) -> None:
    for _ in range(4):
        assert not fail(breakers, KEY, exc)
        clock.advance(14)
    assert fail(breakers, KEY, exc)
    assert is_open(breakers, KEY)


def test_server_failures_of_different_kinds_add_up(breakers: Breakers) -> None:
    for exc in (ServerError("a", status_code=500), APIConnectionError("b"), APITimeoutError("c"),
                ServerError("d", status_code=529)):
        assert not fail(breakers, KEY, exc)
    assert fail(breakers, KEY, APIConnectionError("e"))


@pytest.mark.parametrize("exc", [
    InvalidRequestError("bad", status_code=400), ContextLengthExceededError("too long", status_code=400),
    ContentFilterError("refused", status_code=400), NotFoundError("no model", status_code=404),
    BudgetExceededError("budget", budget="day"), MalformedResponseError("html"),
    RateLimitError("client-side limit", code="client_rate_limit"), ValueError("a bug in the caller"),
])
def test_errors_that_never_count(breakers: Breakers, exc: BaseException) -> None:
    for _ in range(50):
        assert not fail(breakers, KEY, exc)
    assert not is_open(breakers, KEY)
    assert breakers.status(KEY)[1].recent_failures == {}


# ---------------------------------------------------------------------- half-open


def open_for_quota(breakers: Breakers, clock: FakeClock) -> None:
    fail(breakers, KEY, QuotaExceededError("out of credits", status_code=402))
    clock.advance(300.5)


def test_one_trial_call_at_a_time_and_its_success_closes(breakers: Breakers, clock: FakeClock) -> None:
    open_for_quota(breakers, clock)
    trial = breakers.check(KEY)
    assert trial.is_trial
    with pytest.raises(CircuitOpenError) as info:
        breakers.check(OTHER_MODEL)  # the trial call is in flight
    assert "trial call is in flight" in str(info.value)
    breakers.record_success(trial)
    assert not breakers.check(KEY).is_trial
    assert [s.state for s in breakers.status(KEY)] == ["closed", "closed"]


def test_a_failed_trial_reopens_for_the_cooldown(breakers: Breakers, clock: FakeClock) -> None:
    open_for_quota(breakers, clock)
    trial = breakers.check(KEY)
    assert breakers.record_failure(trial, QuotaExceededError("still out", status_code=402))
    with pytest.raises(CircuitOpenError) as info:
        breakers.check(KEY)
    assert info.value.retry_after == pytest.approx(300.0)
    status = breakers.status(KEY)[0]
    assert status.state == "open" and status.trips == 2


def test_an_abandoned_or_uncounted_trial_lets_the_next_caller_try(breakers: Breakers, clock: FakeClock) -> None:
    open_for_quota(breakers, clock)
    breakers.release(breakers.check(KEY))  # cancelled
    trial = breakers.check(KEY)
    assert trial.is_trial
    assert not breakers.record_failure(trial, InvalidRequestError("bad request", status_code=400))
    assert breakers.check(KEY).is_trial


def test_a_trial_whose_process_died_is_replaced_after_its_lease(clock: FakeClock) -> None:
    breakers = Breakers(BreakerPolicy(probe_lease=20.0), clock=clock)
    open_for_quota(breakers, clock)
    assert breakers.check(KEY).is_trial  # never reported back
    clock.advance(19.0)
    assert is_open(breakers, KEY)
    clock.advance(1.5)
    assert breakers.check(KEY).is_trial


def test_success_after_a_trial_forgets_the_failures_counted_before(breakers: Breakers, clock: FakeClock) -> None:
    for _ in range(5):
        fail(breakers, KEY, ServerError("down", status_code=500))
    clock.advance(31)
    breakers.record_success(breakers.check(KEY))
    assert not fail(breakers, KEY, ServerError("one more", status_code=500))  # counting starts again
    assert breakers.status(KEY)[1].recent_failures == {"server": 1}


# ---------------------------------------------------------------------- policy, health, hooks


def test_a_custom_rule_counts_what_the_defaults_do_not(clock: FakeClock) -> None:
    rule = BreakerRule("malformed", (MalformedResponseError,), threshold=2, window=10, cooldown=5)
    breakers = Breakers(BreakerPolicy(rules=(rule,)), clock=clock)
    assert not fail(breakers, KEY, MalformedResponseError("html"))
    assert fail(breakers, KEY, MalformedResponseError("html"))
    assert is_open(breakers, KEY)
    assert not fail(breakers, OTHER_MODEL, QuotaExceededError("quota", status_code=402))  # not in this policy


def test_snapshot_and_on_change_report_every_breaker(clock: FakeClock) -> None:
    changes: list[BreakerStatus] = []
    breakers = Breakers(clock=clock, on_change=changes.append)
    breakers.release(breakers.check(OTHER_CREDENTIAL))
    fail(breakers, KEY, RateLimitError("slow", status_code=429))
    fail(breakers, KEY, RateLimitError("slow", status_code=429, retry_after=12))
    snap = {s.breaker: s for s in breakers.snapshot()}
    assert snap["openai/OPENAI_API_KEY/gpt-4o"].state == "open"
    assert snap["openai/OPENAI_API_KEY/gpt-4o"].retry_after == pytest.approx(12.0)
    assert snap["openai/OPENAI_API_KEY/gpt-4o"].recent_failures == {"rate_limit": 1}
    assert snap["openai/key #2/gpt-4o"].state == "closed"
    assert "open after RateLimitError" in str(snap["openai/OPENAI_API_KEY/gpt-4o"])
    assert [c.state for c in changes] == ["open"]
    clock.advance(13)
    breakers.record_success(breakers.check(KEY))
    assert [c.state for c in changes] == ["open", "closed"]
    assert snap["openai/OPENAI_API_KEY/gpt-4o"].as_dict()["rule"] == "rate_limit"


def test_reset_closes_a_breaker_by_hand(breakers: Breakers) -> None:
    fail(breakers, KEY, AuthenticationError("bad key", status_code=401))
    breakers.reset(KEY)
    assert not is_open(breakers, KEY)


def test_the_error_pickles_with_everything_it_says() -> None:
    err = CircuitOpenError("circuit breaker x is open", provider="openai", breaker="openai/k/m", credential="k",
                           model="m", retry_after=3.0, closes_at=123.0, opened_by="ServerError")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is CircuitOpenError
    assert (back.breaker, back.credential, back.model, back.retry_after, back.closes_at, back.opened_by, back.code) == (
        "openai/k/m", "k", "m", 3.0, 123.0, "ServerError", "circuit_open")
    assert str(back) == str(err)


# ---------------------------------------------------------------------- around a provider


def test_an_open_breaker_fails_the_next_call_at_once_without_sending(clock: FakeClock) -> None:
    provider = FakeProvider([QuotaExceededError("out of credits", provider="fake", status_code=402), "never sent"],
                            api_key=SECRET)
    key = CallKey.for_provider(provider, "fake-model", label="team key")
    assert SECRET not in repr(key) and key.credential and SECRET[:16] not in key.credential
    guard = Guard(Breakers(clock=clock))
    with pytest.raises(QuotaExceededError):
        guard.call(key, lambda: provider.generate_sync("fake-model", "hi"))
    with pytest.raises(CircuitOpenError) as info:
        guard.call(key, lambda: provider.generate_sync("fake-model", "hi"))
    assert len(provider.calls) == 1  # the second call never reached the provider
    assert info.value.credential == "team key"
    shown = str(info.value) + repr(info.value) + repr(guard.snapshot())
    assert SECRET not in shown and "team key" in shown


def test_keys_of_two_credentials_of_one_provider_differ_and_are_stable() -> None:
    a1 = CallKey.for_provider(FakeProvider(api_key="sk-one-aaaaaaaaaaaaaaaaaaaa"), "m")
    a2 = CallKey.for_provider(FakeProvider(api_key="sk-one-aaaaaaaaaaaaaaaaaaaa"), "m")
    b = CallKey.for_provider(FakeProvider(api_key="sk-two-bbbbbbbbbbbbbbbbbbbb"), "m")
    assert a1 == a2 and a1.credential == a2.credential
    assert a1.credential != b.credential


def test_the_status_of_an_unknown_key_is_closed(breakers: Breakers) -> None:
    assert [s.state for s in breakers.status(KEY)] == ["closed", "closed"]
    fields: dict[str, Any] = dataclasses.asdict(breakers.status(KEY)[0])
    assert fields["host"] == "openai"


# ---------------------------------------------------------------------- the guard's outcomes


def test_leaving_a_ticket_with_an_error_counts_it_and_a_cancellation_does_not(clock: FakeClock) -> None:
    breakers = Breakers(clock=clock)
    guard = Guard(breakers)
    open_for_quota(breakers, clock)
    with pytest.raises(KeyboardInterrupt), guard.enter(KEY) as ticket:
        assert ticket.is_trial
        raise KeyboardInterrupt  # abandoned: no verdict, the next caller is the trial
    with pytest.raises(QuotaExceededError), guard.enter(KEY) as ticket:
        assert ticket.is_trial
        raise QuotaExceededError("still out", status_code=402)
    assert is_open(breakers, KEY)
    clock.advance(301)
    with guard.enter(KEY) as ticket:  # left normally: a success
        assert ticket.is_trial
    assert not breakers.check(KEY).is_trial


async def test_the_async_guard_counts_failures_and_successes(clock: FakeClock) -> None:
    breakers = Breakers(clock=clock)
    guard = Guard(breakers)

    async def fails() -> str:
        raise AuthenticationError("revoked", status_code=401)

    async def works() -> str:
        return "ok"

    with pytest.raises(AuthenticationError):
        await guard.acall(KEY, fails)
    with pytest.raises(CircuitOpenError):
        await guard.acall(OTHER_MODEL, works)
    clock.advance(1801)
    assert await guard.acall(KEY, works) == "ok"
    assert await guard.acall(OTHER_MODEL, works) == "ok"


def test_a_breaker_that_opened_while_a_call_waited_for_its_turn_stops_it(clock: FakeClock) -> None:
    from agentos_llm.resilience import Limiter, Limits

    breakers = Breakers(clock=clock)

    def sleep_while_another_worker_fails(seconds: float) -> None:
        clock.sleep(seconds)
        fail(breakers, KEY, QuotaExceededError("out", status_code=402))

    limiter = Limiter(Limits(requests_per_minute=1), clock=clock, sleep=sleep_while_another_worker_fails)
    guard = Guard(breakers, limiter)
    guard.enter(KEY).succeeded()
    with pytest.raises(CircuitOpenError):
        guard.enter(KEY, max_wait=120)  # waited 60 s for its request, then found the breaker open
    limiter.sleep = clock.sleep
    breakers.reset(KEY)
    # The refused call gave its request back: the next one goes at once instead of waiting another minute.
    assert guard.enter(KEY, max_wait=0).waited == 0.0
