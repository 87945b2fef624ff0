"""`import agentos_llm` stays cheap: no vendor SDK and no HTTP client until a provider is created.

Each check runs in a fresh interpreter, because the test process itself has long imported openai.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import agentos_llm

HEAVY = ("openai", "anthropic", "google.genai", "httpx", "httpx2", "aiohttp", "boto3", "botocore", "aiobotocore",
         "cohere")

_PROBE = """
import json, sys
HEAVY = {heavy!r}
def loaded():
    return sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
"""


def run_child(body: str) -> dict[str, object]:
    """Runs `body` in a fresh interpreter; it prints one JSON object as its last line."""
    code = _PROBE.format(heavy=HEAVY) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_probe_sees_a_loaded_sdk() -> None:
    # Guards the probe itself: if it could never see a module, the tests below would prove nothing.
    out = run_child("""
        import openai
        print(json.dumps({"loaded": loaded()}))
    """)
    assert "openai" in out["loaded"]  # type: ignore[operator]


def test_import_loads_no_vendor_sdk_or_http_client() -> None:
    out = run_child("""
        import agentos_llm
        print(json.dumps({"loaded": loaded(), "version": agentos_llm.__version__}))
    """)
    assert out["loaded"] == []
    assert out["version"] == agentos_llm.__version__


def test_public_names_and_types_load_no_vendor_sdk() -> None:
    out = run_child("""
        import agentos_llm
        agentos_llm.create_provider
        agentos_llm.define_provider
        agentos_llm.AIModelProviderManager
        agentos_llm.types
        agentos_llm.errors
        agentos_llm.Message
        agentos_llm.MissingDependencyError
        print(json.dumps({"loaded": loaded(),
                          "submodules": sorted(m for m in sys.modules if m.startswith("agentos_llm."))}))
    """)
    assert out["loaded"] == []
    # The names really were resolved, from their modules.
    assert "agentos_llm.registry" in out["submodules"]  # type: ignore[operator]
    assert "agentos_llm.types" in out["submodules"]  # type: ignore[operator]
    assert "agentos_llm.providers.openai" not in out["submodules"]  # type: ignore[operator]


def test_creating_an_openai_provider_loads_openai() -> None:
    out = run_child("""
        import agentos_llm
        before = loaded()
        p = agentos_llm.create_provider("openai", api_key="sk-test", base_url="http://127.0.0.1:9/v1")
        print(json.dumps({"before": before, "after": loaded(), "id": p.provider_id}))
    """)
    assert out["before"] == []
    assert "openai" in out["after"]  # type: ignore[operator]
    assert out["id"] == "openai"
    # Only the SDK this provider needs: the other vendors' SDKs stay unloaded.
    for other in ("anthropic", "google.genai"):
        assert not any(m == other or m.startswith(other + ".") for m in out["after"])  # type: ignore[union-attr]


def test_dir_lists_public_names() -> None:
    names = dir(agentos_llm)
    for name in (
        "create_provider",
        "define_provider",
        "provider_env",
        "provider_value",
        "AIModelProviderManager",
        "IProvider",
        "Message",
        "CompletionResponse",
        "ConfigurationError",
        "MissingDependencyError",
        "__version__",
        "types",
        "errors",
    ):
        assert name in names
    assert names == sorted(names)
    assert set(agentos_llm.__all__) <= set(names)


def test_every_listed_name_resolves() -> None:
    for name in agentos_llm.__all__:
        assert getattr(agentos_llm, name) is not None


def test_public_names_are_the_defining_objects() -> None:
    from agentos_llm import errors, registry, types

    assert agentos_llm.create_provider is registry.create_provider
    assert agentos_llm.Message is types.Message
    assert agentos_llm.ConfigurationError is errors.ConfigurationError


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        agentos_llm.no_such_name  # noqa: B018
    assert not hasattr(agentos_llm, "OpenAIProvider")
    with pytest.raises(ImportError):
        from agentos_llm import no_such_name  # type: ignore[attr-defined]  # noqa: F401
