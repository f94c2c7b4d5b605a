"""What the simulated WinRM host's command tests share: a command's stdin/stdout/stderr and cancel flag, run in-process."""

from __future__ import annotations

import threading


class IO:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.stdout = b""
        self.stderr = b""

    def out(self, data: bytes) -> None:
        self.stdout += data

    def err(self, data: bytes) -> None:
        self.stderr += data
