# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation shared by the esent.backup steps: their attributes, session owners and the snapshot id option."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared step documentation; each module adds its own check_mode details."""

    # Every step is an action plugin that runs on Windows over WinRM, blocks until done (long
    # copies poll inside the task) and acts on one host at a time.
    DOCUMENTATION = r"""
attributes:
  diff_mode:
    support: none
  platform:
    platforms: windows
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
notes:
  - "Sessions belong to an owner: the variable C(esent_backup_owner) when it is set (play, host or
    extra var), else the AWX job (C(awx-job-<id>)), else this ansible-playbook run. Steps without a
    session id (M(esent.backup.snapshot_abort)) act on the owner's own sessions, and a prepare that
    meets a session of another owner fails with -2403 naming that owner, the session's state and
    when its lease ends."
  - "Scheduled jobs (cron, AWX schedules) should set a fixed C(esent_backup_owner) per job, for
    example C(nightly-esent): the next run then owns the session a killed run left behind and its
    M(esent.backup.snapshot_abort) without an id takes it over. Otherwise wait for the session lease
    to end, or abort it with O(esent.backup.snapshot_abort#module:force=true)."
"""

    SNAPSHOT_ID = r"""
options:
  snapshot_id:
    description:
      - The id M(esent.backup.snapshot_prepare) returned.
      - An id of an earlier agent process fails with C(JET_errClientSessionLost) (-10003); an id of a
        session that ended or was aborted fails with C(JET_errOSSnapshotInvalidSnapId) (-2404).
      - In check mode also the placeholder (C(checkmode:<n>:<16 hex digits>)) that
        M(esent.backup.snapshot_prepare) returns in check mode; a real run refuses it ("a check-mode
        placeholder from snapshot_prepare --check; run without --check").
    type: str
    required: true
"""

    BACKUP_ID = r"""
options:
  backup_id:
    description:
      - The id M(esent.backup.stream_begin) returned.
      - An id of an earlier agent process fails with C(JET_errClientSessionLost) (-10003). A backup
        that M(esent.backup.stream_stop) stopped fails with C(JET_errBackupAbortByServer) (-801), as
        ESE answers every backup call after C(JetStopBackupInstance); one the session lease ended
        with C(JET_errClientLeaseExpired) (-10001) and the lease's reason; one that ended otherwise
        with C(JET_errOSSnapshotInvalidSequence) (-2401).
    type: str
    required: true
"""
