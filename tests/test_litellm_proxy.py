"""The `litellm` provider against a real LiteLLM proxy, started from its PyPI package on 127.0.0.1.

The proxy lives in its own virtual environment (`bash scripts/litellm_proxy_env.sh` makes
`.venv-litellm`) and serves the models of `tests/fixtures/litellm_proxy.yaml`, which answer from
`mock_response` / `mock_tool_calls`: no upstream is called and nothing leaves the machine.

Without `.venv-litellm` these tests skip, unless `AGENTOS_LLM_REQUIRE_LITELLM=1` (set by CI), where
they fail. Deselect them locally with `-m "not litellm_proxy"`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentos_llm import (
    CompletionResponse,
    DoneEvent,
    FinishReason,
    TextDeltaEvent,
    ToolCall,
    UsageEvent,
    create_provider,
)
from agentos_llm.errors import AuthenticationError, InvalidRequestError, NotFoundError, ProviderError
from agentos_llm.pricing import cost_from_headers
from agentos_llm.provider import IProvider

pytestmark = pytest.mark.litellm_proxy

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("AGENTOS_LLM_LITELLM_VENV", ROOT / ".venv-litellm"))
CONFIG = Path(__file__).resolve().parent / "fixtures" / "litellm_proxy.yaml"
SETUP_SCRIPT = "scripts/litellm_proxy_env.sh"
STARTUP_TIMEOUT = 120.0  # seconds; a cold start imports a lot (about 5 s here, more on a loaded CI box)

MOCK_TEXT = "Hello from the LiteLLM mock."  # mock_response of mock-chat in the config
CONFIGURED_MODELS = {"mock-chat", "mock-tool"}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}

# The proxy inherits none of the developer's environment (no provider keys, no DATABASE_URL, no
# proxies); these switch off everything in LiteLLM that would fetch from or report to the internet.
_QUIET_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the bundled cost map, not a download
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class Proxy:
    base_url: str  # ends in /v1, as the provider wants it
    master_key: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ends the proxy and anything it started (it runs in a process group of its own)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, deadline: float) -> str:
    """"ready" once /health/liveliness answers 200, "exited" if the process died first, else "timeout"."""
    url = f"http://127.0.0.1:{port}/health/liveliness"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return "ready"
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    return "timeout"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    litellm = VENV / "bin" / "litellm"
    if not litellm.exists():
        message = f"no LiteLLM proxy at {litellm}: run `bash {SETUP_SCRIPT}` first"
        if os.environ.get("AGENTOS_LLM_REQUIRE_LITELLM") == "1":
            pytest.fail(f"{message} (AGENTOS_LLM_REQUIRE_LITELLM=1 makes this a failure)", pytrace=False)
        pytest.skip(message)

    workdir = tmp_path_factory.mktemp("litellm-proxy")
    master_key = "sk-agentos-" + secrets.token_hex(16)
    env = {
        "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(workdir),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "LITELLM_MASTER_KEY": master_key,
        **_QUIET_ENV,
    }
    deadline = time.monotonic() + STARTUP_TIMEOUT
    for attempt in range(3):  # the free port can be taken between choosing and binding it
        port = _free_port()
        log = workdir / f"proxy-{attempt}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(litellm), "--config", str(CONFIG), "--host", "127.0.0.1", "--port", str(port)],
                cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            state = _wait_ready(proc, port, deadline)
        except BaseException:
            _stop(proc)
            raise
        if state == "ready":
            break
        _stop(proc)
        if state == "timeout":
            pytest.fail(f"the LiteLLM proxy was not ready within {STARTUP_TIMEOUT:.0f}s:\n{_tail(log)}")
        if "address already in use" not in _tail(log).lower():
            pytest.fail(f"the LiteLLM proxy exited with {proc.returncode} before it was ready:\n{_tail(log)}")
    else:
        pytest.fail(f"the LiteLLM proxy found no free port in 3 attempts:\n{_tail(log)}")

    try:
        yield Proxy(base_url=f"http://127.0.0.1:{port}/v1", master_key=master_key, log=log)
    finally:
        _stop(proc)
    assert proc.returncode is not None


@pytest.fixture
async def provider(proxy: Proxy) -> AsyncIterator[IProvider]:
    p = create_provider("litellm", base_url=proxy.base_url, api_key=proxy.master_key, max_retries=0)
    yield p
    await p.aclose()


@pytest.fixture
def sync_provider(proxy: Proxy) -> Iterator[IProvider]:
    p = create_provider("litellm", base_url=proxy.base_url, api_key=proxy.master_key, max_retries=0)
    yield p
    p.close()


def _assert_mock_text(response: CompletionResponse) -> None:
    assert response.provider == "litellm"
    assert response.model == "mock-chat"
    assert response.text == MOCK_TEXT
    assert response.message.role == "assistant"
    assert response.message.content == MOCK_TEXT
    assert response.tool_calls == []
    assert response.finish_reason is FinishReason.STOP
    assert response.id is not None and response.id.startswith("chatcmpl-")
    usage = response.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def _assert_no_secret(secret: str, *things: Any) -> None:
    for thing in things:
        assert secret not in str(thing)
        assert secret not in repr(thing)
        if isinstance(thing, BaseException):
            assert secret not in "".join(traceback.format_exception(thing))
            if isinstance(thing, ProviderError):
                assert secret not in repr(thing.body)
                assert secret not in repr(thing.__dict__)


# ------------------------------------------------------------------------------------ whole answers


async def test_generate(provider: IProvider) -> None:
    _assert_mock_text(await provider.generate("mock-chat", "say hello"))


def test_generate_sync(sync_provider: IProvider) -> None:
    _assert_mock_text(sync_provider.generate_sync("mock-chat", "say hello"))


def test_response_cost_header_is_the_provider_cost(proxy: Proxy, sync_provider: IProvider) -> None:
    # What this proxy version sends, asked directly; then the provider must have taken it as the call's cost.
    body = json.dumps({"model": "mock-chat", "messages": [{"role": "user", "content": "say hello"}]}).encode()
    request = urllib.request.Request(proxy.base_url + "/chat/completions", data=body, method="POST", headers={
        "Authorization": f"Bearer {proxy.master_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as raw:
        sent = cost_from_headers(dict(raw.headers.items()))
    response = sync_provider.generate_sync("mock-chat", "say hello")
    assert response.request_id is not None
    if sent is None:
        pytest.skip("this LiteLLM version sends no readable x-litellm-response-cost")
    assert response.usage.cost_source == "provider" and response.usage.cost_usd == pytest.approx(sent)


async def test_generate_tool_call(provider: IProvider) -> None:
    response = await provider.generate("mock-tool", "weather in Paris?", tools=[WEATHER_TOOL])
    assert response.tool_calls == [ToolCall(id="call_mock_1", name="get_weather", arguments={"city": "Paris"})]
    assert response.message.tool_calls == response.tool_calls
    # LiteLLM's mock says finish_reason "stop" next to the tool call; the converter reports the call.
    assert response.raw_finish_reason == "stop"
    assert response.finish_reason is FinishReason.TOOL_CALLS


# ------------------------------------------------------------------------------------ streaming


async def test_stream(provider: IProvider) -> None:
    async with provider.stream("mock-chat", "say hello") as stream:
        _assert_mock_stream([event async for event in stream])


def test_stream_sync(sync_provider: IProvider) -> None:
    with sync_provider.stream_sync("mock-chat", "say hello") as stream:
        _assert_mock_stream(list(stream))


def _assert_mock_stream(events: list[Any]) -> None:
    deltas = [e.delta for e in events if isinstance(e, TextDeltaEvent)]
    assert len(deltas) > 1, "LiteLLM streams a mock answer in small pieces"
    assert "".join(deltas) == MOCK_TEXT

    dones = [e for e in events if isinstance(e, DoneEvent)]
    assert len(dones) == 1 and events[-1] is dones[0], "exactly one done event, last"
    _assert_mock_text(dones[0].response)

    # We ask for stream_options.include_usage; LiteLLM answers with a usage chunk before [DONE].
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert len(usages) == 1
    assert dones[0].response.usage == usages[0]


# ------------------------------------------------------------------------------------ model listing


async def test_list_models(provider: IProvider) -> None:
    models = await provider.list_models()
    assert {m.id for m in models} == CONFIGURED_MODELS
    assert all(m.provider == "litellm" for m in models)


def test_list_models_sync(sync_provider: IProvider) -> None:
    assert {m.id for m in sync_provider.list_models_sync()} == CONFIGURED_MODELS


# ------------------------------------------------------------------------------------ errors and keys


async def test_unknown_model_is_invalid_request(proxy: Proxy, provider: IProvider) -> None:
    # LiteLLM answers an unknown model with 400 (not 404): "Invalid model name passed in model=...".
    with pytest.raises(InvalidRequestError) as info:
        await provider.generate("no-such-model", "hello")
    err = info.value
    assert type(err) is InvalidRequestError
    assert not isinstance(err, NotFoundError)
    assert err.status_code == 400
    assert err.provider == "litellm"
    assert "Invalid model name" in err.message and "no-such-model" in err.message
    assert err.request_id  # LiteLLM's x-litellm-call-id, for its logs
    _assert_no_secret(proxy.master_key, err, provider)


async def test_wrong_key_is_rejected_and_not_leaked(proxy: Proxy) -> None:
    wrong_key = "sk-agentos-wrong-" + secrets.token_hex(16)
    bad = create_provider("litellm", base_url=proxy.base_url, api_key=wrong_key, max_retries=0)
    try:
        with pytest.raises(ProviderError) as info:
            await bad.generate("mock-chat", "hello")
    finally:
        await bad.aclose()
    err = info.value
    # Without a database LiteLLM cannot look up virtual keys and answers 400 "No connected db."
    # rather than 401; either way the class must follow the status.
    assert err.status_code in (400, 401), _tail(proxy.log)
    assert type(err) is (AuthenticationError if err.status_code == 401 else InvalidRequestError)
    _assert_no_secret(wrong_key, err, bad)
    _assert_no_secret(proxy.master_key, err, bad)


def test_master_key_absent_from_provider_repr(proxy: Proxy, sync_provider: IProvider) -> None:
    _assert_no_secret(proxy.master_key, sync_provider)
    assert proxy.base_url in repr(sync_provider)  # the repr is informative, just keyless
