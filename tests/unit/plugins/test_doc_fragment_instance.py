"""The shared options' documentation (doc fragment) and argument spec say the same thing."""

from __future__ import annotations

import yaml

from ansible_collections.esent.backup.plugins.doc_fragments.instance import ModuleDocFragment
from ansible_collections.esent.backup.plugins.plugin_utils._options import instance_argument_spec

COMPARED = ("type", "required", "default", "choices", "elements")


def _normalise_doc(options: dict) -> dict:
    out = {}
    for name, doc in options.items():
        entry = {key: doc[key] for key in COMPARED if key in doc}
        entry.setdefault("required", False)
        if "suboptions" in doc:
            entry["options"] = _normalise_doc(doc["suboptions"])
        out[name] = entry
    return out


def _normalise_spec(spec: dict) -> dict:
    out = {}
    for name, arg in spec.items():
        entry = {key: arg[key] for key in COMPARED if key in arg}
        entry.setdefault("required", False)
        if "options" in arg:
            entry["options"] = _normalise_spec(arg["options"])
        out[name] = entry
    return out


def test_fragment_matches_argument_spec() -> None:
    documented = _normalise_doc(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    assert documented == _normalise_spec(instance_argument_spec())


def test_every_documented_option_has_a_description() -> None:
    def walk(options: dict, prefix: str = "") -> list[str]:
        missing = []
        for name, doc in options.items():
            if not doc.get("description"):
                missing.append(prefix + name)
            missing += walk(doc.get("suboptions", {}), f"{prefix}{name}.")
        return missing

    assert walk(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]) == []


def test_argument_spec_is_a_fresh_copy() -> None:
    spec = instance_argument_spec()
    spec["instance"]["options"]["page_size"]["choices"].append(1)
    assert 1 not in instance_argument_spec()["instance"]["options"]["page_size"]["choices"]
