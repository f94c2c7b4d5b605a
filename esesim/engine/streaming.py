"""The streaming (external) backup API of the simulated process: a mixin of EngineProcess.

Spec: ese-semantics.md section 3. Built by issue 6.
"""

from __future__ import annotations


class StreamingApi:
    """JetBeginExternalBackupInstance ... entry points; per-instance backup context."""

    def _streaming_init(self) -> None:
        """Per-process streaming state, called once from EngineProcess.__init__."""
