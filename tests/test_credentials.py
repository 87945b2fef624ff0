"""Where keys and base URLs come from: argument, then env, then the config file, then the row default.

No provider here is ever called: they point at http://127.0.0.1:9/v1 or are only constructed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from agentos_llm import create_provider
from agentos_llm.credentials import config_path, load_config, resolve_base_url, resolve_credential
from agentos_llm.defaults import PROVIDERS, get_spec
from agentos_llm.errors import ConfigurationError, ProviderError
from agentos_llm.redaction import redact

UNROUTABLE = "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real key, base URL or config file of the machine running the tests leaks in."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "no-such-config.toml"))
    yield


def write_config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def env_with(config: Path | None, **values: str) -> dict[str, str]:
    env = dict(values)
    env["AGENTOS_LLM_CONFIG"] = str(config) if config else "/dev/null/absent.toml"
    return env


# ------------------------------------------------------------------ key resolution order


def test_argument_beats_env_and_config(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.openai]\napi_key = "sk-from-config-000000"\n')
    p = create_provider(
        "openai",
        api_key="sk-from-argument-0000",
        base_url=UNROUTABLE,
        env=env_with(cfg, OPENAI_API_KEY="sk-from-env-0000000"),
    )
    assert p.api_key is not None
    assert p.api_key.get_secret_value() == "sk-from-argument-0000"
    assert p.credential_source == "argument"


def test_env_beats_config(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.openai]\napi_key = "sk-from-config-000000"\n')
    p = create_provider("openai", base_url=UNROUTABLE, env=env_with(cfg, OPENAI_API_KEY="sk-from-env-0000000"))
    assert p.api_key is not None
    assert p.api_key.get_secret_value() == "sk-from-env-0000000"
    assert p.credential_source == "env:OPENAI_API_KEY"


def test_config_file_is_the_last_resort(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.openai]\napi_key = "sk-from-config-000000"\n')
    p = create_provider("openai", base_url=UNROUTABLE, env=env_with(cfg))
    assert p.api_key is not None
    assert p.api_key.get_secret_value() == "sk-from-config-000000"
    assert p.credential_source == f"config:{cfg}"


def test_config_file_named_by_the_real_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path, '[providers.groq]\napi_key = "gsk-from-config"\n')
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(cfg))
    p = create_provider("groq", base_url=UNROUTABLE)
    assert p.credential_source == f"config:{cfg}"


def test_config_path_defaults_under_xdg_config_home(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "agentos-llm" / "config.toml"
    assert config_path({"AGENTOS_LLM_CONFIG": str(tmp_path / "x.toml"), "XDG_CONFIG_HOME": "/elsewhere"}) == (
        tmp_path / "x.toml"
    )
    xdg = tmp_path / "xdg"
    (xdg / "agentos-llm").mkdir(parents=True)
    (xdg / "agentos-llm" / "config.toml").write_text('[providers.openai]\napi_key = "sk-xdg-0000000000"\n')
    cred = resolve_credential(get_spec("openai"), env={"XDG_CONFIG_HOME": str(xdg)})
    assert cred.source == f"config:{xdg / 'agentos-llm' / 'config.toml'}"


def test_first_of_several_env_vars_wins() -> None:
    spec = get_spec("gemini")
    assert spec.key_env == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    both = resolve_credential(spec, env=env_with(None, GEMINI_API_KEY="AIza-gemini", GOOGLE_API_KEY="AIza-google"))
    assert both.api_key is not None
    assert both.api_key.get_secret_value() == "AIza-gemini"
    assert both.source == "env:GEMINI_API_KEY"
    second = resolve_credential(spec, env=env_with(None, GOOGLE_API_KEY="AIza-google"))
    assert second.api_key is not None
    assert second.api_key.get_secret_value() == "AIza-google"
    assert second.source == "env:GOOGLE_API_KEY"


def test_an_empty_env_var_counts_as_unset() -> None:
    cred = resolve_credential(get_spec("gemini"), env=env_with(None, GEMINI_API_KEY="", GOOGLE_API_KEY="AIza-g"))
    assert cred.source == "env:GOOGLE_API_KEY"


def test_config_section_of_another_provider_is_not_used(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.groq]\napi_key = "gsk-groq-only"\n')
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        create_provider("openai", base_url=UNROUTABLE, env=env_with(cfg))


# ------------------------------------------------------------------ missing and keyless


def test_missing_required_key_names_the_env_var() -> None:
    with pytest.raises(ConfigurationError) as info:
        create_provider("openai", base_url=UNROUTABLE, env=env_with(None))
    message = str(info.value)
    assert "OPENAI_API_KEY" in message
    assert "[providers.openai]" in message


def test_missing_key_names_every_env_var_of_the_row() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_credential(get_spec("gemini"), env=env_with(None))
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in str(info.value)


def test_missing_key_error_is_not_a_provider_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        create_provider("mistral", base_url=UNROUTABLE, env=env_with(None))
    assert not isinstance(info.value, ProviderError)
    assert "MISTRAL_API_KEY" in str(info.value)


def test_keyless_row_needs_no_key() -> None:
    p = create_provider("ollama", env=env_with(None))
    assert p.api_key is None
    assert p.credential_source is None
    assert p.base_url == "http://localhost:11434/v1"


def test_keyless_row_still_takes_a_key_when_given() -> None:
    p = create_provider("ollama", env=env_with(None, OLLAMA_API_KEY="ollama-secret-key"))
    assert p.credential_source == "env:OLLAMA_API_KEY"


# ------------------------------------------------------------------ base URL


def test_base_url_argument_wins(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.openai]\napi_key = "sk-c-000000000000"\nbase_url = "http://cfg/v1"\n')
    p = create_provider("openai", base_url="http://arg/v1", env=env_with(cfg, OPENAI_BASE_URL="http://env/v1"))
    assert p.base_url == "http://arg/v1"


def test_base_url_env_beats_config(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.openai]\napi_key = "sk-c-000000000000"\nbase_url = "http://cfg/v1"\n')
    p = create_provider("openai", env=env_with(cfg, OPENAI_BASE_URL="http://env/v1"))
    assert p.base_url == "http://env/v1"


def test_base_url_config_beats_row_default(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[providers.openai]\napi_key = "sk-c-000000000000"\nbase_url = "http://cfg/v1"\n')
    p = create_provider("openai", env=env_with(cfg))
    assert p.base_url == "http://cfg/v1"


def test_base_url_row_default_last() -> None:
    p = create_provider("openai", api_key="sk-test", env=env_with(None))
    assert p.base_url == "https://api.openai.com/v1"
    spec = get_spec("groq")
    assert resolve_base_url(spec, None, env=env_with(None)) == "https://api.groq.com/openai/v1"
    assert resolve_base_url(spec, None, env=env_with(None, GROQ_BASE_URL="http://g/v1")) == "http://g/v1"


def test_compatible_endpoint_without_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_BASE_URL"):
        create_provider("openai-compatible", env=env_with(None))
    p = create_provider("openai-compatible", env=env_with(None, OPENAI_COMPATIBLE_BASE_URL=UNROUTABLE))
    assert p.base_url == UNROUTABLE
    assert p.credential_source is None


# ------------------------------------------------------------------ secrecy


KEY = "sk-proj-supersecretvalue-1234567890"


@pytest.mark.parametrize("source", ["argument", "env", "config"])
def test_repr_and_str_never_show_the_key(source: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f'[providers.openai]\napi_key = "{KEY}"\n')
    if source == "argument":
        p = create_provider("openai", api_key=KEY, base_url=UNROUTABLE, env=env_with(None))
    elif source == "env":
        p = create_provider("openai", base_url=UNROUTABLE, env=env_with(None, OPENAI_API_KEY=KEY))
    else:
        p = create_provider("openai", base_url=UNROUTABLE, env=env_with(cfg))
    assert p.api_key is not None and p.api_key.get_secret_value() == KEY
    for text in (repr(p), str(p), f"{p}", repr(p.api_key), str(p.api_key), repr(vars(p).get("_api_key"))):
        assert KEY not in text
        assert "supersecret" not in text
    assert "credential_source" in repr(p)


def test_api_key_is_a_secret_str() -> None:
    p = create_provider("openai", api_key="sk-test-0000000000", base_url=UNROUTABLE, env=env_with(None))
    assert isinstance(p.api_key, SecretStr)
    assert p.api_key.get_secret_value() == "sk-test-0000000000"
    given = SecretStr("sk-given-as-secret")
    q = create_provider("openai", api_key=given, base_url=UNROUTABLE, env=env_with(None))  # type: ignore[arg-type]
    assert isinstance(q.api_key, SecretStr)
    assert q.api_key.get_secret_value() == "sk-given-as-secret"


def test_a_resolved_key_is_redacted_from_errors() -> None:
    odd_key = f"zz-not-a-known-shape-{uuid.uuid4().hex}"  # no vendor key shape: masked only once registered
    assert odd_key in redact(f"key {odd_key}")
    create_provider("openai", base_url=UNROUTABLE, env=env_with(None, OPENAI_API_KEY=odd_key))
    err = ProviderError(f"upstream echoed {odd_key} back", provider="openai", body={"echo": odd_key})
    assert odd_key not in str(err)
    assert odd_key not in repr(err)
    assert odd_key not in str(err.body)


# ------------------------------------------------------------------ the config file


def test_broken_toml_is_a_configuration_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[providers.openai\napi_key = ")
    with pytest.raises(ConfigurationError) as info:
        load_config(cfg)
    assert str(cfg) in str(info.value)
    with pytest.raises(ConfigurationError):
        create_provider("openai", base_url=UNROUTABLE, env=env_with(cfg))


def test_broken_toml_is_not_read_when_the_key_comes_first(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "not toml at all [")
    p = create_provider("openai", api_key="sk-arg-00000000000", base_url=UNROUTABLE, env=env_with(cfg))
    assert p.credential_source == "argument"


def test_absent_config_file_is_empty(tmp_path: Path) -> None:
    assert load_config(tmp_path / "missing.toml") == {}


def test_non_string_config_key_is_ignored(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[providers.openai]\napi_key = 42\n")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        create_provider("openai", base_url=UNROUTABLE, env=env_with(cfg))
