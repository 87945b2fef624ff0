"""Import cost of agentos-llm, in fresh interpreters.

Each statement runs in `--runs` fresh interpreters (default 10; the statements take turns, so
drift of the machine hits them alike). The child times the statement itself with
`time.perf_counter` (interpreter start-up excluded) and reports which vendor SDK / HTTP client
modules ended up in `sys.modules`.

The bound (from the issue; measured and reported, never asserted): `import agentos_llm` takes at
most 25 ms beyond `from pydantic import BaseModel` (medians), and loads no vendor module. The
other statements are informational: what the first use of the public names costs, and what the
OpenAI provider costs beyond the `openai` SDK itself. The exit status is 0 whatever the figures.

    .venv/bin/python benchmarks/bench_import.py [--runs 10] [--top 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BOUND_MS = 25.0
BASELINE = "from pydantic import BaseModel"
PRIMARY = "import agentos_llm"
STATEMENTS: list[tuple[str, str]] = [
    (BASELINE, "baseline"),
    (PRIMARY, "bound"),
    ("import agentos_llm; agentos_llm.types", "info: the data model loaded"),
    ("from agentos_llm import create_provider, Message, GenerateOptions", "info: typical first use"),
    ("import openai", "info: the vendor SDK alone"),
    ("from agentos_llm.providers.openai import OpenAIProvider", "info: the OpenAI provider, SDK included"),
    ("from agentos_llm import create_provider, AIModelProviderManager", "info: the working API (issue 15)"),
]
# Time to the first response: import, provider, one call against the emulator (child process); {url} is its URL.
FIRST_RESPONSE = ("from agentos_llm import create_provider; create_provider('openai', api_key='sk-bench', "
                  "base_url='{url}', max_retries=0).generate_sync('gpt-4o-mini', 'hi')")
# Vendor SDKs and HTTP client stacks that `import agentos_llm` must not load.
VENDOR_ROOTS = ("openai", "anthropic", "google.genai", "httpx", "httpx2", "httpcore", "httpcore2", "h11",
                "aiohttp", "requests")

_CHILD = r"""
import sys, time, json
statement = sys.argv[1]
t0 = time.perf_counter()
exec(compile(statement, "<bench>", "exec"), {})
elapsed = time.perf_counter() - t0
roots = json.loads(sys.argv[2])
vendor = sorted({r for r in roots for m in sys.modules if m == r or m.startswith(r + ".")})
print(json.dumps({"ms": elapsed * 1000, "vendor": vendor, "pydantic": "pydantic" in sys.modules,
                  "modules": len(sys.modules)}))
"""


def child_env(pycache: str | None) -> dict[str, str]:
    """The children's environment: bytecode cached under `pycache` (see `main`), or never written."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def run_child(statement: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _CHILD, statement, json.dumps(VENDOR_ROOTS)],
                         capture_output=True, text=True, check=True, env=env)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _importtime(statement: str, env: dict[str, str]) -> list[tuple[int, int, str]]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                         check=True, env=env)
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(self_us), int(cum_us), name.strip()))
    return rows


def importtime_top(statement: str, top: int, env: dict[str, str]) -> list[tuple[int, int, str]]:
    """The modules with the largest self time under `-X importtime` (self us, cumulative us, name),
    leaving out what the interpreter imports at start-up anyway."""
    startup = {name for _, _, name in _importtime("pass", env)}
    rows = [r for r in _importtime(statement, env) if r[2] not in startup]
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per statement (default 10)")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="also list the N modules with the largest self time (-X importtime)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile every module from source in every child (no .pyc), as with "
                             "PYTHONDONTWRITEBYTECODE=1 and no __pycache__; default: cached bytecode")
    args = parser.parse_args(argv)

    # By default the children cache bytecode under a private PYTHONPYCACHEPREFIX, filled by one
    # warm-up run of each statement: every module (ours, pydantic, openai) then loads from a fresh
    # .pyc as in an installed package, whatever the checkout's __pycache__ holds (or whether
    # PYTHONDONTWRITEBYTECODE is set here), and nothing is written into the checkout or the venv.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import emulator

    with tempfile.TemporaryDirectory(prefix="bench-import-pycache-") as pycache, emulator() as url:
        STATEMENTS.append((FIRST_RESPONSE.format(url=url), "info: time to the first emulator response"))
        env = child_env(None if args.no_bytecode else pycache)
        for statement, _ in STATEMENTS:  # warm-up: the OS file cache, and the bytecode cache
            run_child(statement, env)
        samples: dict[str, list[dict[str, Any]]] = {s: [] for s, _ in STATEMENTS}
        for _ in range(args.runs):
            for statement, _ in STATEMENTS:
                samples[statement].append(run_child(statement, env))
        _report(args, samples, env)
    return 0


