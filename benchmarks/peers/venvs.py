"""One virtual environment per peer, under a cache directory outside the repository.

A venv is rebuilt only when its requirements file changes (a stamp holds the file's hash), so reruns
are cheap. agentos-llm's venv installs this checkout editable: a rerun measures the working tree.
Standard library only: this runs under whatever Python starts `run.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REQUIREMENTS = HERE / "requirements"
DEFAULT_CACHE = Path(os.environ.get("AGENTOS_LLM_PEERS_CACHE", Path.home() / ".cache" / "agentos-llm-peers"))

# Every venv the runner may build: one per peer, plus the runner's own (matplotlib for the chart).
ENVS = ("openai", "anthropic", "google-genai", "litellm", "any-llm", "pydantic-ai", "langchain", "agentos-llm",
        "runner")


def python_of(cache: Path, env: str) -> Path:
    """The interpreter of one venv."""
    return cache / env / "bin" / "python"


def _stamp(env: str) -> str:
    text = (REQUIREMENTS / f"{env}.txt").read_bytes()
    if env == "agentos-llm":
        # The editable install records the dependencies of pyproject.toml: reinstall when they change.
        text += (REPO / "pyproject.toml").read_bytes()
    return hashlib.sha256(text).hexdigest()


def ensure(cache: Path, env: str, log: bool = True) -> Path:
    """Creates (or reuses) the venv of `env` and returns its interpreter."""
    root = cache / env
    stamp_file = root / ".agentos-peers-stamp"
    stamp = _stamp(env)
    py = python_of(cache, env)
    if py.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return py
    if root.exists():
        shutil.rmtree(root)
    if log:
        print(f"[peers] creating the venv of {env} in {root}", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS / f"{env}.txt")], check=True)
    if env == "agentos-llm":
        subprocess.run([*pip, "-e", f"{REPO}[openai,anthropic,gemini]"], check=True)
    stamp_file.write_text(stamp)
    return py


def versions(py: Path) -> dict[str, str]:
    """Installed distributions of one venv (name -> version)."""
    out = subprocess.run([str(py), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return {row["name"].lower(): row["version"] for row in json.loads(out)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CACHE
    for name in sys.argv[2:] or ENVS:
        print(name, ensure(target, name))
