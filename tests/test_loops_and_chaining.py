"""A provider survives several event loops; vendor SDK exceptions stay out of tracebacks."""

from __future__ import annotations

import asyncio
import pickle
import traceback

import pytest

import agentos_llm
from agentos_llm.errors import AuthenticationError
from agentos_llm.testing import Fault, WireEmulator

KEY = "sk-loopkey-SECRETSECRET-0123456789"


@pytest.fixture()
def emu():
    with WireEmulator() as server:
        yield server


def test_one_provider_across_repeated_asyncio_run(emu: WireEmulator) -> None:
    provider = agentos_llm.create_provider("openai", api_key="sk-test", base_url=emu.openai_base_url, max_retries=0)

    async def ask(text: str) -> str:
        return (await provider.generate("gpt-4o-mini", text)).text

    assert asyncio.run(ask("one")) == "Echo: one"
    # A second loop: the first loop's pooled connections must not be reused.
    assert asyncio.run(ask("two")) == "Echo: two"
    assert provider.check_health_sync().ok
    assert asyncio.run(ask("three")) == "Echo: three"
    provider.close()


def test_vendor_exception_is_kept_but_not_chained(emu: WireEmulator) -> None:
    body = {"error": {"message": f"bad key {KEY}", "type": "authentication_error"}}
    emu.script(Fault(status=401, body=body))
    provider = agentos_llm.create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        provider.generate_sync("gpt-4o-mini", "hi")
    err = info.value
    printed = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert KEY not in printed
    assert err.__cause__ is None and err.__suppress_context__
    assert err.vendor_exception is not None and type(err.vendor_exception).__module__.startswith("openai")
    clone = pickle.loads(pickle.dumps(err))
    assert clone.status_code == 401 and clone.vendor_exception is None
