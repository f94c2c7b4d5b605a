#!/usr/bin/python
# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/backup_report.py); this file holds its documentation.

DOCUMENTATION = r"""
module: backup_report
short_description: Write the fleet report of a backup or restore run from the hosts' outcome records
version_added: 0.1.0
description:
  - Turns the outcome records the esent.backup roles leave in each host's C(esent_backup_results)
    fact into one report of the run, and writes it as three files in C(<report_dir>/<run_key>/)
    (C(<report_dir>/<run_key>/<part>/) for one slice of a sliced AWX job) - C(<folder>/report.json)
    (format C(esent.backup.report) version 1), C(<folder>/report.md) (what a person reads first) and
    C(<folder>/junit.xml) (one test case per host and instance, for CI servers and AWX).
  - One row per record; every host in O(hosts) without a record gets a C(not_run) row. Rows are
    sorted failures first, then C(not_run), C(check) and C(ok), then by host and instance. Records
    of hosts not in O(hosts) are kept and marked C(targeted=false), never dropped.
  - The Markdown page starts with a PASSED or FAILED headline and counts, then the rows with the
    failed step, the JET error number and name, the message and the hint; then the restores (lost and
    extra transactions), what the rescues undid, and the totals - bytes, files, throughput, freeze
    and owner-stopped windows, log generations truncated. Only the record's fields are rendered.
  - With O(merge_from), merges the part reports of one sliced run into the report one unsliced run
    would have written, in C(<report_dir>/<run_key>/); a host with different rows in two parts is an error.
  - Runs on the controller and never contacts a Windows host; run it with C(delegate_to=localhost)
    and C(run_once=true), or in a play on localhost. It does not fail when the run failed - it returns
    RV(report_failed) and the playbook decides.
  - Each file is written to a temporary file in the same folder, flushed and renamed over the old one
    (mode 0600; folders 0700), so a reader never sees half a report.
  - Not a member of C(group/esent.backup.all) - it takes none of the steps' instance options.
  - The formats, statuses, run keys and the merge are described in C(docs/report.md) of the collection.
options:
  records:
    description:
      - The outcome records of the run, each as the roles wrote it (every host's C(esent_backup_results), flattened).
      - Required unless O(merge_from) is given; mutually exclusive with it.
      - A record of another record version, without its fields or with an unknown status fails the task naming its index.
    type: list
    elements: dict
  hosts:
    description:
      - The hosts the run targeted (usually C(ansible_play_hosts_all) of the backup play). Each without a record gets a C(not_run) row.
      - Ignored with O(merge_from) (the parts carry their own).
    type: list
    elements: str
    default: []
  report_dir:
    description:
      - The folder on the controller the run folders go to; created (0700) when missing. An absolute path.
    type: path
    required: true
  run_key:
    description:
      - The run's key, the name of its folder (letters, digits, C(.), C(_), C(-); at most 128 characters).
      - 'Default: the variable C(esent_backup_run_key), else C(awx-wf-<awx_workflow_job_id>), else C(awx-job-<awx_job_id>),
        else the controller''s UTC time C(YYYYmmddTHHMMSSZ).'
      - With O(merge_from), when given, it must equal the parts' run key.
    type: str
  part:
    description:
      - Which part of the run this report covers; a part other than C(all) is written to C(<report_dir>/<run_key>/<part>/).
      - 'Default: C(job-<awx_job_id>) in AWX (each slice of a sliced job is a part), else C(all).'
      - Mutually exclusive with O(merge_from) (a merged report is part C(all)).
    type: str
  merge_from:
    description:
      - Part reports to merge instead of building from O(records) - paths of C(report.json) files on the controller, or report dicts.
      - All must have the same run key; the same part given twice counts once; a host with different rows in two parts fails the task.
    type: list
    elements: raw
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Builds and returns everything (RV(markdown), RV(files), RV(totals)) and writes nothing; RV(changed) is still true.
  diff_mode:
    support: none
  platform:
    platforms: all
    details: Runs on the controller (delegate_to localhost); no host is contacted.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
notes:
  - Publish RV(aggregate) with M(ansible.builtin.set_stats) to make a summary the job's artifacts in AWX.
  - C(playbooks/report_merge.yml) merges the parts of a sliced run (variables C(esent_backup_report_dir) and C(esent_backup_run_key)).
seealso:
  - module: ansible.builtin.set_stats
  - module: esent.backup.backup_sets
  - module: esent.backup.restore
author:
  - esent.backup developers (@esent-backup)
"""

