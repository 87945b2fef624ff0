"""agentos-llm against its peers, side by side, from one command:

    python3 benchmarks/peers/run.py [--quick] [--rounds R] [--only SIDE ...] [--cache DIR] [--report-only]

1. Creates (or reuses) one virtual environment per peer under `--cache` (default ~/.cache/agentos-llm-peers,
   or $AGENTOS_LLM_PEERS_CACHE), each from its pinned requirements/<peer>.txt; agentos-llm is installed
   editable from this checkout, so a rerun measures the working tree.
2. Starts one loopback mock (mock_server.py) in its own process.
3. Runs every workload for every side in fresh interpreters of that side's venv (worker.py), round by round,
   the side order rotating each round, so drift of the machine hits all alike.
4. Writes medians (and p10/p90) to benchmarks/peers/results.json, then regenerates the tables of
   docs/benchmarks.md and the chart docs/img/benchmarks.png from it (report.py, in the runner's own venv:
   matplotlib lives there only).
Nothing is asserted: every figure is reported, every failure of a side is recorded and shown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import venvs  # noqa: E402

# side -> the venv it runs in. Floors share their SDK's venv (same client, same HTTP stack).
SIDE_ENV = {
    "openai-floor": "openai",
    "openai": "openai",
    "agentos-llm": "agentos-llm",
    "litellm": "litellm",
    "any-llm": "any-llm",
    "pydantic-ai": "pydantic-ai",
    "langchain": "langchain",
    "anthropic-floor": "anthropic",
    "anthropic": "anthropic",
    "agentos-llm/anthropic": "agentos-llm",
    "google-genai-floor": "google-genai",
    "google-genai": "google-genai",
    "agentos-llm/gemini": "agentos-llm",
}
# The packages whose versions the report names, per venv.
KEY_PACKAGES = ("agentos-llm", "openai", "anthropic", "google-genai", "litellm", "any-llm-sdk", "pydantic-ai-slim",
                "langchain-openai", "langchain-core", "httpx", "httpx2", "aiohttp", "pydantic")

QUICK = {"rounds": 1, "n": 20, "warmup": 3, "n_stream": 4, "imports": 1, "keep": 100, "streams": 500}
FULL = {"rounds": 5, "n": 40, "warmup": 8, "n_stream": 6, "imports": 2, "keep": 200, "streams": 500}
MODES = ("import", "calls", "memory", "concurrent")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out: dict[str, Any] = {"cpus": os.cpu_count(), "cpu_model": model, "system": platform.platform(),
                           "python": platform.python_version()}
    if hasattr(os, "getloadavg"):
        out["load_before"] = [round(x, 2) for x in os.getloadavg()]
    return out


class Mock:
    """The mock server in a child process; it stops when its stdin closes."""

    def __enter__(self) -> str:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "mock_server.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        url = self.proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"the mock server did not start (got {url!r})")
        return url

    def __exit__(self, *exc: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_worker(py: Path, side: str, mode: str, url: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """One fresh interpreter of the side's venv; its JSON, or {"error": ...}."""
    args = [str(py), str(HERE / "worker.py"), "--side", side, "--mode", mode, "--base-url", url,
            "--n", str(cfg["n"]), "--warmup", str(cfg["warmup"]), "--n-stream", str(cfg["n_stream"]),
            "--keep", str(cfg["keep"]), "--streams", str(cfg["streams"])]
    # LiteLLM fetches its cost map from GitHub at import unless told not to: offline that is a network
    # timeout in its import, and online a download, neither of which is the library's own cost.
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"{mode}: no answer within 900 s"}
    last = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    if done.returncode != 0 or not last:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"{mode}: exit {done.returncode}: " + " | ".join(tail)[-400:]}
    result: dict[str, Any] = json.loads(last[0])
    return result


def summarize(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * (len(ordered) - 1))))]

    return {"median": statistics.median(ordered), "p10": q(0.1), "p90": q(0.9), "n": len(ordered)}


