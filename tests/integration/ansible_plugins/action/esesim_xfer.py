# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only action plugin, do not use directly: put_file/fetch_file through the task's connection.

With TRANSFERS_FILES the base class creates the remote tmp dir (Ansible's mkdtemp script)
and the plugin removes it again (Ansible's Remove-Item script), so one task drives every
Ansible-side script a simulated host must recognise.
"""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        mode = args.get("mode", "roundtrip")
        src, dest = args.get("src"), args.get("dest")
        remote = args.get("remote") or self._connection._shell.join_path(self._connection._shell.tmpdir, "payload.bin")
        try:
            if mode in ("put", "roundtrip"):
                self._connection.put_file(src, remote)
            if mode in ("fetch", "roundtrip"):
                self._connection.fetch_file(remote, dest)
                result["fetched_bytes"] = os.path.getsize(dest) if os.path.exists(dest) else None
        except Exception as exc:  # report the whole chain: fetch_file hides the remote stderr in __context__
            chain, cur = [], exc
            while cur is not None:
                chain.append(f"{type(cur).__name__}: {cur}")
                cur = cur.__cause__ or cur.__context__
            result.update(failed=True, msg=" <- ".join(chain))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result["remote"] = remote
        result["changed"] = mode != "fetch"
        return result
