"""Shared test setup: every test starts with an empty process-wide model-listing cache and re-reads the
config file; botocore never looks for credentials on an EC2 metadata service (the tests are offline)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from agentos_llm import credentials
from agentos_llm.catalog import MODEL_LISTS

# A test that finds no AWS credentials in its environment must fail at once, not wait on 169.254.169.254.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture(autouse=True)
def _fresh_model_listings() -> Iterator[None]:
    # Live listings are cached per credential for an hour; a test must not see another test's listing.
    MODEL_LISTS.clear()
    yield
    MODEL_LISTS.clear()


@pytest.fixture(autouse=True)
def _config_read_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests write config files by hand and read them back at once; the one-second trust of a loaded file
    # (credentials.CONFIG_RECHECK_SECONDS) has its own test in test_config_file.py.
    monkeypatch.setattr(credentials, "CONFIG_RECHECK_SECONDS", 0.0)