EXAMPLES = r"""
- name: Write the report of the backup play
  esent.backup.backup_report:
    records: "{{ ansible_play_hosts_all | map('extract', hostvars) | map(attribute='esent_backup_results', default=[]) | flatten(levels=1) }}"
    hosts: "{{ ansible_play_hosts_all }}"
    report_dir: /var/lib/esent-backup/reports
  delegate_to: localhost
  run_once: true
  register: report

- name: Show the report
  ansible.builtin.debug:
    msg: "{{ report.markdown }}"
  run_once: true

- name: Publish the summary for AWX
  ansible.builtin.set_stats:
    data: "{{ report.aggregate }}"
  run_once: true

- name: Fail the play when a host failed
  ansible.builtin.fail:
    msg: "backups failed on {{ report.failed_hosts | join(', ') }}; see {{ report.report_dir }}"
  when: report.report_failed
  run_once: true

- name: Merge the parts of a sliced run
  esent.backup.backup_report:
    merge_from: "{{ query('ansible.builtin.fileglob', '/var/lib/esent-backup/reports/awx-wf-42/*/report.json') }}"
    run_key: awx-wf-42
    report_dir: /var/lib/esent-backup/reports
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
report_dir:
  description: The folder the files are (or in check mode would be) written to, C(<report_dir>/<run_key>) or C(<report_dir>/<run_key>/<part>).
  returned: success
  type: str
  sample: /var/lib/esent-backup/reports/20260301T020000Z
files:
  description: The JSON, Markdown and JUnit files, in that order (not written in check mode).
  returned: success
  type: list
  elements: str
  sample: ["/var/lib/esent-backup/reports/20260301T020000Z/report.json", "/var/lib/esent-backup/reports/20260301T020000Z/report.md",
           "/var/lib/esent-backup/reports/20260301T020000Z/junit.xml"]
run_key:
  description: The run key used.
  returned: success
  type: str
  sample: 20260301T020000Z
part:
  description: The part written, C(all) for an unsliced run and for a merge.
  returned: success
  type: str
  sample: all
totals:
  description: The report's totals.
  returned: success
  type: dict
  sample: {"hosts": {"targeted": 3, "reported": 2, "failed": 1, "not_run": 1, "untargeted": 0},
           "rows": {"failed": 1, "not_run": 1, "check": 0, "ok": 1, "total": 3}, "bytes": 10485760, "files": 4, "duration_s": 10.0,
           "throughput_bytes_per_s": 1048576.0, "truncated_generations": 2, "freeze_window_s": {"max": 4.0, "avg": 2.75, "count": 2},
           "owner_stopped_s": {"max": null, "avg": null, "count": 0}}
  contains:
    hosts:
      description: Hosts C(targeted), C(reported) (with a record), C(failed), C(not_run), C(untargeted) (a record but not in O(hosts)).
      type: dict
      returned: success
      sample: {"targeted": 3, "reported": 2, "failed": 1, "not_run": 1, "untargeted": 0}
    rows:
      description: Rows per status, and C(total).
      type: dict
      returned: success
      sample: {"failed": 1, "not_run": 1, "check": 0, "ok": 1, "total": 3}
    bytes:
      description: Bytes of the C(ok) rows (copied, or restored).
      type: int
      returned: success
      sample: 10485760
    files:
      description: Files of the C(ok) rows.
      type: int
      returned: success
      sample: 4
    duration_s:
      description: Seconds of the C(ok) rows, summed.
      type: float
      returned: success
      sample: 10.0
    throughput_bytes_per_s:
      description: C(bytes) over C(duration_s); None without an C(ok) row that took time.
      type: float
      returned: success
      sample: 1048576.0
    truncated_generations:
      description: How many log generations the run deleted after verified sets.
      type: int
      returned: success
      sample: 2
    freeze_window_s:
      description: C(max), C(avg) and C(count) of the freeze windows of the real (C(ok) and C(failed)) rows.
      type: dict
      returned: success
      sample: {"max": 4.0, "avg": 2.75, "count": 2}
    owner_stopped_s:
      description: C(max), C(avg) and C(count) of the seconds owner services were stopped.
      type: dict
      returned: success
      sample: {"max": null, "avg": null, "count": 0}
failed_hosts:
  description: Hosts with a failed row, sorted.
  returned: always
  type: list
  elements: str
  sample: ["win02"]
not_run_hosts:
  description: Targeted hosts without a record, sorted.
  returned: always
  type: list
  elements: str
  sample: ["win05"]
report_failed:
  description: Whether any row failed - what a playbook branches on (the task itself does not fail for it).
  returned: success
  type: bool
  sample: true
markdown:
  description: The text of the Markdown file.
  returned: success
  type: str
  sample: "# esent.backup report 20260301T020000Z\n\n**FAILED: 1 failed, 1 not_run, 1 ok (3 rows, 3 hosts targeted, 1 failed, 1 not run)**\n..."
aggregate:
  description:
    - A summary for M(ansible.builtin.set_stats) under the key C(esent_backup_report_<part>) (C(-) in the part made C(_)) -
      run key, part, C(failed), per host a list of C(instance), C(role), C(status), C(backup_type), C(backup_set), C(error_name),
      and the row and host counts, bytes and files.
  returned: success
  type: dict
  sample: {"esent_backup_report_all": {"run_key": "20260301T020000Z", "part": "all", "failed": true,
           "hosts": {"win02": [{"instance": "demo_agent", "role": "snapshot_backup", "status": "failed", "backup_type": "full",
                                "backup_set": null, "error_name": "JET_errOSSnapshotTimeOut"}]},
           "totals": {"rows": {"failed": 1, "not_run": 0, "check": 0, "ok": 0, "total": 1},
                      "hosts": {"targeted": 1, "reported": 1, "failed": 1, "not_run": 0, "untargeted": 0}, "bytes": 0, "files": 0}}}
changed:
  description: True when the report was written (and in check mode, when it would be).
  returned: always
  type: bool
  sample: true
"""
