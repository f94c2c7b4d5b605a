// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Ports esesim/agent/ops_stream.py call for call: the streaming-family ops
// (JetBeginExternalBackupInstance ... End/Stop). The copy reads through the backup API on the copy
// thread, one chunk per call under the host lock, into a page-aligned buffer
// (IHostPlatform.AllocateAligned: VirtualAlloc on Windows): first every database (attach info,
// open, read, close), then JetGetLogInfoInstance2 (which rolls the log and names the generations)
// and every log. A read is 16 database pages: a multiple of the page size and at least the 3 pages
// ESE wants for a database's first read (else -1003). The file is closed in finally on every path
// (ESE has one backup file slot: a leaked open makes every later open fail with -1011). ESE has no
// timeout for streaming backups, so the session lease is what ends a forgotten one:
// JetEndExternalBackupInstance2(EndAbort), else JetStopBackupInstance.
//
// Service-owned stores (owner_service): the begin stops the owner when it runs, as the snapshot
// prepare does, but the agent hosts the instance for the whole backup (the copy reads through it),
// so the service runs again only once the session is over: at End, abort, stop or the session lease.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;
using ansible_collections.esent.backup.plugins.module_utils.SessionStates;

namespace EsentBackup.Agent
{
    public static class OpsStream
    {
        /// <summary>What the agent itself knows of ESE's -560 on an incremental begin (esent.dll gives the number only):
        /// the rule, and each attached database whose header has no streaming full (none, or a snapshot's).</summary>
        public static string MissingFullWhat(AgentProcess agent)
        {
            List<string> lacking = new List<string>();
            try
            {
                foreach (KeyValuePair<string, DatabaseInfo> kv in Common.AttachedHeaders(agent))
                    if (kv.Value.FullPrev == null || kv.Value.FullPrev.OSSnapshot)
                        lacking.Add(kv.Key + " (" + (kv.Value.FullPrev != null ? "its last full was a snapshot" : "no full backup") + ")");
            }
            catch (JetException)
            {
                lacking.Clear();
            }
            return "JetBeginExternalBackupInstance (incremental: ESE needs a streaming full backup with truncation of every attached database; " +
                   "a snapshot full does not count" + (lacking.Count > 0 ? "; lacking one: " + String.Join(", ", lacking.ToArray()) : "") + ")";
        }

        public const int ChunkPages = 16;

        /// <summary>(backup type, truncated) -> what ESE records at a normal End.</summary>
        private static string Recorded(string backupType, bool truncated)
        {
            if (backupType == "full")
                return truncated ? "full" : "copy";
            if (backupType == "incremental")
                return truncated ? "incremental" : "differential";
            throw new KeyNotFoundException(backupType);
        }

        // @op("stream_begin")
        public static JsonObject OpStreamBegin(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            agent.RefuseIfHeld(Err.Code("JET_errBackupInProgress"));  // as the engine would, naming the session (and before the owner stops)
            bool stopped = agent.StopOwnerForSession("stream_begin");
            string backupType;
            JsonObject guardResult;
            try
            {
                HostedInstance store = agent.EnsureStore();
                backupType = Common.Guard(agent, args, args.Str("backup_type"), out guardResult);
                try
                {
                    Jet.BeginExternalBackup(store.Inst, backupType == "incremental" ? NativeHelpers.JET_bitBackupIncremental : 0);
                }
                catch (JetException exc)
                {
                    if (exc.Code != Err.Code("JET_errMissingFullBackup") || !"full".Equals(args["incremental_fallback"]))
                        throw Common.EngineFailure(exc, exc.Code == Err.Code("JET_errMissingFullBackup") ? MissingFullWhat(agent) : "JetBeginExternalBackupInstance");
                    // ESE wants a streaming full that truncated (a snapshot full passes the chain check at dest): the fallback applies here too.
                    // Python prefers the simulator's detail (exc.detail); esent.dll has none, so the C# agent always says this.
                    string reason = "no streaming full backup to base an incremental on";
                    backupType = "full";
                    guardResult = new JsonObject(guardResult).Add("decision", "fallback_full").Add("backup_type", "full").Add("full_set_id", null)
                        .Add("reason", reason + "; taking a full backup (incremental_fallback: full)");
                    try
                    {
                        Jet.BeginExternalBackup(store.Inst, 0);
                    }
                    catch (JetException again)
                    {
                        throw Common.EngineFailure(again, "JetBeginExternalBackupInstance");
                    }
                }
            }
            catch (Exception)
            {
                if (stopped)
                    agent.StartStoppedOwner("stream_begin failed");
                throw;
            }
            Session sess = agent.NewSession("streaming", doc.Str("owner"), backupType, args);
            sess.State = SessionState.Begun;  // a new session starts in its first state
            sess.Guard = guardResult;
            sess.OwnerStopped = stopped;
            agent.Log(sess, "begun", new JsonObject().Add("backup_type", backupType).Add("owner_stopped", stopped ? (object)true : null));
            return sess.Brief().Add("changed", true).Add("backup_type", backupType).Add("requested_backup_type", args["backup_type"])
                .Add("guard", guardResult).Add("owner", sess.Owner).Add("session_lease", (long)sess.SessionLease.Seconds).Add("owner_stopped", stopped);
        }

