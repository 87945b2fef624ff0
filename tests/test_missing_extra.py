"""A provider whose extra is not installed fails with the exact pip line, not a bare ImportError.

The missing SDK is simulated in a fresh interpreter by a meta path finder that refuses `openai`
before `agentos_llm` is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PIP_LINE = 'pip install "agentos-llm[openai]"'

_BLOCK = """
import json, os, sys

class _Block:
    blocked = ("openai",)

    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in self.blocked):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for _name in [m for m in sys.modules if m == "openai" or m.startswith("openai.")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _Block())
for _var in [v for v in os.environ if v.endswith(("_API_KEY", "_BASE_URL")) or v.startswith("AGENTOS_LLM")]:
    del os.environ[_var]
os.environ["AGENTOS_LLM_CONFIG"] = os.path.join(os.devnull, "absent.toml")
"""


def run_blocked(body: str) -> dict[str, object]:
    code = _BLOCK + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_block_works() -> None:
    out = run_blocked("""
        try:
            import openai
            print(json.dumps({"blocked": False}))
        except ImportError:
            print(json.dumps({"blocked": True}))
    """)
    assert out == {"blocked": True}


def test_create_provider_raises_missing_dependency_error() -> None:
    out = run_blocked("""
        import agentos_llm
        from agentos_llm.errors import ConfigurationError, MissingDependencyError
        try:
            agentos_llm.create_provider("openai", api_key="x")
        except Exception as exc:
            print(json.dumps({
                "type": type(exc).__name__,
                "module": type(exc).__module__,
                "message": str(exc),
                "missing_dependency": isinstance(exc, MissingDependencyError),
                "configuration": isinstance(exc, ConfigurationError),
                "import_error": isinstance(exc, ImportError),
                "extra": getattr(exc, "extra", None),
                "pip_command": getattr(exc, "pip_command", None),
            }))
        else:
            print(json.dumps({"type": None}))
    """)
    assert out["type"] == "MissingDependencyError", out
    assert out["module"] == "agentos_llm.errors"
    assert PIP_LINE in out["message"]  # type: ignore[operator]
    assert out["missing_dependency"] is True
    assert out["configuration"] is True
    assert out["import_error"] is True
    assert out["extra"] == "openai"
    assert out["pip_command"] == PIP_LINE


def test_compatible_hosts_need_the_openai_extra_too() -> None:
    out = run_blocked("""
        import agentos_llm
        try:
            agentos_llm.create_provider("groq", api_key="x")
        except Exception as exc:
            print(json.dumps({"type": type(exc).__name__, "message": str(exc)}))
        else:
            print(json.dumps({"type": None}))
    """)
    assert out["type"] == "MissingDependencyError"
    assert PIP_LINE in out["message"]  # type: ignore[operator]


def test_from_env_skips_a_provider_whose_extra_is_missing() -> None:
    out = run_blocked("""
        from agentos_llm import AIModelProviderManager
        os.environ["OPENAI_API_KEY"] = "sk-test-openai-key-0000"
        m = AIModelProviderManager.from_env()
        print(json.dumps({"providers": list(m.providers), "skipped": m.skipped, "describe": m.describe()}))
    """)
    assert out["providers"] == []
    skipped = out["skipped"]
    assert isinstance(skipped, dict)
    assert set(skipped) == {"openai"}
    assert PIP_LINE in skipped["openai"]
    assert "OPENAI_API_KEY" in skipped["openai"]
    assert "openai: skipped" in out["describe"]  # type: ignore[operator]
    assert "sk-test-openai-key-0000" not in json.dumps(out)


def test_from_env_with_env_mapping_skips_it_too() -> None:
    out = run_blocked("""
        from agentos_llm import AIModelProviderManager
        env = {"OPENAI_API_KEY": "sk-a", "AGENTOS_LLM_CONFIG": os.environ["AGENTOS_LLM_CONFIG"]}
        m = AIModelProviderManager.from_env(env=env)
        print(json.dumps({"providers": list(m.providers), "skipped": m.skipped}))
    """)
    assert out["providers"] == []
    assert PIP_LINE in out["skipped"]["openai"]  # type: ignore[index]


def test_other_import_errors_are_not_disguised() -> None:
    # Only the SDK's own absence becomes MissingDependencyError; a broken implementation module
    # still raises its real ImportError.
    out = run_blocked("""
        _Block.blocked = ("agentos_llm.wire",)
        import agentos_llm
        try:
            agentos_llm.create_provider("openai", api_key="x")
        except Exception as exc:
            print(json.dumps({"type": type(exc).__name__, "message": str(exc)}))
        else:
            print(json.dumps({"type": None}))
    """)
    assert out["type"] == "ModuleNotFoundError", out
    assert "agentos_llm.wire" in out["message"]  # type: ignore[operator]
