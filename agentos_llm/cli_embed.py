"""`agentos-llm embed`: one vector per line of a file or of stdin (or per `--text`), in batches, written as
JSON Lines: `{"index": N, "text": ..., "embedding": [...]}`, N being the line's position in the input
(blank lines are skipped but counted, so indexes map back to line numbers). A progress bar goes to stderr
when it is a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from .cli_common import UsageError, configured_manager, is_terminal
from .options import EmbedOptions

__all__ = ["Progress", "add_embed_parser", "batches"]

_BAR = 24
_NOTHING = "nothing to embed: the input has no non-blank line"


def add_embed_parser(sub: Any) -> None:
    """Adds the `embed` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("embed", help="embed each line of a file or stdin, writing JSON Lines",
                       description="Writes one JSON object per non-blank input line: index (the line's position, "
                                   "from 0), text and embedding.")
    p.add_argument("file", nargs="?", metavar="FILE", help="one text per line; '-' or omitted: stdin")
    p.add_argument("-t", "--text", action="append", default=[], metavar="TEXT",
                   help="embed this text instead of reading lines (repeatable)")
    p.add_argument("-m", "--model", help="provider/model (default: the first provider with an embedding model)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="texts per request (default 64)")
    p.add_argument("--dimensions", type=int, metavar="N", help="vector size, where the model can shorten them")
    p.add_argument("--input-type", choices=("query", "document", "classification", "clustering", "similarity"),
                   help="what the texts are for (vendors that take a task type)")
    p.add_argument("--output", metavar="PATH", help="write the JSON Lines to PATH instead of stdout")
    p.add_argument("--no-text", action="store_true", help="leave the text out of each line (index and vector only)")
    p.add_argument("-u", "--usage", action="store_true", help="print tokens and cost on stderr at the end")
    p.set_defaults(fn=_embed)


def _lines(stream: Iterable[str]) -> Iterator[tuple[int, str]]:
    for index, line in enumerate(stream):
        text = line.rstrip("\r\n")
        if text.strip():
            yield index, text


def batches(items: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    """`items` in lists of `size` (the last may be shorter)."""
    batch: list[tuple[int, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Progress:
    """A one-line progress bar redrawn in place; silent unless `out` is a terminal."""

    def __init__(self, out: TextIO, total: int | None, *, enabled: bool | None = None) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self.enabled = is_terminal(out) if enabled is None else enabled

    def advance(self, n: int) -> None:
        """Counts `n` more texts embedded and redraws."""
        self.done += n
        if not self.enabled:
            return
        if self.total:
            filled = round(_BAR * min(self.done, self.total) / self.total)
            line = f"embedding [{'#' * filled}{'-' * (_BAR - filled)}] {self.done}/{self.total}"
        else:
            line = f"embedding ... {self.done} lines"
        self.out.write("\r" + line)
        self.out.flush()

    def finish(self) -> None:
        """Ends the bar's line."""
        if self.enabled and self.done:
            self.out.write("\n")
            self.out.flush()


def _source(args: argparse.Namespace) -> tuple[Iterable[tuple[int, str]], int | None, TextIO | None]:
    """The numbered texts, how many there are when known, and a file to close."""
    if args.text:
        if args.file is not None:
            raise UsageError("give FILE or --text, not both")
        texts = [(i, t) for i, t in enumerate(args.text) if t.strip()]
        return texts, len(texts), None
    if args.file in (None, "-"):
        if is_terminal(sys.stdin):
            raise UsageError("embed reads one text per line from FILE or stdin: give FILE, pipe text in, or use "
                             "--text")
        return _lines(sys.stdin), None, None
    path = Path(args.file)
    try:
        with path.open(encoding="utf-8") as counting:  # a first pass for the bar's total: cheap beside embedding
            total = sum(1 for _ in _lines(counting))
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _lines(handle), total, handle


def _embed(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    try:
        EmbedOptions(dimensions=args.dimensions, input_type=args.input_type)
    except ValueError as exc:
        raise UsageError(f"invalid embedding options: {exc}") from None
    texts, total, handle = _source(args)
    if total == 0:
        if handle is not None:
            handle.close()
        raise UsageError(_NOTHING)
    manager = configured_manager()
    out: TextIO = sys.stdout
    progress = Progress(sys.stderr, total)
    written = 0
    usage: Any = None
    try:
        if args.output:
            out = open(args.output, "w", encoding="utf-8")  # noqa: SIM115  (closed below, after the batches)
        for batch in batches(texts, args.batch_size):
            result = manager.embed_sync(args.model, [t for _, t in batch], dimensions=args.dimensions,
                                        input_type=args.input_type)
            usage = result.usage if usage is None else usage + result.usage
            for (index, text), vector in zip(batch, result.vectors, strict=True):
                row: dict[str, Any] = {"index": index} if args.no_text else {"index": index, "text": text}
                row["embedding"] = vector
                out.write(json.dumps(row) + "\n")
            out.flush()
            written += len(batch)
            progress.advance(len(batch))
    finally:
        progress.finish()
        if handle is not None:
            handle.close()
        if out is not sys.stdout:
            out.close()
        manager.close()
    if not written:
        raise UsageError(_NOTHING)
    if args.usage and usage is not None:
        from .cli_chat import print_usage

        print_usage(usage)
    return 0