        /// <summary>Reads one file through the backup API into a page-aligned buffer, chunk by chunk.</summary>
        private sealed class Reader
        {
            private readonly AgentProcess agent;
            private readonly string path;
            private readonly int chunk;

            public Reader(AgentProcess agent, string path, int pageSize)
            {
                this.agent = agent;
                this.path = path;
                chunk = ChunkPages * pageSize;
            }

            /// <summary>The file's chunks. The aligned buffer is taken when the enumeration starts (Python takes it
            /// in the constructor; an enumerator that never starts would then leak it), and the file is closed in
            /// finally on every path: the end of the file, a failed read, and a copy that stops early (cancel:
            /// the copier disposes the enumerator). Python closes it only after the last read.</summary>
            public IEnumerable<byte[]> Chunks()
            {
                IntPtr inst = agent.Store.Inst;
                IAlignedBuffer mem = agent.Platform.AllocateAligned(chunk);
                IntPtr handle = IntPtr.Zero;
                bool open = false;
                try
                {
                    lock (agent.Lock)
                    {
                        handle = Open(inst);
                        open = true;
                    }
                    while (true)
                    {
                        byte[] data;
                        lock (agent.Lock)
                        {
                            int n = Read(inst, handle, mem);
                            data = new byte[n];
                            if (n > 0)
                                Marshal.Copy(mem.Pointer, data, 0, n);
                        }
                        if (data.Length == 0)
                            break;
                        yield return data;
                    }
                    lock (agent.Lock)
                    {
                        open = false;
                        try
                        {
                            Jet.CloseFile(inst, handle);
                        }
                        catch (JetException)
                        {
                            // every byte was read; TruncateLog and End say whether ESE counted the file
                        }
                    }
                }
                finally
                {
                    if (open)
                    {
                        lock (agent.Lock)
                        {
                            try
                            {
                                Jet.CloseFile(inst, handle);  // a failed read or a cancelled copy: free ESE's one file slot
                            }
                            catch (JetException)
                            {
                                // the read's own error (or the cancel) is the one reported
                            }
                        }
                    }
                    mem.Dispose();
                }
            }

            private IntPtr Open(IntPtr inst)
            {
                try
                {
                    return Jet.OpenFile(inst, path).Handle;
                }
                catch (JetException exc)
                {
                    throw Failure(exc, "JetOpenFileInstance");
                }
            }

            private int Read(IntPtr inst, IntPtr handle, IAlignedBuffer mem)
            {
                try
                {
                    return Jet.ReadFile(inst, handle, mem, chunk);
                }
                catch (JetException exc)
                {
                    // ESE's own error (-1018 for a page that stays bad), naming the file
                    throw Failure(exc, "JetReadFileInstance");
                }
            }

            /// <summary>The engine's error as the copy's: its catalogue name, the file (Python adds the simulator's
            /// detail, a bad page's number, when it has one; esent.dll has none).</summary>
            private CopyError Failure(JetException exc, string call)
            {
                JetErrorInfo row = JetErrorCatalogue.Lookup(exc.Code);  // a number outside the catalogue stays in the text, as a disk I/O error
                string message = call + "(" + path + "): " + row.Text;
                return new CopyError(!String.IsNullOrEmpty(row.Name) ? row.Name : "JET_errDiskIO", message, path);
            }
        }

