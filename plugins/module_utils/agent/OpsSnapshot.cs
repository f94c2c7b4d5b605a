// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Ports esesim/agent/ops_snapshot.py call for call: the snapshot-family ops (JetOSSnapshot* plus
// shadow copies, copies, manifests). Every op checks in the same order as ESE does: arguments,
// session lookup, transition (Session.CanSwitchTo), then work, then SwitchTo. The agent always
// prepares with JET_bitExplicitPrepare + PrepareInstance and JET_bitContinueAfterThaw, so a second
// run on the same instance gets -2403 and never an empty session, and a thaw keeps the session for
// truncation and End. Engine facts kept from the reference (issue 21 item 3): the freeze passes no
// grbit, the freeze lease goes to JET_paramOSSnapshotTimeout in milliseconds, and
// JetOSSnapshotTruncateLog is always called with JET_bitAllDatabasesSnapshot (with 0 it succeeds
// and deletes nothing).
//
// Service-owned stores (owner_service): the prepare stops the owner when it runs (recorded in the
// agent's state file) and hosts the store; the owner must run again right after the thaw. The
// engine part of the session therefore ends at the thaw (End(0): ESE records the backup, the agent
// detaches and terminates its instance, then starts the service), and the copy, verification and
// manifest read the shadow copies while the service is back. Such a session cannot truncate logs
// (truncation needs the ESE session, which ends before the set is verified). Every other way out
// (abort, a failed freeze, the leases, a failed prepare) starts the service again too; a service
// the agent found stopped stays stopped (AgentProcess.ResumeOwner).
// C# 5 only.
using System;
using System.Collections.Generic;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;
using ansible_collections.esent.backup.plugins.module_utils.SessionStates;

namespace EsentBackup.Agent
{
    public static class OpsSnapshot
    {
        public static readonly int ErrNothingFrozen = Err.Code("JET_errClientNothingFrozen");
        public static readonly int ErrTimeout = Err.Code("JET_errOSSnapshotTimeOut");

        private static uint Grbit(string backupType)
        {
            uint bits = NativeHelpers.JET_bitExplicitPrepare | NativeHelpers.JET_bitContinueAfterThaw;
            if (backupType == "incremental" || backupType == "differential")
                bits |= NativeHelpers.JET_bitIncrementalSnapshot;
            if (backupType == "copy" || backupType == "differential")
                bits |= NativeHelpers.JET_bitCopySnapshot;
            return bits;
        }

        /// <summary>Lease.seconds as the reply shows it (an int in the reference agent: core._lease).</summary>
        private static object Seconds(Lease lease)
        {
            return lease != null ? (object)(long)lease.Seconds : null;
        }

        /// <summary>dict(sess.shadows): volume -> shadow id, in the order they were made.</summary>
        private static JsonObject ShadowsOf(Session sess)
        {
            JsonObject o = new JsonObject();
            foreach (KeyValuePair<string, string> kv in sess.Shadows)
                o[kv.Key] = kv.Value;
            return o;
        }

        // @op("snapshot_prepare")
        public static JsonObject OpSnapshotPrepare(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            string requested = args.Str("backup_type");
            agent.RefuseIfHeld(Err.Code("JET_errOSSnapshotNotAllowed"));  // as PrepareInstance would, naming the session (and before the owner stops)
            bool stopped = agent.StopOwnerForSession("snapshot_prepare");
            string backupType;
            JsonObject guardResult;
            IntPtr snapid;
            try
            {
                HostedInstance store = agent.EnsureStore();
                backupType = Common.Guard(agent, args, requested, out guardResult);
                try
                {
                    snapid = Jet.OSSnapshotPrepare(Grbit(backupType));
                }
                catch (JetException exc)
                {
                    throw Common.EngineFailure(exc, "JetOSSnapshotPrepare");
                }
                try
                {
                    Jet.OSSnapshotPrepareInstance(snapid, store.Inst);
                }
                catch (JetException exc)
                {
                    AgentFailure failure = Common.EngineFailure(exc, "JetOSSnapshotPrepareInstance");
                    try
                    {
                        Jet.OSSnapshotAbort(snapid);
                    }
                    catch (JetException)
                    {
                        // the prepare's failure is the one reported
                    }
                    throw failure;
                }
            }
            catch (Exception)
            {
                if (stopped)
                    agent.StartStoppedOwner("snapshot_prepare failed");
                throw;
            }
            Session sess = agent.NewSession("snapshot", doc.Str("owner"), backupType, args);
            sess.SnapId = snapid;
            sess.Guard = guardResult;
            sess.OwnerStopped = stopped;
            agent.Log(sess, "prepared", new JsonObject().Add("backup_type", backupType).Add("snapid", snapid.ToInt64())
                .Add("owner_stopped", stopped ? (object)true : null));
            return sess.Brief().Add("changed", true).Add("backup_type", backupType).Add("requested_backup_type", requested).Add("guard", guardResult)
                .Add("instance", agent.InstanceCfg["name"]).Add("owner", sess.Owner).Add("freeze_lease", Seconds(sess.FreezeLease))
                .Add("session_lease", Seconds(sess.SessionLease)).Add("owner_stopped", stopped);
        }