def _report(args: argparse.Namespace, samples: dict[str, list[dict[str, Any]]], env: dict[str, str]) -> None:
    base = statistics.median(r["ms"] for r in samples[BASELINE])
    rows = []
    for statement, role in STATEMENTS:
        times = [r["ms"] for r in samples[statement]]
        vendor = sorted({m for r in samples[statement] for m in r["vendor"]})
        med = statistics.median(times)
        rows.append({"statement": statement, "role": role, "runs": len(times), "median_ms": med,
                     "min_ms": min(times), "max_ms": max(times), "beyond_pydantic_ms": med - base,
                     "vendor_modules": vendor, "pydantic_loaded": samples[statement][0]["pydantic"],
                     "modules": samples[statement][0]["modules"]})

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; {args.runs} fresh interpreters per "
          "statement, interleaved; time of the statement itself (perf_counter in the child); "
          f"{'no bytecode (compiled from source)' if args.no_bytecode else 'cached bytecode'}\n")
    width = max(len(s) for s, _ in STATEMENTS)
    print(f"{'statement':<{width}} {'median':>9} {'min':>9} {'max':>9} {'vs pydantic':>12} {'modules':>8}  "
          "vendor / HTTP modules loaded")
    for r in rows:
        loaded = ", ".join(_roots(r["vendor_modules"])) or "none"
        print(f"{r['statement']:<{width}} {r['median_ms']:6.1f} ms {r['min_ms']:6.1f} ms {r['max_ms']:6.1f} ms "
              f"{r['beyond_pydantic_ms']:+9.1f} ms {r['modules']:>8}  {loaded}")

    primary = next(r for r in rows if r["statement"] == PRIMARY)
    ok_time = primary["beyond_pydantic_ms"] <= BOUND_MS
    ok_vendor = not primary["vendor_modules"]
    print(f"\n`{PRIMARY}`: {primary['median_ms']:.1f} ms, {primary['beyond_pydantic_ms']:+.1f} ms beyond "
          f"`{BASELINE}` ({base:.1f} ms); bound {BOUND_MS:g} ms: {'PASS' if ok_time else 'FAIL'}")
    print(f"`{PRIMARY}` loads vendor / HTTP modules: {', '.join(primary['vendor_modules']) or 'none'}: "
          f"{'PASS' if ok_vendor else 'FAIL'}")
    typical = rows[3]
    print(f"(info) `{typical['statement']}`: {typical['beyond_pydantic_ms']:+.1f} ms beyond `{BASELINE}`; "
          f"the bound applied to it would be a {'PASS' if typical['beyond_pydantic_ms'] <= BOUND_MS else 'FAIL'}")
    sdk, ours = rows[4], rows[5]
    print(f"(info) the OpenAI provider costs {ours['median_ms'] - sdk['median_ms']:+.1f} ms beyond `import openai`")
    print("overall:", "PASS" if ok_time and ok_vendor else "FAIL")

    tops: dict[str, Any] = {}
    if args.top:
        for statement in (PRIMARY, typical["statement"]):
            top = importtime_top(statement, args.top, env)
            tops[statement] = [{"self_us": s, "cumulative_us": c, "module": m} for s, c, m in top]
            print(f"\nlargest self times under -X importtime for `{statement}` (one run):")
            for s, c, m in top:
                print(f"  {s / 1000:6.2f} ms self {c / 1000:7.2f} ms cumulative  {m}")

    if args.json:
        Path(args.json).write_text(json.dumps({"runs": args.runs, "bytecode": not args.no_bytecode,
                                               "bound_ms": BOUND_MS, "baseline_ms": base,
                                               "pass": ok_time and ok_vendor, "results": rows,
                                               "importtime_top": tops}, indent=2) + "\n")


def _roots(modules: list[str]) -> list[str]:
    return [m for m in modules if "." not in m or m == "google.genai"]


if __name__ == "__main__":
    sys.exit(main())
