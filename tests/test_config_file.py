"""The config file as every entry point reads it: schema errors, key sources, profiles, from_env, describe.

No provider here is called over the network: they point at http://127.0.0.1:9/v1 or are `FakeProvider`s.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.credentials import load_config, load_settings
from agentos_llm.defaults import ORDER_ENV_VAR, PROVIDERS
from agentos_llm.errors import ConfigurationError, InvalidRequestError, ProviderError
from agentos_llm.key_sources import clear_key_cache
from agentos_llm.testing import FakeProvider

UNROUTABLE = "http://127.0.0.1:9/v1"
SECRET = "sk-cfgtest-0123456789abcdefSECRET"
KEY_VARS = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env, spec.base_url_env) if v}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real key, base URL or config file of the machine running the tests leaks in."""
    for name in (*KEY_VARS, ORDER_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "no-such-config.toml"))
    clear_key_cache()
    yield
    clear_key_cache()


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def env_for(path: Path, **values: str) -> dict[str, str]:
    return {"AGENTOS_LLM_CONFIG": str(path), **values}


def py(code: str) -> list[str]:
    """A key_command running this interpreter (no shell involved)."""
    return [sys.executable, "-c", code]


def toml_list(argv: list[str]) -> str:
    return "[" + ", ".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in argv) + "]"


# ====================================================================== errors people can act on


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\napi_key = "x"\nbase_url = \n')
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3, column" in message
    assert "docs/credentials.md" in message


def test_a_typo_names_file_line_key_and_the_nearest_key_and_never_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, f'# mine\n\n[providers.openai]\nbase_url = "{UNROUTABLE}"\napi_kye = "{SECRET}"\n')
    with pytest.raises(ConfigurationError) as info:
        create_provider("openai", env=env_for(path))
    message = str(info.value)
    assert str(path) in message
    assert "line 5: [providers.openai] has an unknown key 'api_kye': did you mean 'api_key'?" in message
    assert SECRET not in message and "SECRET" not in message


@pytest.mark.parametrize(("text", "expected"), [
    ('default_model = "gpt-4o"\n', 'line 1: default_model: not "provider/model"'),
    ('[providers.openai]\nkey_env = "not a name"\n', "line 2: [providers.openai] key_env: not an environment"),
    ('[providers.openai]\nbase_url = "ftp://x"\n', "line 2: [providers.openai] base_url: not an http(s) URL"),
    ('[providers.openai]\nkey_command = 5\n', "line 2: [providers.openai] key_command: has the wrong type; write it"),
    ('[providers.openai]\napi_key = "a"\nkey_env = "B"\n', "[providers.openai]: api_key and key_env are both set"),
    ('[providers.openai]\nprofile = "wrok"\n[providers.openai.profiles.work]\nkey_env = "W"\n',
     "profile 'wrok' has no [profiles.wrok] table (profiles: work); did you mean 'work'?"),
    ('[providers.openai.profiles.work]\nkye_env = "W"\n',
     "line 2: [providers.openai.profiles.work] has an unknown key 'kye_env': did you mean 'key_env'?"),
    ('[providers.openai]\napi_key = 42\n', "set OPENAI_API_KEY"),
    ('[provider.openai]\napi_key = "x"\n', "has an unknown key 'provider': did you mean 'providers'?"),
])
def test_schema_errors_say_where_and_how_to_fix(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_free_form_tables_are_accepted_and_kept(tmp_path: Path) -> None:
    path = write(tmp_path, """
default_model = "openai/gpt-4o"
[routes]
fast = ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]
[providers.openai]
api_key = "sk-x-000000000000"
auth = "api_key"
[providers.openai.oauth]
issuer = "https://id.example"
future_key = 1
[providers.openai.prices."my-model"]
input = 1.0
[providers.litellm]
quota = "litellm"
""")
    settings = load_settings(path)
    assert settings.routes == {"fast": ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]}  # checked: test_routes
    assert settings.providers["openai"].oauth == {"issuer": "https://id.example", "future_key": 1}
    assert settings.providers["litellm"].quota == "litellm"


