# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the esent.backup roles use on the controller, before any host call.

``dest_problem`` and ``instance_problem`` run the steps' own path and instance checks on role
variables (the problem names the role variable, "" when there is none); ``outcome_record``
builds the one outcome record of a role run (plugin_utils/_outcome.py). Each filter's
documentation is in the .yml file of the same name.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ..plugin_utils._options import check_instance
from ..plugin_utils._outcome import OutcomeError, build
from ..plugin_utils._winpath import WindowsPathError, check_dest


def dest_problem(value, instance, variable):
    """The problem with a backup root or restore target given as role variable ``variable``, or ""."""
    if not isinstance(value, str) or not value:
        return f"{variable} must be a local absolute Windows path such as E:\\EseBackups, got {value!r}"
    try:
        check_dest(value, instance if isinstance(instance, dict) else None, option=variable)
    except WindowsPathError as err:
        return str(err)
    return ""


def instance_problem(instance, variable):
    """The problem with an instance dict given as role variable ``variable``, or ""."""
    if not isinstance(instance, dict):
        return f"{variable} must be a dict with name, log_path and databases (one item of esent_instances), got {type(instance).__name__}"
    problem = check_instance({"base_name": "edb", **{k: v for k, v in instance.items() if v is not None}})  # the steps' default base name
    return problem.replace("instance.", f"{variable}.", 1) if problem.startswith("instance.") else problem


def outcome_record(fields):
    """One outcome record from the role's collected facts (see ``_outcome.build``)."""
    if not isinstance(fields, dict):
        raise AnsibleFilterError(f"outcome_record takes a dict of the role's facts, got {type(fields).__name__}")
    try:
        return build(fields)
    except OutcomeError as err:
        raise AnsibleFilterError(f"outcome_record: {err}") from None


class FilterModule:  # pylint: disable=too-few-public-methods
    """esent.backup filters."""

    def filters(self):
        return {"dest_problem": dest_problem, "instance_problem": instance_problem, "outcome_record": outcome_record}