def measure(sides: list[str], cache: Path, url: str, cfg: dict[str, Any], log: Any) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {s: {} for s in sides}
    errors: dict[str, list[str]] = {s: [] for s in sides}
    extra: dict[str, dict[str, Any]] = {s: {"errors_in_concurrent": 0, "timeouts_in_concurrent": 0} for s in sides}
    log("warming up: one unrecorded import per side")
    for side in sides:  # one unrecorded import each: bytecode compiled, disk caches warm for everyone
        run_worker(venvs.python_of(cache, SIDE_ENV[side]), side, "import", url, cfg)
    for r in range(cfg["rounds"]):
        k = r % len(sides)
        order = sides[k:] + sides[:k]
        if r % 2:
            order.reverse()
        for mode in MODES:
            repeats = cfg["imports"] if mode == "import" else 1
            for _ in range(repeats):
                for side in order:
                    t0 = time.perf_counter()
                    out = run_worker(venvs.python_of(cache, SIDE_ENV[side]), side, mode, url, cfg)
                    log(f"round {r + 1}/{cfg['rounds']} {mode:<10} {side:<22} {time.perf_counter() - t0:6.1f} s"
                        + (f"  ERROR {out['error']}" if "error" in out else ""))
                    if "error" in out:
                        errors[side].append(out["error"])
                        continue
                    if mode == "concurrent":
                        extra[side]["errors_in_concurrent"] += out.pop("errors")
                        extra[side]["timeouts_in_concurrent"] += out.pop("timeouts")
                        if "first_error" in out:
                            errors[side].append("concurrent: " + out.pop("first_error"))
                    for key, val in out.items():
                        vals = val if isinstance(val, list) else [val]
                        samples[side].setdefault(key, []).extend(float(v) for v in vals)
    result: dict[str, Any] = {}
    for side in sides:
        metrics = {key: summarize(vals) for key, vals in samples[side].items()}
        result[side] = {"metrics": metrics, "errors": errors[side][:5], **extra[side]}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description="agentos-llm against its peers (see the module docstring)")
    ap.add_argument("--quick", action="store_true", help="one short round (for iterating on the harness)")
    ap.add_argument("--rounds", type=int, help="rounds (default 5, --quick 1)")
    ap.add_argument("--n", type=int, help="timed whole calls per workload per round")
    ap.add_argument("--only", nargs="+", choices=list(SIDE_ENV), help="these sides only")
    ap.add_argument("--cache", type=Path, default=venvs.DEFAULT_CACHE, help="where the venvs live")
    ap.add_argument("--json", type=Path, default=HERE / "results.json")
    ap.add_argument("--doc", type=Path, default=venvs.REPO / "docs" / "benchmarks.md")
    ap.add_argument("--chart", type=Path, default=venvs.REPO / "docs" / "img" / "benchmarks.png")
    ap.add_argument("--report-only", action="store_true", help="regenerate the doc and chart from --json")
    a = ap.parse_args()

    def log(msg: str) -> None:
        print(f"[peers] {msg}", file=sys.stderr, flush=True)

    runner = venvs.ensure(a.cache, "runner")
    if not a.report_only:
        cfg = dict(QUICK if a.quick else FULL)
        if a.rounds:
            cfg["rounds"] = a.rounds
        if a.n:
            cfg["n"] = a.n
        sides = a.only or list(SIDE_ENV)
        envs = sorted({SIDE_ENV[s] for s in sides})
        for env in envs:
            venvs.ensure(a.cache, env)
        info = machine()
        t0 = time.time()
        with Mock() as url:
            log(f"mock at {url}; sides: {', '.join(sides)}")
            results = measure(sides, a.cache, url, cfg, log)
        if hasattr(os, "getloadavg"):
            info["load_after"] = [round(x, 2) for x in os.getloadavg()]
        versions = {}
        for env in envs:
            pkgs = venvs.versions(venvs.python_of(a.cache, env))
            versions[env] = {k: v for k, v in pkgs.items() if k in KEY_PACKAGES}
        doc = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "duration_s": round(time.time() - t0, 1),
               "quick": a.quick, "config": cfg, "machine": info, "versions": versions, "side_env": SIDE_ENV,
               "sides": results}
        a.json.write_text(json.dumps(doc, indent=1) + "\n")
        log(f"wrote {a.json}")
    subprocess.run([str(runner), str(HERE / "report.py"), "--json", str(a.json), "--doc", str(a.doc),
                    "--chart", str(a.chart)], check=True)


if __name__ == "__main__":
    main()
