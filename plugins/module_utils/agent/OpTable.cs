// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's op table: op name -> handler, ported from esesim/agent/registry.py. The Python agent
// fills it with @op decorators as its op modules load; here it is filled explicitly, in one place
// (Build), with every handler of the op modules (OpsSnapshot, OpsStream, OpsInfo, OpsRestore,
// OpsSets) and the agent's own ops (AgentProcess.OpPing ...). A handler takes the agent and the
// decoded request and returns the reply's result.
//
// The table must hold exactly the ops of the protocol (ProtocolSchema.cs, generated from
// _protocol.OPS): Register refuses a name the protocol does not know or a second handler, and
// Missing() lists the ops with no handler (the agent refuses to start with one missing).
// C# 5 only.
using System;
using System.Collections.Generic;
using ansible_collections.esent.backup.plugins.module_utils.ProtocolSchema;

namespace EsentBackup.Agent
{
    public static class OpTable
    {
        public static readonly Dictionary<string, Func<AgentProcess, JsonObject, JsonObject>> Ops = Build();

        private static Dictionary<string, Func<AgentProcess, JsonObject, JsonObject>> Build()
        {
            Dictionary<string, Func<AgentProcess, JsonObject, JsonObject>> t = new Dictionary<string, Func<AgentProcess, JsonObject, JsonObject>>(StringComparer.Ordinal);
            // The agent's own ops (core.py).
            Register(t, "ping", (a, d) => a.OpPing(d));
            Register(t, "status", (a, d) => a.OpStatus(d));
            Register(t, "shutdown", (a, d) => a.OpShutdown(d));
            Register(t, "install", (a, d) => a.OpInstall(d));
            Register(t, "copy_status", (a, d) => a.OpCopyStatus(d));
            Register(t, "copy_cancel", (a, d) => a.OpCopyCancel(d));
            Register(t, "owner_stop", (a, d) => a.OpOwnerStop(d));
            Register(t, "owner_start", (a, d) => a.OpOwnerStart(d));
            Register(t, "workload", (a, d) => a.OpWorkload(d));
            // ops_snapshot.py
            Register(t, "snapshot_prepare", OpsSnapshot.OpSnapshotPrepare);
            Register(t, "snapshot_freeze", OpsSnapshot.OpSnapshotFreeze);
            Register(t, "snapshot_thaw", OpsSnapshot.OpSnapshotThaw);
            Register(t, "snapshot_copy", OpsSnapshot.OpSnapshotCopy);
            Register(t, "snapshot_truncate_log", OpsSnapshot.OpSnapshotTruncateLog);
            Register(t, "snapshot_end", OpsSnapshot.OpSnapshotEnd);
            Register(t, "snapshot_abort", OpsSnapshot.OpSnapshotAbort);
            // ops_stream.py
            Register(t, "stream_begin", OpsStream.OpStreamBegin);
            Register(t, "stream_copy", OpsStream.OpStreamCopy);
            Register(t, "stream_truncate_log", OpsStream.OpStreamTruncateLog);
            Register(t, "stream_end", OpsStream.OpStreamEnd);
            Register(t, "stream_stop", OpsStream.OpStreamStop);
            // ops_info.py, ops_restore.py, ops_sets.py
            Register(t, "instance_info", OpsInfo.OpInstanceInfo);
            Register(t, "verify", OpsInfo.OpVerify);
            Register(t, "prune", OpsInfo.OpPrune);
            Register(t, "restore", OpsRestore.OpRestore);
            Register(t, "backup_sets", OpsSets.OpBackupSets);
            return t;
        }

        /// <summary>Register the handler of protocol op name (registry.op).</summary>
        /// <exception cref="ArgumentException">name is not a protocol op, or another handler already has it.</exception>
        public static void Register(Dictionary<string, Func<AgentProcess, JsonObject, JsonObject>> table, string name,
                                    Func<AgentProcess, JsonObject, JsonObject> handler)
        {
            if (!ProtocolSpec.Ops.ContainsKey(name))
                throw new ArgumentException(Py.Repr(name) + " is not an op of protocol v" + ProtocolSpec.ProtocolVersion);
            if (table.ContainsKey(name))
                throw new ArgumentException("op " + Py.Repr(name) + " has two handlers");
            table[name] = handler;
        }

        /// <summary>The protocol ops with no handler in the table, sorted.</summary>
        public static List<string> Missing()
        {
            List<string> missing = new List<string>();
            foreach (string name in ProtocolSpec.OpNames)
                if (!Ops.ContainsKey(name))
                    missing.Add(name);
            missing.Sort(StringComparer.Ordinal);
            return missing;
        }
    }
}
