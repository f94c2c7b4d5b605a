# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.restore: a whole chain of this host's and instance's sets into a folder, or over the live store."""

from __future__ import annotations

from ..plugin_utils._options import check_backup_set_option, restore_target
from ..plugin_utils._step import EseStepAction, _AgentError, _StepFailure
from ..plugin_utils._winpath import folded, normalise

FILE_KEYS = ("path", "size_bytes", "role")


class ActionModule(EseStepAction):
    """Choose the set (``backup_set``, or the newest complete chain's newest set by lgposMark, from
    ``backup_sets``), then ``restore``: the agent stages it into the target with a restore map."""

    OP = "restore"
    ARGUMENT_SPEC = {
        "dest": {"type": "str", "required": True},
        "backup_set": {"type": "str"},
        "target": {"type": "str"},
        "overwrite": {"type": "bool", "default": False},
    }
    RESULT_DEFAULTS = {"backup_set": None, "chain": [], "target": None, "restored_files": [], "state": None, "method": None,
                       "replaced_originals": False}

    def _validate_params(self) -> dict:
        params = super()._validate_params()
        problem = check_backup_set_option(params["backup_set"], params["instance"], params["dest"]) if params["backup_set"] is not None else ""
        target, problem = (None, problem) if problem else restore_target(params["target"], params["instance"], params["dest"], params["overwrite"])
        if problem:
            raise _StepFailure(problem)
        return {**params, "target": target}

    # -- choosing the set (the same in check mode and for real) -----------------------------------

    def _choose(self, params: dict) -> tuple[dict, dict]:
        """(the set to restore to, its catalogue) from ``backup_sets``; raises the error the restore would meet."""
        listing = self._call_agent("backup_sets", {"dest": params["dest"]})
        sets = {folded(s["path"]): s for s in listing.get("sets") or []}
        root = listing.get("root")
        if params["backup_set"] is None:
            chains = listing.get("chains") or []
            if not chains:
                raise _AgentError.named("JET_errClientInvalidOption", f"dest: no complete full chain under {root}; nothing to restore",
                                        "Take a full backup to dest first, or give backup_set (esent.backup.backup_sets lists the sets).",
                                        {"chain": [], "target": params["target"]})
            return sets[folded(chains[0]["newest"])], listing
        want = normalise("backup_set", params["backup_set"])
        entry = sets.get(folded(want))
        if entry is None:
            why = next((s["reason"] for s in listing.get("skipped") or [] if folded(s["path"]) == folded(want)), "")
            raise _AgentError.named("JET_errClientInvalidOption", f"backup_set: {want} is not a set of this host and instance: the sets are "
                                    f"the folders of {root} with a valid manifest of this collection" + (f" ({why})" if why else ""),
                                    "esent.backup.backup_sets lists them.", {"backup_set": want, "chain": [], "target": params["target"]})
        if entry["status"] != "complete":
            raise _AgentError.named("JET_errClientInvalidOption", f"backup_set: {want} is {entry['status']}: only a complete set is restored",
                                    "Restore a complete set (esent.backup.backup_sets lists them).",
                                    {"backup_set": want, "chain": [], "target": params["target"]})
        return entry, listing

    # -- the run -----------------------------------------------------------------------------------

    def execute(self, params: dict) -> dict:
        entry, listing = self._choose(params)
        root = listing["root"]
        try:
            reply = self._call_agent(self.OP, {"backup_set": entry["path"], "target": params["target"], "overwrite": params["overwrite"]})
        except _AgentError as err:
            res = err.result
            out = {"backup_set": entry["path"], "chain": [f"{root}\\{sid}" for sid in res.get("chain") or []], "target": params["target"],
                   "restored_originals": res.get("restored_originals")}
            if res.get("moved_aside") and not res.get("restored_originals"):
                out["moved_aside"] = res["moved_aside"]  # the originals could not be put back: where they are
            raise _AgentError(err.jet, err.name, err.message, err.hint, out) from None
        return {**self.shape_result({**reply, "root": root}, params), "backup_set": entry["path"]}

    def shape_result(self, reply: dict, params: dict) -> dict:
        dbs = reply.get("databases") or {}
        return {"changed": bool(reply.get("changed")), "chain": [f"{reply['root']}\\{sid}" for sid in reply.get("chain") or []],
                "target": reply.get("target"), "method": reply.get("method"),
                "restored_files": [{key: f.get(key) for key in FILE_KEYS} for f in reply.get("restored_files") or []],
                "state": "clean" if dbs and all(v == "clean" for v in dbs.values()) else None,
                "replaced_originals": bool(reply.get("replaced_originals"))}

    def predict(self, params: dict) -> dict:
        """The set and its chain from the catalogue (a read); the target is never read, nothing is written."""
        entry, listing = self._choose(params)
        sets = {folded(s["path"]): s for s in listing.get("sets") or []}
        chain = [entry]
        while (chain[0].get("recorded_as") or chain[0]["backup_type"]) not in ("full", "copy"):
            parent = sets.get(folded(chain[0]["parent"])) if chain[0].get("parent") else None
            if parent is None or parent["status"] != "complete":
                raise _AgentError.named("JET_errRequiredLogFilesMissing", f"set {chain[0]['path']} needs set {chain[0].get('parent')}, which is "
                                        f"{'missing' if parent is None else parent['status']} (check mode)", "Restore an older complete chain.",
                                        {"backup_set": entry["path"], "chain": [], "target": params["target"]})
            chain.insert(0, parent)
        return {"changed": True, "backup_set": entry["path"], "chain": [s["path"] for s in chain], "target": params["target"],
                "method": chain[0]["method"], "restored_files": [], "state": "clean", "replaced_originals": False}
