# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.backup_report: the fleet report from outcome records (or the merge of part reports), on the controller."""

from __future__ import annotations

import copy
import os
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ..plugin_utils._outcome import STATUS_FAILED, STATUS_NOT_RUN
from ..plugin_utils._report import (
    REPORT_FILES,
    ReportError,
    aggregate,
    build_report,
    load_report,
    merge_reports,
    part_name,
    render_markdown,
    report_folder,
    run_key,
    write_report,
)

LOCAL_CONNECTIONS = ("local",)


class ActionModule(ActionBase):
    """Build, render and write the report. Not an EseStepAction: it never reaches a Windows host,
    so it takes no instance options and is left out of ``group/esent.backup.all``."""

    ARGUMENT_SPEC = {
        "records": {"type": "list", "elements": "dict"},
        "hosts": {"type": "list", "elements": "str", "default": []},
        "report_dir": {"type": "path", "required": True},
        "run_key": {"type": "str"},
        "part": {"type": "str"},
        "merge_from": {"type": "list", "elements": "raw"},
    }
    # Documented result keys, present on every path (docs/dev/house-rules.md rule 4).
    RESULT_DEFAULTS = {"report_dir": None, "files": [], "run_key": None, "part": None, "totals": {}, "failed_hosts": [],
                       "not_run_hosts": [], "report_failed": None, "markdown": "", "aggregate": {}}
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def _argument_spec(self) -> dict:
        return copy.deepcopy(self.ARGUMENT_SPEC)

    def run(self, tmp: t.Any = None, task_vars: t.Optional[dict] = None) -> dict:
        """Validate, build (or merge), write unless in check mode, and return what was written."""
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        try:
            self._refuse_remote(task_vars)
            params = self._validate_params()
            report = self._report(params, task_vars)
            folder = report_folder(report, params["report_dir"])
            files = [os.path.join(folder, name) for name in REPORT_FILES]
            if not self._task.check_mode:
                files = write_report(report, params["report_dir"])
            result.update(
                changed=True, report_dir=folder, files=files, run_key=report["run_key"], part=report["part"], totals=report["totals"],
                failed_hosts=sorted({r["host"] for r in report["rows"] if r["status"] == STATUS_FAILED}),
                not_run_hosts=sorted({r["host"] for r in report["rows"] if r["status"] == STATUS_NOT_RUN}),
                report_failed=report["failed"], markdown=render_markdown(report), aggregate=aggregate(report))
        except ReportError as err:
            result.update(failed=True, msg=str(err))
        except OSError as err:
            result.update(failed=True, msg=f"cannot write the report under report_dir {self._task.args.get('report_dir')}: {err}. "
                                           "Give a report_dir the controller user can create and write.")
        for key, value in self.RESULT_DEFAULTS.items():
            result.setdefault(key, copy.deepcopy(value))
        result.setdefault("changed", False)
        return result

    def _refuse_remote(self, task_vars: dict) -> None:
        transport = str(getattr(self._connection, "transport", "") or "").rsplit(".", 1)[-1]
        if transport not in LOCAL_CONNECTIONS:
            raise ReportError(f"esent.backup.backup_report runs on the controller, but this task runs for {task_vars.get('inventory_hostname')} "
                              f"over '{transport}': add 'delegate_to: localhost' and 'run_once: true' to the task, or run it in a play on localhost")

    def _validate_params(self) -> dict:
        try:
            _validation, params = self.validate_argument_spec(
                argument_spec=self._argument_spec(), mutually_exclusive=[("records", "merge_from"), ("part", "merge_from")],
                required_one_of=[("records", "merge_from")])
        except AnsibleActionFail as err:
            raise ReportError(f"invalid options: {err.message}. Give records (the hosts' esent_backup_results) to build a report, "
                              "or merge_from (part report.json files) to merge one; see ansible-doc esent.backup.backup_report") from None
        if not os.path.isabs(params["report_dir"]):
            raise ReportError(f"report_dir must be an absolute path on the controller, got {params['report_dir']!r}: "
                              "use for example '{{ playbook_dir }}/reports'")
        return params

    def _report(self, params: dict, task_vars: dict) -> dict:
        if params["merge_from"] is None:
            return build_report(params["records"], params["hosts"], params["run_key"] or run_key(task_vars),
                                params["part"] or part_name(task_vars))
        reports = []
        for index, item in enumerate(params["merge_from"]):
            if isinstance(item, str):
                reports.append(load_report(os.path.expanduser(item)))
            elif isinstance(item, dict):
                reports.append(item)
            else:
                raise ReportError(f"merge_from[{index}] must be the path of a report.json or a report dict, got {type(item).__name__}")
        merged = merge_reports(reports)
        if params["run_key"] and params["run_key"] != merged["run_key"]:
            raise ReportError(f"run_key {params['run_key']!r} does not match the parts' run key {merged['run_key']!r}: "
                              "merge the parts of that run, or leave run_key out")
        return merged