        /// <summary>What the freeze covered, read while frozen: files to copy, log range, header facts.
        /// The range is the one ESE records at End (docs/dev/ese-facts.md section 4.4), worked out from
        /// the checkpoint and current generation (JetGetInstanceMiscInfo) and the log folder: a full
        /// starts at the checkpoint, an incremental at the oldest generation on disk; the freeze rolled
        /// to a new generation unless it was a full with circular logging. The set carries every
        /// generation of the range plus the current log as the shadow holds it: soft recovery of the
        /// image needs the log stream up to its current log (docs/dev/ese-facts.md section 5.3).</summary>
        private static JsonObject Capture(AgentProcess agent, Session sess, InstanceInfo frozen)
        {
            HostedInstance store = agent.Store;
            if (store == null)
                throw new InvalidOperationException("no hosted instance");  // Python: assert store is not None
            CheckpointInfo ckpt = Jet.GetInstanceCheckpointInfo(store.Inst);
            long genMin = ckpt.GenMin, genMax = ckpt.GenMax;
            bool incremental = sess.BackupType == "incremental" || sess.BackupType == "differential";
            bool rolled = incremental || Jet.GetParameterLong(store.Inst, NativeHelpers.JET_paramCircularLog) == 0;
            long last = rolled ? genMax - 1 : genMax;
            long first;
            if (incremental)
            {
                List<long> onDisk = Common.LogGenerations(agent);
                first = onDisk.Count > 0 ? onDisk[0] : genMax;
            }
            else
            {
                first = Math.Min(genMin, last);  // an idle store's checkpoint may sit in the new generation
            }
            string current = Common.InFolder(store.LogPath, LogNames.CurrentLogName(store.Base, store.Legacy));
            List<object> logs = new List<object>();
            for (long g = first; g <= genMax; g++)
                logs.Add(new List<object> { g, g == genMax ? current : Common.InFolder(store.LogPath, LogNames.LogFileName(store.Base, g, store.Legacy)) });
            List<string> paths = new List<string>(frozen.Databases);
            List<DatabaseInfo> headers = new List<DatabaseInfo>();
            foreach (string p in paths)
                headers.Add(Jet.GetOpenDatabaseInfo(store.Sesid, Common.DbidOf(store, p)));
            List<object> facts = new List<object>();
            for (int i = 0; i < paths.Count; i++)
                facts.Add(BackupSets.HeaderFacts(paths[i], headers[i]));
            SortedSet<string> volumes = new SortedSet<string>(StringComparer.Ordinal);
            foreach (string p in paths)
                volumes.Add(p.Substring(0, 1).ToUpperInvariant());
            volumes.Add(store.LogPath.Substring(0, 1).ToUpperInvariant());
            volumes.Add(store.SystemPath.Substring(0, 1).ToUpperInvariant());
            return new JsonObject()
                .Add("databases", J.List(paths))
                .Add("logs", logs)
                .Add("checkpoint", Common.InFolder(store.SystemPath, LogNames.CheckpointName(store.Base, store.Legacy)))
                .Add("log_range", new JsonObject().Add("base_name", store.Base).Add("gen_low", first).Add("gen_high", genMax))
                .Add("header", new JsonObject().Add("databases", facts).Add("log_signature", headers.Count > 0 ? headers[0].LogSignature : null))
                .Add("volumes", J.List(volumes));
        }

