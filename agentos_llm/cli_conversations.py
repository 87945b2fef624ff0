"""Conversations of `agentos-llm chat`, kept so `-c` can continue the last one (and `--cid` any one).

One JSON file per conversation in `$XDG_DATA_HOME/agentos-llm/conversations` (default
`~/.local/share/agentos-llm/conversations`), readable by its owner only (directory 0700, files 0600): they
hold what was said, which may be private. Keys are never in them.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .cli_common import UsageError
from .types import Message

__all__ = ["Conversation", "ConversationStore", "conversations_dir", "data_dir"]

_FORMAT = 1


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user data directory of agentos-llm: `$XDG_DATA_HOME/agentos-llm`, else ~/.local/share/agentos-llm."""
    environ = os.environ if env is None else env
    base = environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "agentos-llm"


def conversations_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where `chat` keeps its conversations."""
    return data_dir(env) / "conversations"


@dataclass
class Conversation:
    """One conversation: its id, the model it talks to ("provider/model") and every message so far."""

    id: str
    model: str | None = None
    messages: list[Message] = field(default_factory=list)
    created: float = field(default_factory=time.time)


class ConversationStore:
    """The conversation files of one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = conversations_dir() if root is None else root

    def new(self, model: str | None = None) -> Conversation:
        """A conversation not saved yet, with a fresh id that sorts by time."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return Conversation(id=f"{stamp}-{secrets.token_hex(3)}", model=model)

    def _path(self, cid: str) -> Path:
        if not cid or "/" in cid or "\\" in cid or cid.startswith("."):
            raise UsageError(f"{cid!r} is not a conversation id")
        return self.root / f"{cid}.json"

    def load(self, cid: str) -> Conversation:
        """The conversation of that id; a `UsageError` when there is none or its file is damaged."""
        path = self._path(cid)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Conversation(id=cid, model=data.get("model"), created=float(data.get("created", 0.0)),
                                messages=[Message.model_validate(m) for m in data.get("messages", [])])
        except FileNotFoundError:
            raise UsageError(f"no conversation {cid!r} in {self.root}") from None
        except (ValueError, TypeError, AttributeError, ValidationError) as exc:
            raise UsageError(f"the conversation file {path} is damaged ({type(exc).__name__}); remove it or start "
                             "a new conversation") from None

    def latest(self) -> Conversation | None:
        """The conversation saved last, or None when there is none."""
        try:
            files = [(p.stat().st_mtime_ns, p.stem) for p in self.root.glob("*.json")]
        except OSError:
            return None
        return self.load(max(files)[1]) if files else None

    def save(self, conversation: Conversation) -> Path:
        """Writes the conversation atomically, readable by its owner only."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(conversation.id)
        body = json.dumps({"format": _FORMAT, "id": conversation.id, "model": conversation.model,
                           "created": conversation.created, "updated": time.time(),
                           "messages": [m.model_dump(mode="json", exclude_none=True)
                                        for m in conversation.messages]}, ensure_ascii=False, indent=1)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        # Created 0600 from the start: a umask-default file would be readable by others until a chmod.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path