        private static CopySource Source(AgentProcess agent, string path, long size, string name, string role, int pageSize, long? gen = null)
        {
            return new CopySource(name, role, size, delegate { return new Reader(agent, path, pageSize).Chunks(); }, path, gen);
        }

        /// <summary>The checkpoint, read in one go under the lock (4 KiB) so the copy gets one consistent image.</summary>
        private static CopySource FileSource(AgentProcess agent, string path, string name)
        {
            byte[] data;
            int werr = agent.Platform.ReadShared(path, out data);
            if (werr != 0)
                throw new AgentFailure(Err.Code("JET_errCheckpointFileNotFound"), "cannot read the checkpoint " + path + " (Win32 error " + werr + ")");
            return new CopySource(name, "checkpoint", data.Length, delegate { return new byte[][] { data }; }, path);
        }

        /// <summary>The bytes a streaming backup will read of an attached database, announced before the copy
        /// (free space, short reads).</summary>
        private static long StreamedDatabaseSize(AgentProcess agent, IntPtr inst, string path)
        {
            // Python: jet.sim_only_streamed_database_size(inst, path). esent.dll reports the size only when the
            // file is opened (JetOpenFileInstance), and a streaming backup holds one open file at a time: on
            // Windows SimOnly answers null and the agent takes the database file's size on disk (FileInfo.Length).
            JsonObject answer = agent.Platform.SimOnly("streamed_database_size", new JsonObject().Add("instance", inst.ToInt64()).Add("path", path));
            return answer != null ? answer.Long("value") : agent.Platform.FileSize(path);
        }

        // @op("stream_copy")
        public static JsonObject OpStreamCopy(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            Session sess = agent.SessionFor(doc, "streaming");
            RequireRunning(agent, sess);
            AgentCopy existing = Common.CopyOf(sess);
            if (existing != null)
                throw new AgentFailure(Err.InvalidRequest, "session " + sess.SessionId + " already has copy " + existing.CopyId + " (" + existing.State + ")",
                    "A streaming backup reads each file once; start a new backup to copy again.", sess.Brief().Add("copy_id", existing.CopyId));
            string dest = Common.CheckDest(agent, args.Str("dest"));
            HostedInstance store = agent.Store;
            if (store == null)
                throw new InvalidOperationException("no hosted instance");  // Python: assert store is not None
            IntPtr inst = store.Inst;
            int pageSize = checked((int)Jet.GetParameterLong(IntPtr.Zero, NativeHelpers.JET_paramDatabasePageSize));
            List<CopySource> sources = new List<CopySource>();
            if (sess.BackupType == "full")
            {
                string[] names;
                try
                {
                    names = Jet.GetAttachInfo(inst);
                }
                catch (JetException exc)
                {
                    throw Common.EngineFailure(exc, "JetGetAttachInfoInstance", sess);
                }
                foreach (string name in names)
                {
                    long size = StreamedDatabaseSize(agent, inst, name);
                    sources.Add(Source(agent, name, size, Common.WinName(name), "database", pageSize));
                }
            }
            List<object> facts = new List<object>();
            foreach (KeyValuePair<string, DatabaseInfo> kv in Common.AttachedHeaders(agent))
                facts.Add(BackupSets.HeaderFacts(kv.Key, kv.Value));
            JsonObject header = new JsonObject().Add("databases", facts).Add("log_signature", Jet.GetInstanceLogSignature(inst));
            JsonObject logRange = new JsonObject().Add("base_name", store.Base).Add("gen_low", 0L).Add("gen_high", 0L);

            Func<List<CopySource>> logs = delegate
            {
                lock (agent.Lock)
                {
                    string[] paths;
                    LogInfo info;
                    try
                    {
                        paths = Jet.GetLogInfo(inst, out info);
                    }
                    catch (JetException exc)
                    {
                        throw Common.EngineFailure(exc, "JetGetLogInfoInstance2", sess);
                    }
                    List<CopySource> output = new List<CopySource>();
                    foreach (string path in paths)
                    {
                        long? gen = LogNames.ParseLogFileName(Common.WinName(path), store.Base, store.Legacy);
                        output.Add(Source(agent, path, agent.Platform.FileSize(path), "logs/" + Common.WinName(path), "log", pageSize, gen));
                    }
                    // The manifest format wants the checkpoint in every set; the streaming API does not hand
                    // it out, so the agent reads it from disk (shared read: ESE writes it with a plain open).
                    string chk = Common.InFolder(store.SystemPath, LogNames.CheckpointName(store.Base, store.Legacy));
                    output.Add(FileSource(agent, chk, Common.WinName(chk)));
                    List<long> gens = new List<long>();
                    foreach (CopySource s in output)
                        if (s.Generation.HasValue && s.Generation.Value != 0)
                            gens.Add(s.Generation.Value);
                    logRange["gen_low"] = gens.Count > 0 ? Min(gens) : 0L;
                    logRange["gen_high"] = gens.Count > 0 ? Max(gens) : 0L;
                    return output;
                }
            };

            // The log phase goes to the copy before it starts: an incremental has no database, so its empty
            // first phase ends at once and the follower thread must already know the logs follow.
            return Common.StartCopy(agent, sess, sources, dest, Py.Truthy(Common.GetOr(args, "verify", true)), "streaming", logRange, header, logs);
        }