        // @op("snapshot_freeze")
        public static JsonObject OpSnapshotFreeze(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "snapshot");
            agent.RequireLive(sess);
            if (!sess.CanSwitchTo(SessionState.Frozen))
                sess.SwitchTo(SessionState.Frozen);  // raises the invalid-sequence failure
            double lease = sess.FreezeLease != null ? sess.FreezeLease.Seconds : 30;
            // JET_paramOSSnapshotTimeout is in milliseconds; ESE's own timer runs 30 s longer than the lease, so the lease thaws first.
            Jet.SetGlobalParameter(NativeHelpers.JET_paramOSSnapshotTimeout, (long)((lease + 30) * 1000));
            double t0 = agent.Now();
            InstanceInfo[] infos;
            try
            {
                infos = Jet.OSSnapshotFreeze(sess.SnapId);  // JetOSSnapshotFreeze takes no grbit (0)
            }
            catch (JetException exc)
            {
                AgentFailure failure = Common.EngineFailure(exc, "JetOSSnapshotFreeze", sess);
                if (!String.IsNullOrEmpty(sess.OwnerService))
                    throw AbortServiceOwned(agent, sess, failure, "JetOSSnapshotFreeze failed with " + JetErrorCatalogue.Lookup(exc.Code).Name);
                throw failure;
            }
            if (infos.Length == 0)
            {
                Abort(agent, sess, "the freeze covered no instance");
                throw new AgentFailure(ErrNothingFrozen, "snapshot " + sess.SessionId + ": the freeze covered no instance; the session was aborted",
                    "", sess.Brief());
            }
            sess.Freeze = Capture(agent, sess, infos[0]);  // read between Freeze and Thaw
            foreach (string letter in J.Strings(sess.Freeze["volumes"], "volumes"))
            {
                string sid;
                int werr = agent.Platform.CreateShadow(letter, "esent.backup:" + agent.Route + ":" + sess.SessionId, out sid);
                if (werr != 0)
                {
                    Abort(agent, sess, "shadow copy of " + letter + ": failed with Win32 error " + werr);
                    throw new AgentFailure(Err.Code("JET_errDiskIO"), "creating the shadow copy of " + letter + ": failed (Win32 error " + werr
                        + "); the session was aborted", "", sess.Brief());
                }
                sess.Shadows[letter] = sid;
                agent.WriteState();  // recorded at once: a crash from here on leaves a shadow the reaper must find
            }
            sess.SwitchTo(SessionState.Frozen);
            sess.FreezeLease.Renew(agent.Now());
            agent.Log(sess, "frozen", new JsonObject().Add("shadows", ShadowsOf(sess)).Add("log_range", sess.Freeze["log_range"]));
            object window = null;
            if (Py.Truthy(doc.Obj("args")["auto_thaw"]))
            {
                Thaw(agent, sess, "auto_thaw: the shadow copies exist");
                window = Math.Round(agent.Now() - t0, 6);
            }
            List<object> names = new List<object>();
            foreach (InstanceInfo i in infos)
                names.Add(i.Name);
            return sess.Brief().Add("changed", true).Add("instances", names).Add("databases", sess.Freeze["databases"])
                .Add("log_range", sess.Freeze["log_range"]).Add("shadows", ShadowsOf(sess)).Add("auto_thawed", window != null)
                .Add("freeze_window", window).Add("freeze_deadline", FreezeDeadline(agent, sess))
                .Add("owner_stopped_seconds", sess.OwnerStoppedSeconds);
        }

        /// <summary>A failed step of a service-owned session: abort it (the store goes back to its service) and say so.</summary>
        private static AgentFailure AbortServiceOwned(AgentProcess agent, Session sess, AgentFailure failure, string reason)
        {
            ServiceInfo svc = agent.Platform.Service(sess.OwnerService ?? "");
            bool wasRunning = svc != null && svc.Running;
            Abort(agent, sess, reason);
            // Python reads svc.running again on the live service object; ServiceInfo is a snapshot, so ask again.
            ServiceInfo now = svc != null ? agent.Platform.Service(sess.OwnerService ?? "") : null;
            string tail;
            if (now != null && now.Running && !wasRunning)
                tail = "; the session was aborted and " + svc.ServiceName + " started again";
            else
                tail = "; the session was aborted" + (svc != null ? " (" + svc.ServiceName + " was not stopped by the agent and stays as it was)" : "");
            return new AgentFailure(failure.Code, failure.Message + tail, failure.Hint, sess.Brief());
        }

