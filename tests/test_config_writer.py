"""Writing the config file: comments kept, atomic 0600 writes, a lock between processes, consistent edits."""

from __future__ import annotations

import logging
import multiprocessing
import os
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agentos_llm.config_writer import (
    apply_provider_config,
    edit_config,
    ensure_model_allowed,
    set_default_model,
    update_credential,
)
from agentos_llm.credentials import load_settings
from agentos_llm.errors import ConfigurationError

COMMENTED = """\
# My agent's providers.  Keep this comment.
default_model = "openai/gpt-4o"   # the usual one

[routes]
# routes: model ids tried in order
fast = ["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini"]   # cheap first

[providers.openai]   # work account
api_key = "sk-writer-00000000000000"
models = [
    "gpt-4o",        # main
    "gpt-4o-mini",
]

[providers.openai.oauth]
issuer = "https://id.example"   # not in use
some_later_setting = 3

[providers.litellm.quota]
preset = "litellm"
"""


def write(tmp_path: Path, text: str = COMMENTED, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ====================================================================== round trips


def test_an_edit_keeps_every_comment_and_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path)
    apply_provider_config("openai", default_model="gpt-4.1", path=path)
    text = path.read_text()
    for line in COMMENTED.splitlines():
        if "models = [" in line or line.strip() in ('"gpt-4o-mini",', "]"):
            continue  # the allowlist grows (below)
        assert line in text, line
    settings = load_settings(path)
    openai = settings.providers["openai"]
    assert openai.default_model == "gpt-4.1"
    assert openai.models == ["gpt-4o", "gpt-4o-mini", "gpt-4.1"]  # the default is kept allowed
    assert settings.routes == {"fast": ["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini"]}
    assert "# main" in text


def test_a_no_op_edit_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = path.read_bytes()
    assert ensure_model_allowed("openai", "gpt-4o", path=path) is False
    with edit_config(path):
        pass
    assert path.read_bytes() == before


def test_writes_are_0600_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    path = write(tmp_path, mode=0o644)
    inode = path.stat().st_ino
    set_default_model("openai/gpt-4o-mini", path=path)
    assert mode_of(path) == 0o600
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.lock"]


def test_a_new_file_and_its_directory_are_created_private(tmp_path: Path) -> None:
    path = tmp_path / "xdg" / "agentos-llm" / "config.toml"
    apply_provider_config("groq", api_key="gsk-writer-000000000000", path=path)
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    assert load_settings(path).providers["groq"].api_key is not None


def test_a_symlinked_file_is_written_through_the_link(tmp_path: Path) -> None:
    real = write(tmp_path)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    set_default_model("openai/gpt-4o-mini", path=link)
    assert link.is_symlink()
    assert load_settings(real).default_model == "openai/gpt-4o-mini"


def test_the_config_env_var_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    set_default_model("openai/gpt-4o-mini", env={"AGENTOS_LLM_CONFIG": str(path)})
    assert load_settings(path).default_model == "openai/gpt-4o-mini"


def test_an_edit_that_breaks_the_file_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = path.read_text()
    with pytest.raises(ConfigurationError, match="default_model"), edit_config(path) as doc:
        doc["default_model"] = "no-provider-prefix"
    with pytest.raises(ConfigurationError, match="one of api_key"):
        apply_provider_config("openai", api_key="a", key_env="B", path=path)
    with pytest.raises(ConfigurationError, match='written "provider/model"'):
        set_default_model("gpt-4o", path=path)
    assert path.read_text() == before


def test_a_mistake_already_in_the_file_is_kept_and_does_not_block_other_edits(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, '[providers.openai]\napi_key = "sk-x-000000000000"\nmy_note = "mine"\n')
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        apply_provider_config("groq", key_env="GROQ_WORK_KEY", path=path)
    text = path.read_text()
    assert 'my_note = "mine"' in text and 'key_env = "GROQ_WORK_KEY"' in text
    assert "unknown key 'my_note'" in caplog.text


def test_a_file_that_is_not_toml_is_not_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path, "not = [toml\n")
    with pytest.raises(ConfigurationError, match=r"line \d+, column \d+"):
        set_default_model("openai/gpt-4o", path=path)
    assert path.read_text() == "not = [toml\n"


# ====================================================================== consistent onboarding edits


def test_a_key_method_replaces_the_others_in_its_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\napi_key = "sk-old-0000000000000"\nauth = "oauth"\n'
                           '[providers.openai.oauth]\nissuer = "https://id.example"\n')
    apply_provider_config("openai", key_command=["op", "read", "op://Work/OpenAI/key"], path=path)
    openai = load_settings(path).providers["openai"]
    assert openai.api_key is None and openai.auth is None
    assert openai.key_command == ["op", "read", "op://Work/OpenAI/key"]
    assert openai.oauth == {"issuer": "https://id.example"}  # kept, unused


