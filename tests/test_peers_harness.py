"""The peers benchmark harness (benchmarks/peers) cannot rot: its mock server answers every API it serves, and
one workload runs for agentos-llm in this process (no venv is created, nothing leaves 127.0.0.1)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"
sys.path.insert(0, str(PEERS))

import report  # noqa: E402
import worker  # noqa: E402
import workloads  # noqa: E402


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, str(PEERS / "mock_server.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    try:
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def _post(url: str, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _sse(raw: bytes) -> list[Any]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


def test_mock_speaks_the_three_apis(mock_url: str) -> None:
    status, raw = _post(mock_url, "/v1/chat/completions", {"model": "m", "messages": [
        {"role": "user", "content": "a b c"}], "tools": [workloads.OPENAI_TOOL]})
    assert status == 200
    call = json.loads(raw)["choices"][0]["message"]["tool_calls"][0]["function"]
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", workloads.TOOL_ARGS)

    status, raw = _post(mock_url, "/v1/messages", {"model": "m", "max_tokens": 5, "stream": True,
                                                   "messages": [{"role": "user", "content": "x y z"}]})
    deltas = [e["delta"]["text"] for e in _sse(raw) if e["type"] == "content_block_delta"]
    assert status == 200 and deltas == ["x ", "y ", "z"]

    status, raw = _post(mock_url, "/v1beta/models/g:streamGenerateContent?alt=sse",
                        {"contents": [{"role": "user", "parts": [{"text": workloads.STREAM_TEXT}]}]})
    events = _sse(raw)
    assert status == 200 and len(events) == workloads.STREAM_WORDS
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"

    status, _ = _post(mock_url, "/v1/nowhere", {})
    assert status == 404


def test_agentos_workloads_run_in_process(mock_url: str) -> None:
    res = worker.mode_calls("agentos-llm", mock_url, n=2, warmup=1, n_stream=1)
    keys = {f"{mode}_{kind}_ms" for mode in ("sync", "async") for kind in ("small", "big", "tool", "stream")}
    assert set(res) == keys
    assert all(len(v) == (1 if k.endswith("stream_ms") else 2) and min(v) > 0 for k, v in res.items())

    conc = worker.mode_concurrent("agentos-llm", mock_url, streams=30, timeout=30.0)
    assert (conc["errors"], conc["timeouts"]) == (0, 0) and conc["concurrent_s"] > 0


def test_checks_refuse_a_wrong_answer() -> None:
    worker.check("tool", ("get_weather", workloads.TOOL_ARGS))
    with pytest.raises(RuntimeError, match="unexpected answer"):
        worker.check("small", workloads.SMALL + " ")
    with pytest.raises(RuntimeError, match="unexpected answer"):
        worker.check("conc3", workloads.conc_text(4))


def test_report_renders_ratios_and_failures(tmp_path: Path) -> None:
    def metric(v: float) -> dict[str, float]:
        return {"median": v, "p10": v, "p90": v, "n": 1}

    res = {"date": "2025-01-01", "quick": True, "machine": {"cpus": 2, "cpu_model": "cpu", "system": "linux",
                                                            "python": "3.11"},
           "config": {"rounds": 1, "n": 2, "warmup": 1, "n_stream": 1, "streams": 500},
           "versions": {"openai": {"openai": "3.57.0"}},
           "sides": {"openai": {"metrics": {"sync_small_ms": metric(2.0)}, "errors": []},
                     "openai-floor": {"metrics": {"sync_small_ms": metric(0.5)}, "errors": []},
                     "agentos-llm": {"metrics": {"sync_small_ms": metric(1.5)}, "errors": ["calls: exit 1: boom"]}}}
    doc = tmp_path / "b.md"
    doc.write_text(f"# T\n\nprose before\n\n{report.BEGIN}\nold\n{report.END}\n\nprose after\n")
    report.write_doc(res, doc)
    text = doc.read_text()
    assert "prose before" in text and "prose after" in text and "\nold\n" not in text
    assert "| OpenAI chat | **agentos-llm** | 1.500 (\u00d70.75) |" in text
    assert "+1.000" in text  # 1.5 ms against the 0.5 ms floor
    assert "`calls: exit 1: boom`" in text
    doc.write_text("no markers")
    with pytest.raises(SystemExit):
        report.write_doc(res, doc)
