# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""esent.backup.verify: re-read a set against its manifest; optionally every page and a scratch restore. Never changes the set."""

from __future__ import annotations

from ..plugin_utils._options import check_backup_set_option
from ..plugin_utils._step import SESSION_ID, EseStepAction, _AgentError, _StepFailure
from ..plugin_utils._winpath import normalise

NOT_VERIFIED_HINT = "Only a complete set is a backup: take a new one (pending-end, failed and aborted sets are never restored)."


class ActionModule(EseStepAction):
    """One ``verify`` call; a set that is not ``complete`` is reported and never verified as good.

    With the session that wrote the set (``snapshot_id`` or ``backup_id``), its ``pending-end`` set is
    verified before End and a pass is what allows that session's log truncation.
    """

    OP = "verify"
    ARGUMENT_SPEC = {
        "backup_set": {"type": "str", "required": True},
        "page_check": {"type": "bool", "default": False},
        "restore_check": {"type": "bool", "default": False},
        "snapshot_id": {"type": "str"},
        "backup_id": {"type": "str"},
    }
    MUTUALLY_EXCLUSIVE = [["snapshot_id", "backup_id"]]
    RESULT_DEFAULTS = {"backup_set": None, "verified": False, "status": None, "files_checked": 0, "bad_files": [], "unexpected_files": [],
                       "pages_checked": None, "restore_check": None, "lost_transactions": None, "extra_transactions": None}

    def _validate_params(self) -> dict:
        params = super()._validate_params()
        problem = check_backup_set_option(params["backup_set"], params["instance"])
        if problem:
            raise _StepFailure(problem)
        for key in ("snapshot_id", "backup_id"):
            if params.get(key) is not None and not SESSION_ID.fullmatch(params[key]):
                raise _StepFailure(f"{key} must be an id that {'snapshot_prepare' if key == 'snapshot_id' else 'stream_begin'} returned "
                                   f"(<boot id>:<n>:<random>), got {params[key]!r}")
        if self._session_id(params) and params["restore_check"]:
            raise _StepFailure("restore_check needs a complete set, and a set is complete only after its session's End: verify with "
                               f"{'snapshot_id' if params.get('snapshot_id') else 'backup_id'} before the truncation, and with "
                               "restore_check after the End")
        return {**params, "backup_set": normalise("backup_set", params["backup_set"])}

    @staticmethod
    def _session_id(params: dict) -> str:
        return params.get("snapshot_id") or params.get("backup_id") or ""

    def build_args(self, params: dict) -> dict:
        args = {"backup_set": params["backup_set"], "page_check": params["page_check"], "restore_check": params["restore_check"]}
        if self._session_id(params) and not self._task.check_mode:
            args["session_id"] = self._session_id(params)
        return args

    def execute(self, params: dict) -> dict:
        return self._verify(params, peek=False)

    def _verify(self, params: dict, peek: bool) -> dict:
        args = self.build_args(params)
        if peek:
            args["restore_check"] = False  # the scratch restore writes: check mode runs the read-only checks only
        try:
            reply = self._call_agent(self.OP, args, peek=peek or None)
        except _AgentError as err:
            if err.name != "JET_errClientVerifyFailed":
                raise
            raise _AgentError(err.jet, err.name, err.message, err.hint, {**self.shape_result(err.result, params), "verified": False}) from None
        out = self.shape_result(reply, params)
        in_session = bool(self._session_id(params)) and out["status"] == "pending-end"
        if in_session:
            out["verified"] = bool(reply.get("ok"))
        if out["status"] != "complete" and not in_session:
            raise _AgentError.named("JET_errClientVerifyFailed", f"set {params['backup_set']} is {out['status'] or 'without a manifest'}: not a "
                                    f"complete backup, so never verified as good ({out['files_checked']} file(s) match its manifest)",
                                    NOT_VERIFIED_HINT, {**out, "verified": False})
        return out

    def shape_result(self, reply: dict, params: dict) -> dict:
        where = params["backup_set"]
        bad = [{"path": f"{where}\\{f.get('name', '').replace('/', chr(92))}", "reason": f.get("reason")} for f in reply.get("failures") or []]
        pages = reply.get("pages")
        for page in (pages or {}).get("bad") or []:
            bad.append({"path": page.get("file"), "reason": f"page {page.get('pgno')}: {page.get('name')} ({page.get('jet')})"})
        check = reply.get("restore_check")
        root = where.rsplit("\\", 1)[0]
        ledger = reply.get("ledger") or {}
        return {
            "changed": False, "backup_set": where, "status": reply.get("status"), "files_checked": reply.get("files_checked") or 0,
            "verified": bool(reply.get("ok")) and reply.get("status") == "complete", "bad_files": bad,
            "unexpected_files": [f"{where}\\{name.replace('/', chr(92))}" for name in reply.get("unexpected") or []],
            "pages_checked": pages.get("checked") if pages else None,
            "restore_check": {"chain": [f"{root}\\{sid}" for sid in check.get("chain") or []], "attached": bool(check.get("attached")),
                              "records": check.get("records"), "error": check.get("error")} if check else None,
            "lost_transactions": ledger.get("lost"), "extra_transactions": ledger.get("extra"),
        }

    def predict(self, params: dict) -> dict:
        """The read-only checks as a peek (files, and pages with page_check); restore_check is not run, its keys stay null."""
        return self._verify(params, peek=True)