def test_from_env_and_the_cli_refuse_a_broken_file_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\napi_key = "sk-x-0000000000"\nmodels = "gpt-4o"\n')
    with pytest.raises(ConfigurationError, match=r"line 3: \[providers.openai\] models"):
        AIModelProviderManager.from_env(env=env_for(path))
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    done = subprocess.run([sys.executable, "-m", "agentos_llm.cli", "providers"], capture_output=True, text=True,
                          env={**env, "AGENTOS_LLM_CONFIG": str(path)}, timeout=120)
    assert done.returncode == 2
    assert str(path) in done.stderr and "line 3" in done.stderr


def test_an_explicit_key_goes_on_despite_a_broken_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "not toml [")
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        p = create_provider("openai", api_key="sk-arg-000000000000", base_url=UNROUTABLE, env=env_for(path))
    assert p.credential_source == "argument"
    assert "ignoring the config file" in caplog.text and str(path) in caplog.text


# ====================================================================== from_env, default_model, describe


def test_from_env_registers_providers_with_a_key_only_in_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
[providers.groq]
api_key = "{SECRET}"
default_model = "llama-3.1-8b-instant"

[providers.ollama]
base_url = "http://127.0.0.1:9/v1"

[providers.fireworks.prices."m"]
input = 1
""")
    m = AIModelProviderManager.from_env(env=env_for(path, OPENAI_API_KEY="sk-env-0000000000000"))
    assert list(m.providers) == ["openai", "groq", "ollama"]  # auto-detect order; prices alone register nothing
    groq = m.providers["groq"]
    assert groq.credential_source == f"config:{path}"
    assert groq.default_model == "llama-3.1-8b-instant"
    assert groq.default_model_source == f"config:{path}"
    assert m.providers["ollama"].base_url == "http://127.0.0.1:9/v1"
    text = m.describe()
    assert f"groq: configured in {path}; key from config:{path}; default model llama-3.1-8b-instant (from " \
           f"config:{path})" in text
    assert "openai (default): OPENAI_API_KEY is set; key from env:OPENAI_API_KEY; default model gpt-4.1-mini " \
           "(from host default)" in text
    assert SECRET not in text and SECRET not in repr(groq)


def test_a_config_provider_outside_the_order_comes_after_and_a_typo_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, f'[providers.openai-compatible]\nbase_url = "{UNROUTABLE}"\n'
                           '[providers.opnai]\napi_key = "sk-x-0000000000"\n')
    m = AIModelProviderManager.from_env(env=env_for(path))
    assert list(m.providers) == ["openai-compatible"]
    assert "did you mean 'openai'?" in m.skipped["opnai"]


def test_a_config_provider_that_cannot_be_built_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.mistral]\nkey_env = "MY_MISTRAL_KEY"\n')
    m = AIModelProviderManager.from_env(env=env_for(path))
    assert m.providers == {}
    assert m.skipped["mistral"].startswith(f"configured in {path}, but ")
    assert "key_env names MY_MISTRAL_KEY, which is not set" in m.skipped["mistral"]


def test_the_top_level_default_model_is_honoured(tmp_path: Path) -> None:
    path = write(tmp_path, f'default_model = "groq/llama-3.1-8b-instant"\n[providers.groq]\napi_key = "{SECRET}"\n')
    m = AIModelProviderManager.from_env(env=env_for(path, OPENAI_API_KEY="sk-env-0000000000000"))
    route = m.resolve(None)
    assert (route.provider.provider_id, route.model) == ("groq", "llama-3.1-8b-instant")
    assert "the default model groq/llama-3.1-8b-instant" in route.reason and str(path) in route.reason
    assert m.default_provider.provider_id == "groq"  # bare models no catalog knows go there too
    assert m.describe().splitlines()[0] == f"default model: groq/llama-3.1-8b-instant (from config:{path})"
    chosen = AIModelProviderManager.from_env(env=env_for(path, OPENAI_API_KEY="sk-env-0000000000000"),
                                             default="openai")
    assert chosen.resolve(None).provider.provider_id == "openai"  # an explicit default wins


def test_a_default_model_of_an_unconfigured_provider_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, 'default_model = "anthropic/claude-haiku-4-5"\n')
    m = AIModelProviderManager.from_env(env=env_for(path, OPENAI_API_KEY="sk-env-0000000000000"))
    with pytest.raises(ConfigurationError, match=r"'anthropic' is not configured.*ANTHROPIC_API_KEY"):
        m.resolve(None)


# ====================================================================== key sources


def test_key_command_runs_without_a_shell_and_its_output_is_stripped(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    code = f"import pathlib; p = pathlib.Path({str(counter)!r}); p.write_text(p.read_text() + 'x' " \
           f"if p.exists() else 'x'); print('  {SECRET}  ')"
    path = write(tmp_path, f'[providers.openai]\nbase_url = "{UNROUTABLE}"\nkey_command = {toml_list(py(code))}\n')
    first = create_provider("openai", env=env_for(path))
    second = create_provider("openai", env=env_for(path))
    assert first.api_key is not None and first.api_key.get_secret_value() == SECRET
    assert first.credential_source == "key_command:providers.openai"
    assert second.api_key is not None and second.api_key.get_secret_value() == SECRET
    assert counter.read_text() == "x"  # asked once per process
    assert SECRET not in repr(first)


def test_a_string_key_command_is_split_like_a_shell_but_no_shell_runs(tmp_path: Path) -> None:
    marker = tmp_path / "expanded"
    command = f"{sys.executable} -c 'import sys; print(sys.argv[1])' '$(touch {marker})'"
    path = write(tmp_path, f"[providers.openai]\nbase_url = \"{UNROUTABLE}\"\nkey_command = \"\"\"{command}\"\"\"\n")
    p = create_provider("openai", env=env_for(path))
    assert p.api_key is not None and p.api_key.get_secret_value() == f"$(touch {marker})"
    assert not marker.exists()


@pytest.mark.parametrize(("code", "timeout", "expected"), [
    (f"import sys; print('{SECRET}'); print('{SECRET}', file=sys.stderr); sys.exit(3)", None,
     "failed with exit status 3, and wrote 1 line(s) to stderr; run it yourself"),
    ("import time; time.sleep(30)", 0.3, "did not finish within 0.3 s"),
    ("print('')", None, "printed nothing"),
    (f"print('{SECRET}'); print('{SECRET}')", None, "printed 2 lines"),
])
def test_key_command_failures_never_show_what_it_printed(tmp_path: Path, code: str, timeout: float | None,
                                                         expected: str) -> None:
    extra = f"key_command_timeout = {timeout}\n" if timeout else ""
    path = write(tmp_path, f'[providers.openai]\nkey_command = {toml_list(py(code))}\n{extra}')
    with pytest.raises(ConfigurationError) as info:
        create_provider("openai", base_url=UNROUTABLE, env=env_for(path))
    message = str(info.value)
    assert expected in message
    assert "[providers.openai] in" in message and os.path.basename(sys.executable) in message
    assert SECRET not in message and "SECRET" not in message
    assert "import" not in message  # nor its arguments


def test_a_missing_key_command_program_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\nkey_command = ["no-such-password-manager-xyz", "read"]\n')
    with pytest.raises(ConfigurationError, match="'no-such-password-manager-xyz' is not installed or not on PATH"):
        create_provider("openai", base_url=UNROUTABLE, env=env_for(path))


def test_key_env_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, f'[providers.openai]\nbase_url = "{UNROUTABLE}"\nkey_env = "MY_WORK_KEY"\n')
    p = create_provider("openai", env=env_for(path, MY_WORK_KEY=SECRET))
    assert p.credential_source == "env:MY_WORK_KEY"
    assert p.api_key is not None and p.api_key.get_secret_value() == SECRET


class _MemoryKeyring:
    """Built on keyring's backend plugin API (`KeyringBackend`), holding passwords in a dict."""

    @staticmethod
    def make() -> Any:
        from keyring.backend import KeyringBackend

        class MemoryKeyring(KeyringBackend):
            priority = 1

            def __init__(self) -> None:
                super().__init__()  # type: ignore[no-untyped-call]
                self.store: dict[tuple[str, str], str] = {}

            def get_password(self, service: str, username: str) -> str | None:
                return self.store.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self.store[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                self.store.pop((service, username), None)

        return MemoryKeyring()


@pytest.fixture
def memory_keyring() -> Iterator[Any]:
    keyring = pytest.importorskip("keyring")
    before = keyring.get_keyring()
    backend = _MemoryKeyring.make()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


def test_keyring_true_reads_service_agentos_llm_user_provider(tmp_path: Path, memory_keyring: Any) -> None:
    memory_keyring.set_password("agentos-llm", "openai", SECRET)
    memory_keyring.set_password("team-vault", "openai:work", "sk-work-000000000000000")
    path = write(tmp_path, f"""
[providers.openai]
base_url = "{UNROUTABLE}"
keyring = true
[providers.openai.profiles.work]
keyring = "team-vault"
""")
    p = create_provider("openai", env=env_for(path))
    assert p.credential_source == "keyring:agentos-llm"
    assert p.api_key is not None and p.api_key.get_secret_value() == SECRET
    work = create_provider("openai", profile="work", env=env_for(path))
    assert work.credential_source == "keyring:team-vault#profiles.work"
    assert work.api_key is not None and work.api_key.get_secret_value() == "sk-work-000000000000000"


def test_an_empty_keyring_entry_says_how_to_store_one(tmp_path: Path, memory_keyring: Any) -> None:
    path = write(tmp_path, "[providers.openai]\nkeyring = true\n")
    with pytest.raises(ConfigurationError, match="keyring set agentos-llm openai"):
        create_provider("openai", base_url=UNROUTABLE, env=env_for(path))


# ====================================================================== profiles


PROFILES = f"""
[providers.openai]
base_url = "{UNROUTABLE}"
headers = {{ "X-Team" = "agents", "X-Env" = "prod" }}
models = ["gpt-4o", "gpt-4o-mini"]
profile = "work"

[providers.openai.profiles.work]
api_key = "sk-work-000000000000000"
default_model = "gpt-4o"
headers = {{ "X-Env" = "work" }}

[providers.openai.profiles.personal]
key_env = "PERSONAL_OPENAI_KEY"
base_url = "http://127.0.0.1:9/personal/v1"
"""


def test_the_table_profile_is_the_default_and_its_settings_override(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILES)
    p = create_provider("openai", env=env_for(path))
    assert p.credential_profile == "work"
    assert p.credential_source == f"config:{path}#profiles.work"
    assert (p.default_model, p.default_model_source) == ("gpt-4o", f"config:{path}#profiles.work")
    assert p.base_url == UNROUTABLE  # from the provider table
    assert p.default_headers == {"X-Team": "agents", "X-Env": "work"}
    assert p.allowed_models == ("gpt-4o", "gpt-4o-mini")


def test_create_provider_picks_a_profile_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILES)
    p = create_provider("openai", profile="personal", env=env_for(path, PERSONAL_OPENAI_KEY="sk-p-00000000000000",
                                                                  OPENAI_API_KEY="sk-env-0000000000000"))
    assert p.credential_source == "env:PERSONAL_OPENAI_KEY#profiles.personal"  # an explicit profile beats env
    assert p.base_url == "http://127.0.0.1:9/personal/v1"
    assert p.default_model_source == "host default"


