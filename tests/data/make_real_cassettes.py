"""Builds `cassettes/real/`: VCR cassettes whose responses are real vendor responses from the wire samples.

    .venv/bin/python tests/data/make_real_cassettes.py           # write every cassette and index.json again
    .venv/bin/python tests/data/make_real_cassettes.py --check   # fail if a written cassette is out of date

For each case of `tests/real_cassettes.py` the loopback server of `tests/wire_sample_server.py` answers with
the sample's recorded status, headers and body (an AWS event stream byte for byte), and our provider makes the
case's call through the vendor's real SDK while vcrpy records. The cassette then names the vendor's real host,
keeps only the recorded response headers, and its response body is checked to be the recorded bytes exactly.
Nothing here talks to a vendor, and no key is involved: the providers get dummy credentials, and the cassettes
are scrubbed and scanned like the others (tests/cassette_support.py).

Regenerate after a change to what a provider sends for these calls (a replay that no longer matches fails
with vcrpy's CannotOverwriteExistingCassetteException).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

import vcr  # noqa: E402
import yaml  # noqa: E402
from cassette_support import find_key_like  # noqa: E402
from real_cassettes import CASSETTES, INDEX, Case, index_entry, is_error, pick, run_sync, vcr_settings  # noqa: E402
from wire_sample_server import load_samples, sample_payload, serve_samples  # noqa: E402

from agentos_llm import create_provider  # noqa: E402
from agentos_llm.errors import ProviderError  # noqa: E402

KEEP_REQUEST_HEADERS = ("content-type",)


def _offline_aws() -> None:
    # Only the dummy keys a case passes sign: nothing from this machine's AWS setup.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        os.environ.pop(name, None)
    os.environ.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull)


def _record(case: Case, port: int, path: Path) -> None:
    recorder = vcr.VCR(record_mode="all", **vcr_settings())
    provider = create_provider(case.provider_id, **case.provider_kwargs(f"http://127.0.0.1:{port}"))
    try:
        with recorder.use_cassette(str(path)):
            try:
                run_sync(case, provider)
            except ProviderError:
                if not is_error(case.sample):
                    raise
    finally:
        provider.close()


def _rewrite(case: Case, path: Path) -> str:
    """The recorded cassette as committed: the vendor's host, few request headers, the recorded response."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    sample = case.sample
    interactions = data["interactions"]
    assert len(interactions) == 1, f"{case.name}: {len(interactions)} requests, one expected (max_retries=0)"
    request, response = interactions[0]["request"], interactions[0]["response"]
    _, _, rest = request["uri"].partition("://")
    request["uri"] = f"https://{sample['host']}/{rest.partition('/')[2]}"
    request["headers"] = {k: v for k, v in request["headers"].items() if k.lower() in KEEP_REQUEST_HEADERS}
    body = response["body"]["string"]
    raw = body if isinstance(body, bytes) else str(body).encode("utf-8")
    assert raw == sample_payload(sample), f"{case.name}: the recorded body is not the sample's bytes"
    assert response["status"]["code"] == sample["status"]
    headers = {"content-type": [sample.get("content_type") or "application/json"]}
    headers.update({k.lower(): [str(v)] for k, v in (sample.get("headers") or {}).items()})
    response["headers"] = headers
    if not isinstance(body, bytes):
        response["body"]["string"] = raw.decode("utf-8")
    text = yaml.dump(data, Dumper=yaml.SafeDumper, allow_unicode=False, sort_keys=True, width=1000)
    leaks = find_key_like(text)
    assert not leaks, f"{case.name}: key-like strings {leaks}"
    return text


def build(out: Path) -> dict[str, str]:
    """Every cassette's text by file name, recorded into `out` (a scratch folder), plus index.json."""
    _offline_aws()
    cases = pick(load_samples())
    texts: dict[str, str] = {}
    with serve_samples() as (port, slot):
        for case in cases:
            slot.serve(case.sample)
            path = out / f"{case.name}.yaml"
            path.unlink(missing_ok=True)
            _record(case, port, path)
            texts[path.name] = _rewrite(case, path)
    entries = [index_entry(c) for c in cases]
    texts[INDEX.name] = json.dumps({"origin": "real vendor responses (tests/data/wire-samples, pydantic-ai, MIT)",
                                    "cassettes": entries}, indent=1, ensure_ascii=True) + "\n"
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare with cassettes/real/ instead of writing")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        texts = build(Path(scratch))
    if args.check:
        stale = [name for name, text in texts.items()
                 if not (CASSETTES / name).is_file() or (CASSETTES / name).read_text(encoding="utf-8") != text]
        extra = sorted(p.name for p in CASSETTES.glob("*.yaml") if p.name not in texts)
        for name in stale + extra:
            print(f"out of date: cassettes/real/{name}")
        return 1 if stale or extra else 0
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for old in CASSETTES.glob("*.yaml"):
        if old.name not in texts:
            old.unlink()
    for name, text in texts.items():
        (CASSETTES / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(texts) - 1} cassettes and index.json to {CASSETTES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