        private static long Min(List<long> values)
        {
            long m = values[0];
            foreach (long v in values)
                m = Math.Min(m, v);
            return m;
        }

        private static long Max(List<long> values)
        {
            long m = values[0];
            foreach (long v in values)
                m = Math.Max(m, v);
            return m;
        }

        // @op("stream_truncate_log")
        public static JsonObject OpStreamTruncateLog(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "streaming");
            RequireRunning(agent, sess);
            if (!sess.CanSwitchTo(SessionState.Truncated))
                sess.SwitchTo(SessionState.Truncated);
            Common.RequireVerified(agent, sess);
            List<long> before = Common.LogGenerations(agent);
            try
            {
                Jet.TruncateLog(agent.Store.Inst);
            }
            catch (JetException exc)
            {
                throw Common.EngineFailure(exc, "JetTruncateLogInstance", sess);
            }
            List<long> gone = Common.DeletedGenerations(before, Common.LogGenerations(agent));
            bool first = sess.State != SessionState.Truncated;
            sess.SwitchTo(SessionState.Truncated);
            agent.Log(sess, "truncated", new JsonObject().Add("generations", Common.Generations(gone)));
            return sess.Brief().Add("changed", gone.Count > 0 || first).Add("truncated_generations", Common.Generations(gone));
        }

        /// <summary>Refuse a step on a backup that is over; one that stream_stop stopped answers as ESE does after
        /// JetStopBackupInstance: JET_errBackupAbortByServer (-801), recorded as aborted (docs/dev/ese-facts.md section 3.2).</summary>
        public static void RequireRunning(AgentProcess agent, Session sess)
        {
            if (sess.State == SessionState.Aborted && sess.Reason == "stream_stop")
                throw new AgentFailure(Err.Code("JET_errBackupAbortByServer"),
                    "session " + sess.SessionId + " was stopped (stream_stop): ESE recorded the backup as aborted, and after "
                    + "JetStopBackupInstance it answers every backup call with JET_errBackupAbortByServer",
                    "The stopped backup cannot go on and its set is marked aborted; start a new backup with stream_begin.",
                    sess.Brief().Add("recorded_as", sess.RecordedAs));
            agent.RequireLive(sess);
        }