def test_env_beats_the_default_profile(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILES)
    p = create_provider("openai", env=env_for(path, OPENAI_API_KEY="sk-env-0000000000000"))
    assert p.credential_source == "env:OPENAI_API_KEY"
    assert p.credential_profile == "work"  # its other settings still apply
    assert p.default_model == "gpt-4o"


def test_an_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILES)
    with pytest.raises(ConfigurationError, match=r"no profile 'home'.*profiles there: work, personal"):
        create_provider("openai", profile="home", env=env_for(path))


def test_a_profile_without_a_key_uses_the_provider_table_key(tmp_path: Path) -> None:
    path = write(tmp_path, f'[providers.openai]\napi_key = "{SECRET}"\nbase_url = "{UNROUTABLE}"\n'
                           '[providers.openai.profiles.eu]\nbase_url = "http://127.0.0.1:9/eu/v1"\n')
    p = create_provider("openai", profile="eu", env=env_for(path))
    assert p.credential_source == f"config:{path}"
    assert p.base_url == "http://127.0.0.1:9/eu/v1"


def test_the_allowlist_refuses_other_models_before_sending(tmp_path: Path) -> None:
    path = write(tmp_path, PROFILES)
    p = create_provider("openai", env=env_for(path))
    with pytest.raises(InvalidRequestError) as info:
        p.generate_sync("gpt-4.1", "hi")  # would be a connection error had it been sent (port 9)
    assert "not on the allowlist" in str(info.value) and "ensure_model_allowed('openai', 'gpt-4.1')" in str(info.value)
    assert str(path) in str(info.value)


