"""Shared test setup: every test starts with an empty process-wide model-listing cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentos_llm.catalog import MODEL_LISTS


@pytest.fixture(autouse=True)
def _fresh_model_listings() -> Iterator[None]:
    # Live listings are cached per credential for an hour; a test must not see another test's listing.
    MODEL_LISTS.clear()
    yield
    MODEL_LISTS.clear()
