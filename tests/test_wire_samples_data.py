"""The recorded wire samples are in the repository (tests/data/wire-samples), with their source's MIT notice, and
are the same bytes as the shared corpus they were copied from, where that corpus sits beside the checkout."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from wire_sample_server import SAMPLES_DIR, SAMPLES_FILE, SHARED_SAMPLES_FILE, load_samples


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_samples_are_in_the_repository_with_their_licence() -> None:
    samples = load_samples()
    assert len(samples) == 1141
    assert len({s["id"] for s in samples}) == len(samples)
    assert all(s["source"].startswith("pydantic-ai:") for s in samples)
    readme = (SAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    licence = (SAMPLES_DIR / "LICENSE").read_text(encoding="utf-8")
    for text in (readme, licence):
        assert "The MIT License (MIT)" in text and "Copyright (c) Pydantic Services Inc." in text
        assert "pydantic-ai" in text or "pydantic/pydantic-ai" in text
    # The frozen first part of the corpus, as its README states it (758 lines, sha256 prefix 599786c815eedcc2).
    lines = SAMPLES_FILE.read_bytes().splitlines(keepends=True)
    assert hashlib.sha256(b"".join(lines[:758])).hexdigest().startswith("599786c815eedcc2")


def test_every_kind_and_mode_the_tests_replay_is_there() -> None:
    samples = load_samples()
    kinds = {s["kind"] for s in samples}
    assert {"openai-chat", "openai-responses", "anthropic-messages", "gemini-generate", "bedrock-converse",
            "cohere-chat", "voyage-embed", "count-tokens"} <= kinds
    assert any(s["stream"] and s.get("body_b64") for s in samples)  # the binary AWS event stream
    assert json.loads(next(s["body"] for s in samples if s["kind"] == "anthropic-messages" and s["status"] == 200))


@pytest.mark.skipif(not SHARED_SAMPLES_FILE.is_file(),
                    reason="../shared/wire-samples (the corpus the repository copy was taken from) is not beside "
                           "this checkout, so there is nothing to compare the copy with")
def test_the_repository_copy_is_identical_to_the_shared_corpus() -> None:
    shared = SHARED_SAMPLES_FILE.parent
    assert _digest(SAMPLES_FILE) == _digest(SHARED_SAMPLES_FILE), \
        "tests/data/wire-samples/samples.jsonl differs from ../shared: copy it again, unchanged"
    assert _digest(SAMPLES_DIR / "README.md") == _digest(shared / "README.md")