# ====================================================================== file permissions


def test_a_file_others_can_read_gets_a_warning_naming_the_chmod(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, f'[providers.openai]\napi_key = "{SECRET}"\n', mode=0o644)
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        create_provider("openai", base_url=UNROUTABLE, env=env_for(path))
    assert f"run: chmod 600 {path}" in caplog.text
    assert SECRET not in caplog.text


def test_a_private_file_gets_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, f'[providers.openai]\napi_key = "{SECRET}"\n', mode=0o600)
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        create_provider("openai", base_url=UNROUTABLE, env=env_for(path))
    assert "chmod" not in caplog.text


# ====================================================================== no secret anywhere


def test_no_secret_in_reprs_settings_logs_or_cli_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    vault = tmp_path / "vault"
    vault.write_text(SECRET)
    path = write(tmp_path, f"""
default_model = "openai/gpt-4o"
[providers.openai]
base_url = "{UNROUTABLE}"
profile = "a"
headers = {{ Authorization = "Bearer {SECRET}" }}
[providers.openai.profiles.a]
key_command = {toml_list(py(f"print(open({str(vault)!r}).read())"))}
[providers.groq]
api_key = "{SECRET}"
""", mode=0o644)
    with caplog.at_level(logging.DEBUG, logger="agentos_llm"):
        p = create_provider("openai", env=env_for(path))
        m = AIModelProviderManager.from_env(env=env_for(path))
    assert p.api_key is not None and p.api_key.get_secret_value() == SECRET
    for text in (repr(p), repr(load_settings(path)), repr(p._settings), str(p.credential_source), m.describe(),
                 caplog.text):
        assert SECRET not in text
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    outputs = []
    for args in (["providers"], ["chat", "-v", "hi"]):  # chat: the default model, then a connection error on port 9
        done = subprocess.run([sys.executable, "-m", "agentos_llm.cli", *args], capture_output=True, text=True,
                              env={**env, "AGENTOS_LLM_CONFIG": str(path)}, timeout=120, stdin=subprocess.DEVNULL)
        outputs.append(done.stdout + done.stderr)
        assert SECRET not in done.stdout + done.stderr
    assert "key from key_command:providers.openai#profiles.a" in outputs[0]
    assert "[openai/gpt-4o: no model given: the default model openai/gpt-4o" in outputs[1]