def test_a_first_profile_becomes_the_default_but_never_replaces_one(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    apply_provider_config("openai", key_env="WORK_KEY", profile="work", path=path)
    apply_provider_config("openai", key_env="HOME_KEY", profile="home", path=path)
    openai = load_settings(path).providers["openai"]
    assert openai.profile == "work"
    assert {n: p.key_env for n, p in openai.profiles.items()} == {"work": "WORK_KEY", "home": "HOME_KEY"}
    apply_provider_config("groq", api_key="gsk-own-00000000000000", path=path)
    apply_provider_config("groq", key_env="GROQ_CI", profile="ci", path=path)
    assert load_settings(path).providers["groq"].profile is None  # groq has a key of its own


def test_models_replace_the_allowlist_and_keep_the_default_on_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\nkey_env = "K"\ndefault_model = "gpt-4o"\n')
    apply_provider_config("openai", models=["gpt-4.1", "gpt-4.1"], path=path)
    assert load_settings(path).providers["openai"].models == ["gpt-4.1", "gpt-4o"]


def test_ensure_model_allowed_appends_once_and_only_to_an_existing_list(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert ensure_model_allowed("openai", "o3", path=path) is True
    assert ensure_model_allowed("openai", "o3", path=path) is False
    assert load_settings(path).providers["openai"].models == ["gpt-4o", "gpt-4o-mini", "o3"]
    before = path.read_text()
    assert ensure_model_allowed("groq", "anything", path=path) is False  # no allowlist: all allowed
    assert path.read_text() == before


def test_ensure_model_allowed_uses_the_profile_list_when_it_has_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\nmodels = ["a"]\nprofile = "w"\n'
                           '[providers.openai.profiles.w]\nkey_env = "K"\nmodels = ["b"]\n')
    ensure_model_allowed("openai", "c", path=path)
    openai = load_settings(path).providers["openai"]
    assert (openai.models, openai.profiles["w"].models) == (["a"], ["b", "c"])


def test_set_default_model_puts_the_model_on_the_allowlist(tmp_path: Path) -> None:
    path = write(tmp_path)
    set_default_model("openai/o4-mini", path=path)
    settings = load_settings(path)
    assert settings.default_model == "openai/o4-mini"
    assert settings.providers["openai"].models == ["gpt-4o", "gpt-4o-mini", "o4-mini"]
    assert '# the usual one' in path.read_text()


def test_update_credential_writes_discovered_fields_to_the_profile(tmp_path: Path) -> None:
    path = write(tmp_path)
    when = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
    update_credential("openai", "work", account_id="acct_1", project_id="proj_9", plan="team", next_refresh=when,
                      path=path)
    update_credential("openai", None, plan="enterprise", path=path)
    openai = load_settings(path).providers["openai"]
    work = openai.profiles["work"]
    assert (work.account_id, work.project_id, work.plan, work.next_refresh) == ("acct_1", "proj_9", "team", when)
    assert openai.plan == "enterprise"
    update_credential("openai", "work", plan=None, path=path)
    assert load_settings(path).providers["openai"].profiles["work"].plan is None


def test_update_credential_refuses_unknown_fields_and_foreign_key_rotation(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\nkey_command = "op read x"\n')
    with pytest.raises(ConfigurationError, match="did you mean account_id"):
        update_credential("openai", None, acount_id="x", path=path)
    with pytest.raises(ConfigurationError, match="comes from key_command"):
        update_credential("openai", None, api_key="sk-rotated-0000000000", path=path)
    assert "rotated" not in path.read_text()
    path.write_text('[providers.openai]\napi_key = "sk-old-0000000000000"\n')
    update_credential("openai", None, api_key="sk-rotated-0000000000", path=path)
    secret = load_settings(path).providers["openai"].api_key
    assert secret is not None and secret.get_secret_value() == "sk-rotated-0000000000"


# ====================================================================== concurrent writers


def _writer(path: str, worker: int, rounds: int) -> None:
    for r in range(rounds):
        update_credential("openai", f"p{worker}", account_id=f"acct-{worker}-{r}", path=Path(path))
        ensure_model_allowed("openai", f"model-{worker}-{r}", path=Path(path))


def test_concurrent_processes_never_lose_an_update(tmp_path: Path) -> None:
    path = write(tmp_path)
    workers, rounds = 6, 5
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, rounds)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    openai = load_settings(path).providers["openai"]
    assert {n: p.account_id for n, p in openai.profiles.items()} == {
        f"p{w}": f"acct-{w}-{rounds - 1}" for w in range(workers)}
    expected = {f"model-{w}-{r}" for w in range(workers) for r in range(rounds)}
    assert openai.models is not None and expected <= set(openai.models)
    assert len(openai.models) == 2 + workers * rounds
    assert "# My agent's providers.  Keep this comment." in path.read_text()


def test_concurrent_threads_never_lose_an_update(tmp_path: Path) -> None:
    path = write(tmp_path)
    threads = [threading.Thread(target=_writer, args=(str(path), w, 4)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    models = load_settings(path).providers["openai"].models
    assert models is not None and len(models) == 2 + 6 * 4


def test_a_held_lock_makes_a_writer_give_up_with_a_clear_error(tmp_path: Path) -> None:
    import fcntl

    path = write(tmp_path)
    lock = tmp_path / "config.toml.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(ConfigurationError, match="another process has held"), edit_config(path, timeout=0.2):
            pass
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    set_default_model("openai/gpt-4o-mini", path=path)  # free again
    assert load_settings(path).default_model == "openai/gpt-4o-mini"