        /// <summary>JetEndExternalBackupInstance2, and what ESE recorded: the type whose header slot it stamped, or "abort".
        /// A normal End returns 0 even when ESE records an abort (docs/dev/ese-facts.md P9), so the agent
        /// compares the slot of the expected type (section 3.4) before and after: a new mark there is the
        /// record; none (on every database) is an abort.</summary>
        private static string End(AgentProcess agent, Session sess, bool normal)
        {
            IntPtr inst = agent.Store.Inst;
            string expected = Recorded(sess.BackupType, sess.State == SessionState.Truncated);
            List<KeyValuePair<string, BackupInfo>> before = new List<KeyValuePair<string, BackupInfo>>();
            if (normal)
                foreach (KeyValuePair<string, DatabaseInfo> kv in Common.AttachedHeaders(agent))
                    Put(before, kv.Key, Common.SlotOf(kv.Value, expected));
            try
            {
                Jet.EndExternalBackup(inst, normal ? NativeHelpers.JET_bitBackupEndNormal : NativeHelpers.JET_bitBackupEndAbort);
            }
            catch (JetException exc)
            {
                if (!Common.Gone.Contains(exc.Code))
                    throw Common.EngineFailure(exc, "JetEndExternalBackupInstance2", sess);
                return "abort";
            }
            if (!normal)
                return "abort";
            List<KeyValuePair<string, BackupInfo>> after = new List<KeyValuePair<string, BackupInfo>>();
            foreach (KeyValuePair<string, DatabaseInfo> kv in Common.AttachedHeaders(agent))
                Put(after, kv.Key, Common.SlotOf(kv.Value, expected));
            bool stamped = before.Count == 0;
            foreach (KeyValuePair<string, BackupInfo> kv in before)
            {
                BackupInfo now;
                bool found = TryGet(after, kv.Key, out now);
                if (!found || !Common.SameBackupInfo(now, kv.Value))  // after.get(path) != mark, by value
                {
                    stamped = true;
                    break;
                }
            }
            return stamped ? expected : "abort";
        }

        /// <summary>d[key] = value on a list kept as a dict (a repeated path keeps its first place, its last value).</summary>
        private static void Put(List<KeyValuePair<string, BackupInfo>> d, string key, BackupInfo value)
        {
            for (int i = 0; i < d.Count; i++)
                if (d[i].Key == key)
                {
                    d[i] = new KeyValuePair<string, BackupInfo>(key, value);
                    return;
                }
            d.Add(new KeyValuePair<string, BackupInfo>(key, value));
        }

        private static bool TryGet(List<KeyValuePair<string, BackupInfo>> d, string key, out BackupInfo value)
        {
            foreach (KeyValuePair<string, BackupInfo> kv in d)
                if (kv.Key == key)
                {
                    value = kv.Value;
                    return true;
                }
            value = null;
            return false;
        }

        // @op("stream_end")
        public static JsonObject OpStreamEnd(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            bool normal = args.Str("result") == "normal";
            Session sess = agent.SessionFor(doc, "streaming", !normal);  // End(abort) is an abort path: a lost session is gone
            if (sess == null)
                return new JsonObject().Add("changed", false).Add("state", "gone").Add("session_id", args["session_id"]);
            if (sess.State == SessionState.Ended && normal)
                return sess.Brief().Add("changed", false).Add("recorded_as", sess.RecordedAs);
            if (!sess.Live && !normal)
                return sess.Brief().Add("changed", false).Add("recorded_as", sess.RecordedAs);
            RequireRunning(agent, sess);
            AgentCopy copy = Common.CopyOf(sess);
            if (copy != null && copy.State == "running")
            {
                if (normal)
                    throw new AgentFailure(Err.InvalidRequest, "copy " + copy.CopyId + " is still running", "Wait for the copy before End.", sess.Brief());
                copy.Cancel();
                copy.Wait(5);
            }
            if (normal)
                Common.RefuseBadSet(agent, sess);
            sess.RecordedAs = End(agent, sess, normal);
            List<BackupInfo> stamped = new List<BackupInfo>();
            if (Common.Slots.ContainsKey(sess.RecordedAs))
                foreach (KeyValuePair<string, DatabaseInfo> kv in Common.AttachedHeaders(agent))
                    stamped.Add(Common.SlotOf(kv.Value, sess.RecordedAs));
            sess.Mark = stamped.Count > 0 && stamped[0] != null ? BackupSets.MarkOf(stamped[0]) : null;
            string final = sess.RecordedAs != "abort" ? Common.FinishSet(agent, sess) : FailSet(sess, "stream_end result=abort");
            sess.SwitchTo(normal && sess.RecordedAs != "abort" ? SessionState.Ended : SessionState.Aborted, "stream_end " + args.Str("result"));
            agent.Log(sess, sess.State == SessionState.Ended ? "ended" : "aborted",
                new JsonObject().Add("recorded_as", sess.RecordedAs).Add("manifest", final));
            double? seconds = ResumeOwner(agent, sess, "stream_end " + args.Str("result"), sess.State == SessionState.Aborted);
            if (normal && sess.RecordedAs == "abort")
                throw new AgentFailure(Err.Code("JET_errBackupAbortByServer"), "ESE recorded the backup as aborted at End", "",
                    sess.Brief().Add("recorded_as", "abort"));
            return sess.Brief().Add("changed", true).Add("recorded_as", sess.RecordedAs).Add("set_dir", String.IsNullOrEmpty(sess.SetDir) ? null : sess.SetDir)
                .Add("manifest_status", final).Add("owner_stopped_seconds", seconds);
        }

