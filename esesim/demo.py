"""`make demo`: the project's main job on its embedded default.

Until the backup roles land, it says what it will do and exits non-zero (issue 2).
"""

from __future__ import annotations

import sys

PLAN = """esent.backup demo (simulated Windows hosts; no figure here is a Windows figure)

When the backup roles exist, `make demo` will:
  1. start a simulated fleet on 127.0.0.1 (esesim fleet up): each host a WS-Management server
     with its own drives, a service-owned ESE store with a live workload and an agent-hosted store;
  2. run playbooks/backup.yml with the real `winrm` connection plugin: snapshot backups of every
     store (prepare, freeze with shadow copies, thaw, copy, verify, truncate, end), in serial batches;
  3. restore the newest set of each store to a scratch folder and prove it against the workload's
     ledger of durable commits (playbooks/restore_drill.yml);
  4. write the run report (JSON, JUnit, Markdown) and check every host ends thawed, out of backup
     mode and without a leftover shadow copy;
  5. bring the fleet down.

Not available yet: the roles and playbooks have not landed (see the open issues)."""


def main() -> int:
    print(PLAN)
    print("\nmake demo: FAILED: nothing to run yet; the backup roles are not built.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