# ====================================================================== discovery per credential


class _Accounting(FakeProvider):
    """A fake whose model listing also says which account and plan the key belongs to."""

    fail_listing = False

    def _send(self, op: Any, request: Any, timeout: float | None, headers: Any) -> Any:
        if op == "models":
            if self.fail_listing:
                raise ProviderError("listing refused", provider=self.provider_id)
            return {"data": [{"id": "m1"}], "account": {"id": "acct_42", "plan": "team"}}
        return super()._send(op, request, timeout, headers)

    def _credential_updates(self, payload: Any) -> dict[str, Any] | None:
        account = payload.get("account") or {}
        return {"account_id": account["id"], "plan": account["plan"]}


def test_listing_persists_credential_updates_to_the_profile_it_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, '# keep me\n[providers.acme]\nprofile = "work"\n[providers.acme.profiles.work]\n'
                           'api_key = "acme-key-00000000000"  # the work key\n')
    p = _Accounting(provider_id="acme", env=env_for(path))
    assert [m.id for m in p.list_models_sync()] == ["m1"]
    assert p.last_discovery_error is None
    work = load_settings(path).providers["acme"].profiles["work"]
    assert (work.account_id, work.plan) == ("acct_42", "team")
    text = path.read_text()
    assert "# keep me" in text and "# the work key" in text


def test_an_argument_key_persists_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "[providers.acme]\nplan = \"free\"\n")
    before = path.read_text()
    p = _Accounting(provider_id="acme", api_key="acme-arg-000000000", env=env_for(path))
    p.list_models_sync()
    assert path.read_text() == before