        /// <summary>The session is over: a service-owned store goes back to its service (see AgentProcess.ResumeOwner).</summary>
        private static double? ResumeOwner(AgentProcess agent, Session sess, string why, bool failed)
        {
            if (String.IsNullOrEmpty(sess.OwnerService))
                return null;
            agent.ReleaseStore(why);
            return agent.ResumeOwner(sess, why, failed);
        }

        private static string FailSet(Session sess, string reason)
        {
            AgentCopy copy = Common.CopyOf(sess);
            if (copy == null || !System.IO.Directory.Exists(copy.SetReal))
                return null;
            try
            {
                // a set the copy finished (pending-end) never passes for a backup: aborted
                return BackupSets.AbortSet(copy.SetReal, new JsonObject().Add("jet", (long)Err.Code("errBackupAbortByCaller"))
                    .Add("name", "errBackupAbortByCaller").Add("message", reason)).Str("status");
            }
            catch (Exception)
            {
                return null;  // no manifest yet, or already final
            }
        }

        /// <summary>Stop a live streaming session: End(abort), and JetStopBackupInstance if that fails.</summary>
        public static void Abort(AgentProcess agent, Session sess, string reason)
        {
            AgentCopy copy = Common.CopyOf(sess);
            if (copy != null)
            {
                copy.Cancel();
                copy.Wait(5);
            }
            if (agent.Store != null)
            {
                try
                {
                    Jet.EndExternalBackup(agent.Store.Inst, NativeHelpers.JET_bitBackupEndAbort);
                }
                catch (JetException exc)
                {
                    if (!Common.Gone.Contains(exc.Code))
                    {
                        try
                        {
                            Jet.StopBackup(agent.Store.Inst);
                        }
                        catch (JetException)
                        {
                            // StopBackup always returns 0 for a valid instance (docs/dev/ese-facts.md P15)
                        }
                    }
                }
            }
            sess.RecordedAs = "abort";
            FailSet(sess, reason);
            sess.SwitchTo(SessionState.Aborted, reason);
            agent.Log(sess, "aborted", new JsonObject().Add("reason", reason));
            if (!reason.Contains("owner"))  // owner_start aborts first and starts the service itself
                ResumeOwner(agent, sess, "abort: " + reason, true);
        }

        // @op("stream_stop")
        public static JsonObject OpStreamStop(AgentProcess agent, JsonObject doc)
        {
            Session sess = agent.SessionFor(doc, "streaming", true);
            if (sess == null || !sess.Live)
            {
                JsonObject output = new JsonObject().Add("changed", false).Add("state", sess == null ? "gone" : sess.StateValue);
                if (sess != null)
                    output.Update(sess.Brief());
                return output;
            }
            if (agent.Store != null)
            {
                try
                {
                    Jet.StopBackup(agent.Store.Inst);  // JetStopBackupInstance first, then End(abort) in Abort()
                }
                catch (JetException exc)
                {
                    agent.Log(sess, "stop_backup_error", new JsonObject().Add("error", (long)exc.Code));
                }
            }
            Abort(agent, sess, "stream_stop");
            return sess.Brief().Add("changed", true);
        }
    }
}
