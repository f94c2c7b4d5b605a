"""The OS snapshot API (JetOSSnapshot*) of the simulated process: a mixin of EngineProcess.

Spec: ese-semantics.md section 2. Built by issue 4.
"""

from __future__ import annotations


class SnapshotApi:
    """JetOSSnapshot* entry points; process-global snapshot sessions."""

    def _snapshot_init(self) -> None:
        """Per-process snapshot state, called once from EngineProcess.__init__."""
