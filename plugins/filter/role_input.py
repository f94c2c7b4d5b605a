# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the esent.backup roles use on the controller, before any host call.

``dest_problem``, ``instance_problem``, ``options_problem`` and ``owner_problem`` run the steps' own
type, range, path and instance checks on role variables (the problem names the role variable, ""
when there is none), so bad role input fails before any host call; ``outcome_record``
builds the one outcome record of a role run (plugin_utils/_outcome.py). Each filter's
documentation is in the .yml file of the same name.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ..plugin_utils._options import BOUNDS, check_bounds, check_instance, check_types, instance_argument_spec
from ..plugin_utils._outcome import OutcomeError, build
from ..plugin_utils._winpath import WindowsPathError, check_dest

OWNER_MAX = 256


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
    spec = instance_argument_spec()["instance"]["options"]
    unknown = sorted(str(k) for k in instance if k not in spec)
    if unknown:
        return f"{variable} has unknown key(s) {', '.join(unknown)}; the keys are {', '.join(spec)}"
    missing = [k for k in ("name", "log_path", "databases") if instance.get(k) in (None, "", [])]
    if missing:
        return f"{variable}.{missing[0]} is required (the instance's {', '.join(missing)})"
    problem = check_types(spec, instance, f"{variable}.")
    if problem:
        return problem
    given = {k: v for k, v in instance.items() if v is not None}
    for key, option in spec.items():
        if key in given and option.get("choices") and int(given[key]) not in option["choices"]:
            return f"{variable}.{key} must be one of {', '.join(map(str, option['choices']))}, got {given[key]!r}"
    problem = check_bounds({"instance": {k: int(v) for k, v in given.items() if k == "log_file_size"}},
                           {"instance.log_file_size": BOUNDS["instance.log_file_size"]})
    problem = problem or check_instance({"base_name": "edb", **given})  # the steps' default base name
    return problem.replace("instance.", f"{variable}.", 1) if problem.startswith("instance.") else problem


def options_problem(values, prefix):
    """The first problem with the step options a role passes on (``values``: option -> value), naming the
    role variable ``<prefix><option>``, or "": their types, the steps' bounds, and a session lease
    longer than the freeze lease."""
    if not isinstance(values, dict):
        raise AnsibleFilterError(f"options_problem takes a dict of step options, got {type(values).__name__}")
    spec = {name: {"type": "int"} for name in values}
    problem = check_types(spec, values, prefix)
    if problem:
        return problem
    ints = {name: int(value) for name, value in values.items() if value is not None}
    problem = check_bounds(ints, {name: BOUNDS[name] for name in ints if name in BOUNDS})
    if problem:
        return prefix + problem
    if "freeze_lease" in ints and "session_lease" in ints and ints["session_lease"] <= ints["freeze_lease"]:
        return (f"{prefix}session_lease ({ints['session_lease']}) must be longer than {prefix}freeze_lease "
                f"({ints['freeze_lease']}): the session outlives its freeze")
    return ""


def owner_problem(value, variable):
    """The problem with a session owner (or owner prefix) given as role variable ``variable``, or ""."""
    if not isinstance(value, str):
        return f"{variable} must be a string (a session owner such as awx-wf-42), got {type(value).__name__}"
    if len(value) > OWNER_MAX:
        return f"{variable} is {len(value)} characters long; an owner is at most {OWNER_MAX}"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"{variable} must not hold control characters or NUL, got {value!r}"
    return ""


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
        return {"dest_problem": dest_problem, "instance_problem": instance_problem, "options_problem": options_problem,
                "owner_problem": owner_problem, "outcome_record": outcome_record}
