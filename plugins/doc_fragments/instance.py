# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Options every esent.backup step shares; kept equal to instance_argument_spec() by a test."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Shared option documentation for esent.backup steps."""

    DOCUMENTATION = r"""
options:
  instance:
    description:
      - The ESE instance the step acts on, identified by its log folder and base name.
      - The agent reads page size, log file size, log file-name style and circular logging from
        the store itself and never changes them; the assertion options below only check them.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - Instance name, unique on the host. Used in backup set paths
            (C(<dest>/<host>/<name>/...)) and to find the agent that hosts the instance.
          - One folder name of at most 64 characters - no separators, no C(..), no C(:), no reserved
            device name (C(CON), C(NUL)...), no control characters.
          - Every step of a session must pass the same instance block; the agent refuses a block
            that differs from the one it serves, naming the field.
        type: str
        required: true
      log_path:
        description:
          - Absolute folder of the transaction logs (C(edb.log), C(edb00000001.log), ...).
          - One agent process serves one instance, identified by I(log_path) and I(base_name).
        type: str
        required: true
      system_path:
        description:
          - Absolute folder of the checkpoint file (C(edb.chk)). Defaults to I(log_path).
        type: str
      base_name:
        description:
          - The log base name, exactly three letters or digits (ESE's JET_paramBaseName), never a
            reserved device name (C(CON), C(NUL), C(AUX), C(PRN)).
          - The agent never starts a new log stream for a database whose header names other logs,
            so a wrong base name is refused, not used.
        type: str
        default: edb
      databases:
        description:
          - Absolute paths of the databases of the instance.
          - Required for steps that attach the store (snapshot and streaming steps); optional
            for C(instance_info), which then lists what the logs name.
        type: list
        elements: str
      page_size:
        description:
          - Asserted database page size in bytes. The step fails, naming this option, when the
            store's headers say otherwise. Omit to accept what the store has.
        type: int
        choices: [4096, 8192, 16384, 32768]
      log_file_size:
        description:
          - Asserted log file size in KiB (ESE's JET_paramLogFileSize). Checked against the
            existing log files; never applied. Between 16 and 1048576.
        type: int
      circular_logging:
        description:
          - Asserted circular logging setting. Incremental backups and log truncation need it off.
        type: bool
      owner_service:
        description:
          - Name of the Windows service that owns the store. When set, the agent stops the
            service at M(esent.backup.snapshot_prepare) (if it runs), records that in its state
            file, and starts it again as soon as the shadow copies exist or at the thaw, and
            whatever fails (abort, failed freeze, leases, and an agent that died, whose successor
            on the instance starts it). A service that was not running is left stopped.
          - A streaming backup stops it at M(esent.backup.stream_begin) and starts it again only
            once the backup is over (M(esent.backup.stream_end), M(esent.backup.stream_stop), the
            session lease), since its copy reads through the agent's instance.
          - Without it, a store held open by another process is refused with an error naming
            that process.
        type: str
  agent_auto_install:
    description:
      - Install or upgrade the agent on the host when it is missing or older than the
        collection. Off by default so that nothing is installed without an explicit
        C(esent.backup.agent) task.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for a background operation (a copy) before cancelling it and failing.
      - Between 0 and 604800 (a week).
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between polls of a background operation.
      - At C(-v) and above a copy shows its progress (bytes, files, rate since it started) at least
        every 2 seconds, so it is then polled more often than this when this is longer.
      - Between 0 and 600.
    type: int
    default: 5
"""