        /// <summary>When the freeze lease thaws a frozen session: ISO 8601 UTC on the host's clock (null once thawed).
        /// The lease runs on the monotonic clock; the wall time is now plus what remains of it.</summary>
        public static string FreezeDeadline(AgentProcess agent, Session sess)
        {
            if (sess.State != SessionState.Frozen || sess.FreezeLease == null)
                return null;
            return Common.UtcText(agent.Platform.Time() + Math.Max(0.0, sess.FreezeLease.Deadline - agent.Now()));
        }

        /// <summary>Thaw (caller, auto_thaw or freeze lease); service-owned stores also end the engine part here.</summary>
        public static void Thaw(AgentProcess agent, Session sess, string reason)
        {
            bool timedOut = false;
            try
            {
                Jet.OSSnapshotThaw(sess.SnapId);
            }
            catch (JetException exc)
            {
                if (exc.Code != ErrTimeout)
                    throw Common.EngineFailure(exc, "JetOSSnapshotThaw", sess);
                timedOut = true;  // -2402: ESE's own timer thawed first (it runs longer than the lease, so only a stalled agent sees this)
            }
            sess.SwitchTo(SessionState.Thawed, reason);
            agent.Log(sess, "thawed", new JsonObject().Add("reason", reason).Add("engine_timeout", timedOut ? (object)true : null));
            if (!String.IsNullOrEmpty(sess.OwnerService) && timedOut)
            {
                Abort(agent, sess, "ESE's own freeze timeout aborted the snapshot before the thaw");  // starts the service again
            }
            else if (!String.IsNullOrEmpty(sess.OwnerService))
            {
                EndEngine(agent, sess);
                agent.ReleaseStore("the owner service must restart after the thaw");
                agent.ResumeOwner(sess, "thaw (" + reason + ")");
            }
        }

        /// <summary>JetOSSnapshotEnd(0) and what ESE recorded (the header's backup info of this session's type).</summary>
        public static void EndEngine(AgentProcess agent, Session sess)
        {
            try
            {
                Jet.OSSnapshotEnd(sess.SnapId, 0);
            }
            catch (JetException exc)
            {
                throw Common.EngineFailure(exc, "JetOSSnapshotEnd", sess);
            }
            sess.EngineEnded = true;
            sess.RecordedAs = sess.BackupType;
            List<BackupInfo> marks = new List<BackupInfo>();
            try
            {
                foreach (KeyValuePair<string, DatabaseInfo> kv in Common.AttachedHeaders(agent))
                    marks.Add(Common.SlotOf(kv.Value, sess.BackupType));
            }
            catch (JetException)
            {
                marks = new List<BackupInfo>();  // the instance is gone: no header to read the mark from
            }
            sess.Mark = marks.Count > 0 && marks[0] != null ? BackupSets.MarkOf(marks[0]) : null;
            agent.Log(sess, "engine_ended", new JsonObject().Add("recorded_as", sess.RecordedAs));
        }

