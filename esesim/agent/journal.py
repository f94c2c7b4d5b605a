"""The agent's journal and state file (test-only simulated agent: do not use directly).

Journal: one JSON line per state change of a session (and per agent start, reap and owner
action) in ``%ProgramData%\\esent.backup\\journal\\<route>.jsonl``, with the reason for every
abort. It outlives the agent process: a completion step repeated after an agent restart reads
whether its session completed normally, and forensics read it after a crash.

State file: ``%ProgramData%\\esent.backup\\agents\\<route>.json`` with the agent's pid, pipe name,
boot id and the shadow copies it created and has not deleted yet (docs/dev/safety-rules.md rule 11).
The bootstrap reads pid and pipe; the next agent of the route reads the shadows and reaps them when
the recorded pid is dead.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path
from typing import Any


class Journal:
    """Append-only JSON lines, with an in-memory tail for ``status``."""

    def __init__(self, path: Path, clock_time: Any, tail: int = 200) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._time = clock_time
        self._tail: deque[dict[str, Any]] = deque(maxlen=tail)
        self._lock = threading.Lock()
        self._seq = 0

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Record one event (``session``, ``state``, ``reason`` ... as fields) and return it."""
        with self._lock:
            self._seq += 1
            entry = {"time": round(self._time(), 3), "seq": self._seq, "event": event, **{k: v for k, v in fields.items() if v is not None}}
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
            self._tail.append(entry)
            return entry

    def tail(self, n: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._tail)[-n:]

    def read_all(self) -> list[dict[str, Any]]:
        """Every entry in the file (it spans agent restarts); a torn last line after a crash is skipped."""
        out = []
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue
        except FileNotFoundError:
            pass
        return out

    def history(self, session_id: str) -> list[dict[str, Any]]:
        """Every entry of one session, from the file (it spans agent restarts)."""
        return [e for e in self.read_all() if e.get("session") == session_id]


class StateFile:
    """The agent's state file: written atomically (temp file, flush, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def write(self, doc: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, sort_keys=True))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