async def test_one_failing_credential_is_recorded_and_never_sinks_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.acme]\napi_key = "acme-key-00000000000"\n'
                           '[providers.beta]\napi_key = "beta-key-00000000000"\n')
    good = _Accounting(provider_id="acme", env=env_for(path))
    bad = _Accounting(provider_id="beta", env=env_for(path))
    bad.fail_listing = True
    m = AIModelProviderManager([bad, good])
    listed = await m.list_models()
    assert ("acme", "m1") in [(i.provider, i.id) for i in listed]
    assert isinstance(bad.last_discovery_error, ProviderError)
    assert good.last_discovery_error is None
    assert load_settings(path).providers["acme"].account_id == "acct_42"
    assert load_settings(path).providers["beta"].account_id is None


def test_a_failed_write_is_recorded_not_raised(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.acme]\nkey_env = "ACME_KEY"\n')

    class Rotating(_Accounting):
        def _credential_updates(self, payload: Any) -> dict[str, Any] | None:
            return {"api_key": "acme-rotated-000000000"}  # a key_env's owner rotates it, not us

    p = Rotating(provider_id="acme", env=env_for(path, ACME_KEY="acme-env-0000000000"))
    assert [m.id for m in p.list_models_sync()] == ["m1"]
    assert isinstance(p.last_discovery_error, ConfigurationError)
    assert "key_env" in str(p.last_discovery_error)
    assert "acme-rotated" not in path.read_text()


# ====================================================================== the OAuth seam (agentos_llm.auth)


def test_auth_oauth_asks_the_auth_module_with_the_merged_oauth_table(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import agentos_llm.auth

    asked: list[tuple[str, str | None, dict[str, Any]]] = []

    def current_token(provider_id: str, profile: str | None, settings: dict[str, Any]) -> tuple[str, str] | None:
        asked.append((provider_id, profile, settings))
        return (SECRET, f"oauth:id.example#{profile or 'default'}") if profile == "work" else None

    monkeypatch.setattr(agentos_llm.auth, "current_token", current_token)
    path = write(tmp_path, f"""
[providers.openai]
base_url = "{UNROUTABLE}"
auth = "oauth"
[providers.openai.oauth]
issuer = "https://id.example"
client_id = "shared"
[providers.openai.profiles.work.oauth]
client_id = "work-client"
""")
    p = create_provider("openai", profile="work", env=env_for(path))
    assert p.api_key is not None and p.api_key.get_secret_value() == SECRET
    assert p.credential_source == "oauth:id.example#work"
    assert asked[-1] == ("openai", "work", {"auth": "oauth", "oauth": {"issuer": "https://id.example",
                                                                         "client_id": "work-client"}})
    with pytest.raises(ConfigurationError, match="nobody has signed in: run `agentos-llm login openai`"):
        create_provider("openai", env=env_for(path))
    m = AIModelProviderManager.from_env(env=env_for(path))
    assert "nobody has signed in" in m.skipped["openai"]


def test_a_loaded_file_is_trusted_for_the_recheck_interval_then_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm import credentials

    path = tmp_path / "config.toml"
    path.write_text('default_model = "openai/gpt-4.1"\n')
    clock = [100.0]
    monkeypatch.setattr(credentials.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(credentials, "CONFIG_RECHECK_SECONDS", 1.0)
    credentials.forget_cached_config()
    assert load_config(path)["default_model"] == "openai/gpt-4.1"
    path.write_text('default_model = "anthropic/claude-sonnet-4-5"\n')
    clock[0] += 0.5
    assert load_config(path)["default_model"] == "openai/gpt-4.1"  # no stat within the interval
    clock[0] += 0.6
    assert load_config(path)["default_model"] == "anthropic/claude-sonnet-4-5"
    path.unlink()
    clock[0] += 1.1
    assert load_config(path) == {}  # a removed file is seen too


def test_the_config_writer_makes_its_own_write_visible_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm import credentials
    from agentos_llm.config_writer import set_default_model

    path = tmp_path / "config.toml"
    path.write_text("[providers.openai]\n")
    monkeypatch.setattr(credentials, "CONFIG_RECHECK_SECONDS", 3600.0)
    credentials.forget_cached_config()
    assert "default_model" not in load_config(path)
    set_default_model("openai/gpt-4.1", path=path)
    assert load_config(path)["default_model"] == "openai/gpt-4.1"
