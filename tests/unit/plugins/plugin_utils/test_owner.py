"""The session owner and report names from the AWX variables (plugins/plugin_utils/_owner.py)."""

from __future__ import annotations

import datetime

import pytest
from ansible.utils.vars import validate_variable_name

from ansible_collections.esent.backup.plugins.plugin_utils import _owner as o
from ansible_collections.esent.backup.plugins.plugin_utils import _protocol as p

RUN = "ctl-4242-99"
NOW = datetime.datetime(2026, 3, 1, 4, 5, 6, tzinfo=datetime.UTC)

# (task vars, owner, run key, part, set_stats key)
CASES = [
    ({}, f"ansible-{RUN}", "20260301T040506Z", "all", "esent_backup_report_all"),
    ({"awx_job_id": 42}, "awx-job-42", "awx-job-42", "job-42", "esent_backup_report_job_42"),
    ({"tower_job_id": 7}, "awx-job-7", "awx-job-7", "job-7", "esent_backup_report_job_7"),
    ({"awx_job_id": 42, "awx_workflow_job_id": 40}, "awx-wf-40", "awx-wf-40", "job-42", "esent_backup_report_job_42"),
    ({"tower_job_id": 42, "tower_workflow_job_id": 40}, "awx-wf-40", "awx-wf-40", "job-42", "esent_backup_report_job_42"),
    ({"awx_job_id": "42", "awx_workflow_job_id": ""}, "awx-job-42", "awx-job-42", "job-42", "esent_backup_report_job_42"),
    ({"awx_job_id": 42, "awx_workflow_job_id": None}, "awx-job-42", "awx-job-42", "job-42", "esent_backup_report_job_42"),
    ({"esent_backup_owner": "change-123", "awx_job_id": 42, "awx_workflow_job_id": 40}, "change-123", "awx-wf-40", "job-42",
     "esent_backup_report_job_42"),
    ({"esent_backup_owner": "", "awx_job_id": 42}, "awx-job-42", "awx-job-42", "job-42", "esent_backup_report_job_42"),
]


@pytest.mark.parametrize(("task_vars", "owner", "run_key", "part", "stats_key"), CASES)
def test_names_follow_the_awx_variables(task_vars: dict, owner: str, run_key: str, part: str, stats_key: str) -> None:
    assert o.session_owner(task_vars, RUN) == owner
    assert o.report_run_key(task_vars, NOW) == run_key
    assert o.report_part(task_vars) == part
    assert o.report_stats_key(task_vars) == stats_key


def test_slices_of_one_launch_share_the_owner_and_run_key_but_not_the_part() -> None:
    slices = [{"awx_job_id": job, "awx_workflow_job_id": 40} for job in (41, 42, 43)]
    assert {o.session_owner(s, RUN) for s in slices} == {"awx-wf-40"}
    assert {o.report_run_key(s) for s in slices} == {"awx-wf-40"}
    assert len({o.report_part(s) for s in slices}) == len({o.report_stats_key(s) for s in slices}) == 3


@pytest.mark.parametrize("task_vars", [c[0] for c in CASES])
def test_stats_key_is_a_valid_variable_name(task_vars: dict) -> None:
    validate_variable_name(o.report_stats_key(task_vars))


def test_run_key_outside_awx_is_utc_whatever_the_zone() -> None:
    local = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
    assert o.report_run_key({}, local) == "20260301T040506Z"


@pytest.mark.parametrize("task_vars", [c[0] for c in CASES])
def test_owner_is_accepted_by_protocol_v1(task_vars: dict) -> None:
    request = p.build_request("ping", o.session_owner(task_vars, RUN))
    assert request["owner"] == o.session_owner(task_vars, RUN)
