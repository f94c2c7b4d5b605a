# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Who owns a run's sessions, and the names a run's report is filed under: one rule for both.

This module is internal to esent.backup and may change in any release. Standard library only.

The step base sends ``session_owner`` as the request's ``owner``; the fleet report files its part
under ``report_run_key``/``report_part`` and publishes it under ``report_stats_key``. Both read the same AWX meta variables, so a cancelled
AWX run's owner and its report folder carry the same id (``docs/awx.md``,
``docs/dev/scale-out-facts.md`` section 2).
"""

from __future__ import annotations

import datetime
import typing as t

# AWX sets the awx_* names; older AWX and Tower set the tower_* twins.
WORKFLOW_JOB_VARS = ("awx_workflow_job_id", "tower_workflow_job_id")
JOB_VARS = ("awx_job_id", "tower_job_id")
OWNER_VAR = "esent_backup_owner"
REPORT_PART_ALL = "all"
REPORT_STATS_PREFIX = "esent_backup_report_"


def _first(task_vars: t.Mapping[str, t.Any], names: tuple[str, ...]) -> t.Optional[str]:
    """The first of ``names`` set to something other than empty, as text."""
    for name in names:
        value = task_vars.get(name)
        if value not in (None, "", 0):
            return str(value)
    return None


def session_owner(task_vars: t.Mapping[str, t.Any], run_id: str) -> str:
    """Return the owner of the sessions a run starts.

    The slices of one sliced AWX launch, and the nodes of one workflow, share the workflow's
    owner, so a cleanup node given that owner aborts what any of them left.

    Args:
        task_vars: the task's variables (extra vars, AWX meta vars, inventory vars).
        run_id: this ansible-playbook run's id, used outside AWX.

    Returns:
        ``esent_backup_owner`` when set; else ``awx-wf-<awx_workflow_job_id>`` for a job inside
        a workflow (sliced launches are workflows); else ``awx-job-<awx_job_id>``; else
        ``ansible-<run_id>``. The ``tower_*`` names count as their ``awx_*`` twins.
    """
    explicit = task_vars.get(OWNER_VAR)
    if explicit not in (None, ""):
        return str(explicit)
    return awx_run(task_vars) or f"ansible-{run_id}"


def awx_run(task_vars: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """``awx-wf-<workflow id>`` inside an AWX workflow (sliced launches are workflows), else
    ``awx-job-<job id>`` in an AWX job, else None (the ``tower_*`` names count as their ``awx_*`` twins)."""
    workflow = _first(task_vars, WORKFLOW_JOB_VARS)
    if workflow:
        return f"awx-wf-{workflow}"
    job = _first(task_vars, JOB_VARS)
    return f"awx-job-{job}" if job else None


def report_run_key(task_vars: t.Mapping[str, t.Any], now: t.Optional[datetime.datetime] = None) -> str:
    """Return the folder, under ``esent_backup_report_dir``, that holds one run's report parts.

    Args:
        task_vars: the variables of the report play.
        now: the time to use outside AWX (default: the current UTC time).

    Returns:
        ``awx-wf-<workflow id>``, else ``awx-job-<job id>``, else a UTC timestamp
        (``YYYYMMDDTHHMMSSZ``).
    """
    run = awx_run(task_vars)
    if run:
        return run
    now = now or datetime.datetime.now(datetime.UTC)
    return now.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def report_part(task_vars: t.Mapping[str, t.Any]) -> str:
    """Return the name of this job's part of a run's report.

    Args:
        task_vars: the variables of the report play.

    Returns:
        ``job-<awx_job_id>`` under AWX (each slice has its own job id), else ``all``.
    """
    job = _first(task_vars, JOB_VARS)
    return f"job-{job}" if job else REPORT_PART_ALL


def report_stats_key(task_vars: t.Mapping[str, t.Any]) -> str:
    """Return the ``set_stats`` key of this job's part: ``esent_backup_report_job_<id>`` or ``esent_backup_report_all``.

    A key must be a valid variable name (set_stats refuses ``-``, and downstream workflow nodes
    receive it as an extra var), so the part's ``-`` becomes ``_``. One key per slice, because
    AWX merges the slices' artifacts with a shallow update and the last slice would win.

    Args:
        task_vars: the variables of the report play.

    Returns:
        The key.
    """
    return REPORT_STATS_PREFIX + report_part(task_vars).replace("-", "_")