        // @op("snapshot_thaw")
        public static JsonObject OpSnapshotThaw(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "snapshot");
            if ((sess.State == SessionState.Thawed || sess.State == SessionState.Truncated || sess.State == SessionState.Ended)
                && sess.Times.ContainsKey("thawed"))
            {
                object thawedBy = null;
                foreach (object e in agent.Journal.History(sess.SessionId))
                {
                    JsonObject entry = (JsonObject)e;
                    if (entry.Str("event") == "thawed")
                    {
                        thawedBy = entry["reason"];
                        break;
                    }
                }
                return sess.Brief().Add("changed", false).Add("thawed_by", thawedBy);
            }
            agent.RequireLive(sess);
            Thaw(agent, sess, "snapshot_thaw");
            return sess.Brief().Add("changed", true).Add("thawed_by", "snapshot_thaw").Add("owner_stopped_seconds", sess.OwnerStoppedSeconds);
        }

        // @op("snapshot_copy")
        public static JsonObject OpSnapshotCopy(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            Session sess = agent.SessionFor(doc, "snapshot");
            agent.RequireLive(sess);
            if (sess.Shadows.Count == 0)
                throw new AgentFailure(Err.Code("JET_errOSSnapshotInvalidSequence"), "session " + sess.SessionId + " has no shadow copy yet; freeze first",
                    "", sess.Brief());
            AgentCopy existing = Common.CopyOf(sess);
            if (existing != null && (existing.State == "running" || existing.State == "done"))
                throw new AgentFailure(Err.InvalidRequest, "session " + sess.SessionId + " already has copy " + existing.CopyId + " (" + existing.State + ")",
                    "Poll that copy, or cancel it before copying again.", sess.Brief().Add("copy_id", existing.CopyId));
            string dest = Common.CheckDest(agent, args.Str("dest"));
            JsonObject fz = sess.Freeze;
            List<FileToCopy> files = new List<FileToCopy>();  // (source path, set name, role, generation)
            if (sess.BackupType == "full" || sess.BackupType == "copy")
                foreach (string p in J.Strings(fz["databases"], "databases"))
                    files.Add(new FileToCopy(p, Common.WinName(p), "database", null));
            foreach (object item in fz.List("logs"))
            {
                List<object> pair = (List<object>)item;
                long g = J.AsLong(pair[0], "logs");
                string p = J.AsString(pair[1], "logs");
                files.Add(new FileToCopy(p, "logs/" + Common.WinName(p), "log", g));
            }
            string chk = fz.Str("checkpoint");
            files.Add(new FileToCopy(chk, Common.WinName(chk), "checkpoint", null));
            List<CopySource> sources = new List<CopySource>();
            foreach (FileToCopy f in files)
            {
                string sid;
                if (!sess.Shadows.TryGetValue(f.Path.Substring(0, 1).ToUpperInvariant(), out sid))
                    sid = "";
                long size = sid.Length > 0 ? agent.Platform.ShadowFileSize(sid, f.Path) : -1;  // Python: platform.shadow(sid) is None -> -1
                if (size < 0)
                    throw new AgentFailure(Err.Code("JET_errFileNotFound"), f.Path + " is not in the shadow copy of " + f.Path.Substring(0, 1) + ":",
                        "", sess.Brief());
                sources.Add(Copies.ShadowSource(agent.Platform, sid, f.Path, size, f.Name, f.Role, f.Path, agent.Lock, f.Generation));
            }
            return Common.StartCopy(agent, sess, sources, dest, Py.Truthy(Common.GetOr(args, "verify", true)), "snapshot",
                fz.Obj("log_range"), fz.Obj("header"));
        }

        /// <summary>One file of a snapshot set: (source path, set name, role, generation).</summary>
        private sealed class FileToCopy
        {
            public readonly string Path, Name, Role;
            public readonly long? Generation;

            public FileToCopy(string path, string name, string role, long? generation)
            {
                Path = path;
                Name = name;
                Role = role;
                Generation = generation;
            }
        }

        // @op("snapshot_truncate_log")
        public static JsonObject OpSnapshotTruncateLog(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "snapshot");
            agent.RequireLive(sess);
            if (sess.BackupType == "copy")
                throw new AgentFailure(Err.Code("JET_errOSSnapshotInvalidSequence"), "a copy backup never truncates logs", "", sess.Brief());
            if (sess.EngineEnded)
                throw new AgentFailure(Err.Code("JET_errOSSnapshotInvalidSequence"),
                    "session " + sess.SessionId + " released its service-owned store at the thaw; its logs cannot be truncated by this session",
                    "Service-owned stores keep their logs in v1 (circular logging or the owner's own truncation).", sess.Brief());
            if (!sess.CanSwitchTo(SessionState.Truncated))
                sess.SwitchTo(SessionState.Truncated);
            Common.RequireVerified(agent, sess);
            List<long> before = Common.LogGenerations(agent);
            try
            {
                // Always JET_bitAllDatabasesSnapshot: with 0 ESE succeeds and deletes nothing.
                Jet.OSSnapshotTruncateLog(sess.SnapId);
            }
            catch (JetException exc)
            {
                throw Common.EngineFailure(exc, "JetOSSnapshotTruncateLog", sess);
            }
            List<long> gone = Common.DeletedGenerations(before, Common.LogGenerations(agent));
            bool first = sess.State != SessionState.Truncated;
            sess.SwitchTo(SessionState.Truncated);
            agent.Log(sess, "truncated", new JsonObject().Add("generations", Common.Generations(gone)));
            // A repeat that deleted nothing changed nothing.
            return sess.Brief().Add("changed", gone.Count > 0 || first).Add("truncated_generations", Common.Generations(gone));
        }

        // @op("snapshot_end")
        public static JsonObject OpSnapshotEnd(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "snapshot");
            if (sess.State == SessionState.Ended)
                return sess.Brief().Add("changed", false).Add("recorded_as", sess.RecordedAs).Add("set_dir", NullIfEmpty(sess.SetDir));
            agent.RequireLive(sess);
            AgentCopy copy = Common.CopyOf(sess);
            if (copy != null && copy.State == "running")
                throw new AgentFailure(Err.InvalidRequest, "copy " + copy.CopyId + " is still running", "Wait for the copy (or cancel it) before End.",
                    sess.Brief());
            if (!sess.CanSwitchTo(SessionState.Ended))
                sess.SwitchTo(SessionState.Ended);
            Common.RefuseBadSet(agent, sess);
            if (!sess.EngineEnded)
                EndEngine(agent, sess);
            string final = Common.FinishSet(agent, sess);
            DeleteShadows(agent, sess);
            sess.SwitchTo(SessionState.Ended, "snapshot_end");
            agent.Log(sess, "ended", new JsonObject().Add("recorded_as", sess.RecordedAs).Add("manifest", final));
            return sess.Brief().Add("changed", true).Add("recorded_as", sess.RecordedAs).Add("set_dir", NullIfEmpty(sess.SetDir))
                .Add("manifest_status", final).Add("mark", sess.Mark);
        }

        private static string NullIfEmpty(string s)
        {
            return String.IsNullOrEmpty(s) ? null : s;
        }

        public static void DeleteShadows(AgentProcess agent, Session sess)
        {
            List<string> sids = new List<string>(sess.Shadows.Values);
            foreach (string sid in sids)
                agent.Platform.DeleteShadow(sid);
            if (sess.Shadows.Count > 0)
            {
                sids.Sort(StringComparer.Ordinal);
                agent.Log(sess, "shadows_deleted", new JsonObject().Add("shadows", J.List(sids)));
            }
            sess.Shadows.Clear();
            agent.WriteState();
        }

        /// <summary>Abort a live snapshot session: engine abort (gone is fine), copy cancelled, set failed, shadows deleted.</summary>
        public static void Abort(AgentProcess agent, Session sess, string reason)
        {
            AgentCopy copy = Common.CopyOf(sess);
            if (copy != null)
                copy.Cancel();
            if (!sess.EngineEnded)
            {
                try
                {
                    Jet.OSSnapshotAbort(sess.SnapId);
                }
                catch (JetException exc)
                {
                    if (!Common.Gone.Contains(exc.Code))
                        agent.Log(sess, "abort_error", new JsonObject().Add("error", (long)exc.Code));
                }
            }
            if (copy != null && copy.Wait(5) && System.IO.Directory.Exists(copy.SetReal))
            {
                try
                {
                    // a set the copy finished (pending-end) never passes for a backup: aborted
                    BackupSets.AbortSet(copy.SetReal, new JsonObject().Add("jet", (long)Err.Code("errBackupAbortByCaller"))
                        .Add("name", "errBackupAbortByCaller").Add("message", reason));
                }
                catch (ManifestError)
                {
                    // no manifest (copy failed before one) or already final
                }
            }
            DeleteShadows(agent, sess);
            sess.SwitchTo(SessionState.Aborted, reason);
            agent.Log(sess, "aborted", new JsonObject().Add("reason", reason));
            if (!String.IsNullOrEmpty(sess.OwnerService))
            {
                agent.ReleaseStore("abort: " + reason);
                if (!reason.Contains("owner"))  // owner_start aborts first and starts the service itself
                    agent.ResumeOwner(sess, "abort: " + reason, true);
            }
        }

        // @op("snapshot_abort")
        public static JsonObject OpSnapshotAbort(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "snapshot", true);
            JsonObject args = doc.Obj("args");
            if (sess == null || !sess.Live)
            {
                JsonObject output = new JsonObject().Add("changed", false).Add("state", sess == null ? "gone" : sess.StateValue);
                if (sess != null)
                    output.Update(sess.Brief());
                else if (Py.Truthy(args["session_id"]))
                    output.Add("snapshot_id", args["session_id"]).Add("session_id", args["session_id"]);
                return output;
            }
            Abort(agent, sess, "snapshot_abort" + (Py.Truthy(args["force"]) ? " (force)" : ""));
            return sess.Brief().Add("changed", true);
        }
    }
}
