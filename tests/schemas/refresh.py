"""Regenerates the vendor schema files in this folder from the vendors' published definitions.

    python tests/schemas/refresh.py openai  PATH/TO/openai-openapi/openapi.json  --commit SHA
    python tests/schemas/refresh.py vertex  PATH/TO/aiplatform.v1beta1.json      --commit "<package and version>"
    python tests/schemas/refresh.py gemini  PATH/TO/googleapis.git               --commit SHA

`openai` and `vertex` keep only the request schemas the tests validate and everything they reference
(verbatim: nothing inside a kept schema is changed); `gemini` copies the generativelanguage v1beta
protos and the protos they import, verbatim. See README.md for where each came from.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

OPENAI_ROOTS = ("CreateChatCompletionRequest", "CreateEmbeddingRequest", "CreateResponse", "TokenCountsBody")
VERTEX_ROOTS = ("GoogleCloudAiplatformV1beta1GenerateContentRequest", "GoogleCloudAiplatformV1beta1CountTokensRequest",
                "GoogleCloudAiplatformV1beta1BatchEmbedContentsRequest", "GoogleCloudAiplatformV1beta1PredictRequest")
GEMINI_ROOT = "google/ai/generativelanguage/v1beta/generative_service.proto"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(schemas: dict[str, Any], roots: tuple[str, ...], name_of: Any) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept[name] = schemas[name]
        todo.extend(name_of(ref) for ref in _refs(schemas[name]))
    return dict(sorted(kept.items()))


def openai(source: Path, commit: str) -> None:
    doc = json.loads(source.read_text())
    schemas = _closure(doc["components"]["schemas"], OPENAI_ROOTS, lambda ref: ref.rsplit("/", 1)[-1])
    out = {"openapi": doc["openapi"], "info": doc["info"],
           "x-extract": {"repository": "github.com/openai/openai-openapi", "commit": commit, "file": "openapi.json",
                         "roots": list(OPENAI_ROOTS)},
           "components": {"schemas": schemas}}
    (HERE / "openai" / "openapi.requests.json").write_text(json.dumps(out, indent=1) + "\n")


def vertex(source: Path, commit: str) -> None:
    doc = json.loads(source.read_text())
    schemas = _closure(doc["schemas"], VERTEX_ROOTS, lambda ref: ref)
    out = {"id": doc["id"], "revision": doc["revision"],
           "x-extract": {"source": commit, "file": "googleapiclient/discovery_cache/documents/aiplatform.v1beta1.json",
                         "roots": list(VERTEX_ROOTS)},
           "schemas": schemas}
    (HERE / "vertex" / "aiplatform.v1beta1.requests.json").write_text(json.dumps(out, indent=1) + "\n")


def gemini(git_dir: Path, commit: str) -> None:
    def show(path: str) -> str:
        return subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], check=True,
                              capture_output=True, text=True).stdout

    todo, done = [GEMINI_ROOT], set()
    while todo:
        path = todo.pop()
        if path in done or path.startswith("google/protobuf/"):  # protoc ships the well-known types
            continue
        done.add(path)
        text = show(path)
        target = HERE / "gemini" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        todo.extend(re.findall(r'^import (?:public )?"([^"]+)";', text, re.MULTILINE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("openai", "vertex", "gemini"))
    parser.add_argument("source", type=Path)
    parser.add_argument("--commit", default="HEAD")
    args = parser.parse_args()
    {"openai": openai, "vertex": vertex, "gemini": gemini}[args.kind](args.source, args.commit)


if __name__ == "__main__":
    main()
