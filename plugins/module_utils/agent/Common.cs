// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Ports esesim/agent/common.py call for call: what the snapshot and streaming ops share (engine
// failures, the incremental guard, copies and sets). OpsSnapshot and OpsStream both call these;
// neither calls the other.
// - EngineFailure: an esent.dll error (JetException) as the reply's error.
// - AttachedHeaders and Slots: the headers of the hosted instance's databases and the slot each
//   backup type is recorded in.
// - CheckDest and Guard: the destination rules and the incremental guard
//   (docs/dev/safety-rules.md rule 8), checked before a session starts.
// - StartCopy and FinishSet: the background copy of a set, and its manifest after End.
// - RequireVerified, RecheckSet and RefuseBadSet: a set is re-read against its manifest right
//   before a truncation or a normal End (docs/dev/safety-rules.md rule 4).
// - LogGenerations and DeletedGenerations: what a truncation deleted.
// - Gone: the engine's answers for a backup that is already over (abort paths accept them).
// Plus the few helpers the port needs where Python has a built-in (dict.get, truthiness, paths,
// UTC times from the epoch clock).
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    public static class Common
    {
        public static readonly int ErrNotVerified = Err.Code("JET_errClientNotVerified");

        /// <summary>The engine's answers for a backup that is already over (abort paths accept them).</summary>
        public static readonly List<int> Gone = new List<int>
        {
            Err.Code("JET_errOSSnapshotInvalidSnapId"), Err.Code("JET_errNoBackup"), Err.Code("JET_errBackupAbortByServer"),
        };

        /// <summary>The header slot (DatabaseInfo field) where ESE records each backup type (docs/dev/ese-facts.md sections 2.5 and 3.4).</summary>
        public static readonly Dictionary<string, string> Slots = new Dictionary<string, string>
        {
            { "full", "FullPrev" }, { "incremental", "IncrementalPrev" }, { "copy", "CopyPrev" }, { "differential", "DifferentialPrev" },
        };

        /// <summary>getattr(info, SLOTS[backupType]): the header slot of a backup type.</summary>
        public static BackupInfo SlotOf(DatabaseInfo info, string backupType)
        {
            switch (backupType)
            {
                case "full": return info.FullPrev;
                case "incremental": return info.IncrementalPrev;
                case "copy": return info.CopyPrev;
                case "differential": return info.DifferentialPrev;
                default: throw new KeyNotFoundException(backupType);
            }
        }

        /// <summary>Two header slots are the same record (Python compares the frozen dataclasses by value;
        /// EsentApi.cs's BackupInfo is a class without Equals, so the fields are compared here).</summary>
        public static bool SameBackupInfo(BackupInfo a, BackupInfo b)
        {
            if (a == null || b == null)
                return a == null && b == null;
            if (a.GenLow != b.GenLow || a.GenHigh != b.GenHigh || a.MarkGeneration != b.MarkGeneration || a.MarkSector != b.MarkSector
                || a.MarkByte != b.MarkByte || a.OSSnapshot != b.OSSnapshot)
                return false;
            int[] ta = a.MarkTime ?? new int[0];
            int[] tb = b.MarkTime ?? new int[0];
            if (ta.Length != tb.Length)
                return false;
            for (int i = 0; i < ta.Length; i++)
                if (ta[i] != tb[i])
                    return false;
            return true;
        }

        /// <summary>An esent.dll error as a reply: the catalogue text (the Python agent adds the simulator's
        /// detail in parentheses; esent.dll has none, so the C# agent never does).</summary>
        public static AgentFailure EngineFailure(JetException exc, string what, Session sess = null)
        {
            int err = exc.Code;
            return new AgentFailure(err, what + ": " + JetErrorCatalogue.Lookup(err).Text, "", sess != null ? sess.Brief() : null);
        }

        /// <summary>A file's path in a folder (a drive's root keeps its one backslash).</summary>
        public static string InFolder(string folder, string name)
        {
            return folder.TrimEnd('\\') + "\\" + name;
        }

        /// <summary>Each database of the hosted instance, in attach order (by dbid), with its header (JetGetDatabaseInfo).</summary>
        /// <exception cref="JetException">A header could not be read (the instance is gone).</exception>
        public static List<KeyValuePair<string, DatabaseInfo>> AttachedHeaders(AgentProcess agent)
        {
            List<KeyValuePair<string, DatabaseInfo>> result = new List<KeyValuePair<string, DatabaseInfo>>();
            HostedInstance store = agent.Store;
            if (store == null)
                return result;
            foreach (KeyValuePair<string, IntPtr> kv in ByDbid(store.Dbids))
                result.Add(new KeyValuePair<string, DatabaseInfo>(kv.Key, Jet.GetOpenDatabaseInfo(store.Sesid, kv.Value)));
            return result;
        }

        /// <summary>sorted(dbids.items(), key=dbid): a stable insertion sort (no LINQ: nothing of System.Core, which an Add-Type build may not reference).</summary>
        private static List<KeyValuePair<string, IntPtr>> ByDbid(List<KeyValuePair<string, IntPtr>> dbids)
        {
            List<KeyValuePair<string, IntPtr>> sorted = new List<KeyValuePair<string, IntPtr>>();
            foreach (KeyValuePair<string, IntPtr> kv in dbids)
            {
                int at = sorted.Count;
                while (at > 0 && sorted[at - 1].Value.ToInt64() > kv.Value.ToInt64())
                    at--;
                sorted.Insert(at, kv);
            }
            return sorted;
        }

        /// <summary>store.dbids[path]: the dbid of a database as ESE names it.</summary>
        public static IntPtr DbidOf(HostedInstance store, string path)
        {
            foreach (KeyValuePair<string, IntPtr> kv in store.Dbids)
                if (String.Equals(kv.Key, path, StringComparison.Ordinal))
                    return kv.Value;
            throw new KeyNotFoundException(path);
        }

        /// <summary>dest normalised, or the refusal naming it (the controller's rules, applied again by the agent).</summary>
        public static string CheckDest(AgentProcess agent, string dest)
        {
            try
            {
                return BackupSets.CheckDest(dest, agent.InstanceCfg);
            }
            catch (DestError exc)
            {
                throw new AgentFailure(Err.InvalidOption, exc.Message, exc.Hint);
            }
        }

        /// <summary>The incremental guard (docs/dev/safety-rules.md rule 8): header's last full vs the newest complete full at dest.
        /// Returns the backup type to take; guardResult is the guard's decision (null for a full or copy).</summary>
        public static string Guard(AgentProcess agent, JsonObject args, string backupType, out JsonObject guardResult)
        {
            guardResult = null;
            if (backupType == "full" || backupType == "copy")
                return backupType;
            string dest = args.Str("dest");
            if (String.IsNullOrEmpty(dest))
                throw new AgentFailure(Err.InvalidOption, "a " + backupType + " backup needs dest for the chain check", "Pass dest (the backup root).");
            string win = CheckDest(agent, dest);
            string real = agent.Platform.DestFolder(win, "dest");
            string host = agent.Platform.ComputerName, instance = agent.InstanceCfg.Str("name", "store");
            Catalogue cat = BackupSets.Scan(real, host, instance);
            Dictionary<string, BackupInfo> lastFulls = new Dictionary<string, BackupInfo>();
            foreach (KeyValuePair<string, DatabaseInfo> kv in AttachedHeaders(agent))
                lastFulls[kv.Key] = kv.Value.FullPrev;
            GuardResult result = BackupSets.IncrementalGuard(cat, backupType, lastFulls, Str(GetOr(args, "incremental_fallback", "none")),
                win.TrimEnd('\\') + "\\" + host + "\\" + instance);
            if (result.Decision == BackupSets.GuardFail)
            {
                JsonObject err = result.Error ?? new JsonObject();
                throw new AgentFailure((int)J.AsLong(GetOr(err, "jet", (long)Err.Code("JET_errMissingFullBackup")), "jet"),
                    Str(GetOr(err, "message", result.Reason)), Str(GetOr(err, "hint", "")),
                    new JsonObject().Add("guard", result.ToDict()));
            }
            guardResult = result.ToDict();
            return result.BackupType;
        }

        /// <summary>Name the set folder, then hand the sources to a background copy (free space checked first).
        /// more is a second phase whose files are known only after the first (streaming logs); it is given
        /// to the copy before it starts, never set on a running copy.</summary>
        public static JsonObject StartCopy(AgentProcess agent, Session sess, List<CopySource> sources, string dest, bool verify, string method,
            JsonObject logRange, JsonObject header, Func<List<CopySource>> more = null)
        {
            string host = agent.Platform.ComputerName, instance = agent.InstanceCfg.Str("name", "store");
            string destReal = agent.Platform.DestFolder(dest, "dest");
            string root = BackupSets.InstanceRoot(destReal, host, instance);
            string setId = Manifest.NewSetName(sess.BackupType, UtcNow(agent));
            JsonObject parent = null;
            if (sess.BackupType == "incremental" || sess.BackupType == "differential")
            {
                try
                {
                    parent = Manifest.ChooseParent(BackupSets.Scan(destReal, host, instance).Manifests, sess.BackupType, logRange);
                }
                catch (ChainError exc)
                {
                    throw new AgentFailure(Err.Code("JET_errMissingFullBackup"), exc.Message, exc.Hint, sess.Brief());
                }
            }
            sess.Parent = parent;
            JsonObject margs = new JsonObject().Add("host", host).Add("instance", instance).Add("method", method).Add("header", header)
                .Add("log_range", logRange).Add("parent", parent).Add("session_id", sess.SessionId)
                .Add("agent", new JsonObject().Add("version", agent.Identity()["version"]).Add("boot_id", agent.BootId));

            Session s = sess;
            Action<bool> onVerified = delegate(bool ok)
            {
                s.Verified = ok;
                agent.Log(s, "set_written", new JsonObject().Add("set_id", setId).Add("verified", ok));
            };

            string setWin = dest.TrimEnd('\\') + "\\" + host + "\\" + instance + "\\" + setId;
            AgentCopy copy = new AgentCopy(sources, Path.Combine(root, setId), setWin, verify, margs, agent.Lock, onVerified, null, more,
                DestinationFaults(agent.Platform, setWin), null, agent.Platform.ProtectFolder);
            sess.Copy = copy;
            sess.Verified = false;
            sess.SetDir = copy.SetWin;
            agent.WriteState();  // the set is on record: if this agent dies, its successor marks it aborted
            agent.Copies[copy.CopyId] = copy;
            copy.Start();
            agent.Log(sess, "copy_started", new JsonObject().Add("copy_id", copy.CopyId).Add("set_id", setId).Add("files", (long)sources.Count));
            return sess.Brief().Add("changed", true).Add("copy_id", copy.CopyId).Add("set_id", setId).Add("set_dir", copy.SetWin)
                .Add("bytes_total", copy.Job.BytesTotal).Add("files_total", (long)sources.Count);
        }

        /// <summary>_utcnow: the host's clock as a UTC DateTime.</summary>
        public static DateTime UtcNow(AgentProcess agent)
        {
            return UtcFromEpoch(agent.Platform.Time());
        }

        /// <summary>datetime.fromtimestamp(seconds, UTC): rounded to the microsecond, half to even, as Python does.</summary>
        public static DateTime UtcFromEpoch(double seconds)
        {
            long micro = (long)Math.Round(seconds * 1e6, MidpointRounding.ToEven);
            return new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(micro * 10);
        }

        /// <summary>strftime("%Y-%m-%dT%H:%M:%SZ") of an epoch time (the fraction of the second dropped).</summary>
        public static string UtcText(double seconds)
        {
            return UtcFromEpoch(seconds).ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", CultureInfo.InvariantCulture);
        }

        /// <summary>The session's AgentCopy (Session.Copy is typed object in Sessions.cs), or null.</summary>
        public static AgentCopy CopyOf(Session sess)
        {
            return (AgentCopy)sess.Copy;
        }

        /// <summary>Finalise the pending-end manifest after End (complete, with recorded_as and the mark).
        /// When ESE recorded another type than the session asked for, the parent follows the record:
        /// an incremental ended without truncation is recorded as a differential, which builds on the
        /// newest complete full, not on the incremental the copy chose (and a full recorded as a copy
        /// has none, as it already had). Returns the manifest's status, or null.</summary>
        public static string FinishSet(AgentProcess agent, Session sess)
        {
            AgentCopy copy = CopyOf(sess);
            if (copy == null || copy.State != "done")
                return null;
            JsonObject doc;
            try
            {
                object parent = RecordedParent(sess, copy);
                doc = BackupSets.FinaliseSet(copy.SetReal, sess.RecordedAs ?? "abort", sess.Mark, parent, UtcNow(agent));
            }
            catch (ManifestError exc)
            {
                agent.Log(sess, "manifest_not_finalised", new JsonObject().Add("error", exc.Message));
                return null;
            }
            catch (ChainError exc)
            {
                agent.Log(sess, "manifest_not_finalised", new JsonObject().Add("error", exc.Message));
                return null;
            }
            return doc.Str("status");
        }

        /// <summary>The final manifest's parent: kept unless ESE recorded another type (see FinishSet).</summary>
        private static object RecordedParent(Session sess, AgentCopy copy)
        {
            string recorded = sess.RecordedAs;
            if (recorded == null || recorded == "abort" || recorded == sess.BackupType)
                return Manifest.KeepParent;
            if (recorded == "full" || recorded == "copy")
                return null;
            string root = Path.GetDirectoryName(copy.SetReal);  // <dest>/<host>/<instance>
            string hostDir = Path.GetDirectoryName(root);
            string setName = Path.GetFileName(copy.SetReal);
            List<JsonObject> others = new List<JsonObject>();
            foreach (object m in BackupSets.Scan(Path.GetDirectoryName(hostDir), Path.GetFileName(hostDir), Path.GetFileName(root)).Manifests)
                if (((JsonObject)m).Str("set_id") != setName)
                    others.Add((JsonObject)m);
            return Manifest.ChooseParent(others, recorded, null);
        }

        /// <summary>docs/dev/safety-rules.md rule 4: truncate only after this session's set was verified at the destination,
        /// and only while it still is: the set is re-read against its manifest right before the deletion.</summary>
        public static void RequireVerified(AgentProcess agent, Session sess)
        {
            if (!sess.Verified)
                throw new AgentFailure(ErrNotVerified, "session " + sess.SessionId + ": its set was not verified at the destination"
                    + (!String.IsNullOrEmpty(sess.SetDir) ? " (" + sess.SetDir + ")" : " (no copy yet)"), "", sess.Brief());
            RecheckSet(agent, sess, "nothing was truncated");
        }

        /// <summary>Re-read the set at the destination: every file present, size and SHA-256 as its manifest says.
        /// Runs right before a truncation and before a normal End, so neither trusts a flag set at copy
        /// time. A mismatch marks the set failed for good (its manifest says so; it never becomes
        /// complete) and the session unverified.</summary>
        /// <exception cref="AgentFailure">JET_errClientNotVerified naming the first file that differs.</exception>
        public static void RecheckSet(AgentProcess agent, Session sess, string consequence)
        {
            AgentCopy copy = CopyOf(sess);
            if (copy == null || copy.State != "done")
                return;
            VerifyResult result = Verify.VerifySet(copy.SetReal);
            agent.Log(sess, "set_rechecked", new JsonObject().Add("ok", result.Ok).Add("files", (long)result.Checks.Count).Add("bytes", result.BytesRead));
            if (result.Ok)
                return;
            JsonObject error = result.Error() ?? new JsonObject();
            sess.Verified = false;
            sess.SetProblem = Str(GetOr(error, "message", "the set differs from its manifest"));
            string[] words = consequence.Split((char[])null, StringSplitOptions.RemoveEmptyEntries);
            try
            {
                BackupSets.FailSet(copy.SetReal, new JsonObject().Add("jet", (long)ErrNotVerified).Add("name", "JET_errClientNotVerified")
                    .Add("message", "re-check before " + words[words.Length - 1] + ": " + sess.SetProblem));
            }
            catch (ManifestError exc)
            {
                agent.Log(sess, "set_not_marked_failed", new JsonObject().Add("error", exc.Message));
            }
            throw new AgentFailure(ErrNotVerified, "session " + sess.SessionId + ": the set " + sess.SetDir + " no longer matches its manifest: "
                + sess.SetProblem + "; " + consequence,
                "The set changed after its copy was verified (storage fault, or something wrote to the destination). "
                + "Abort this session (snapshot_abort / stream_stop) and take a new full backup.",
                sess.Brief().Add("file", error["file"]).Add("set_dir", sess.SetDir));
        }

        /// <summary>docs/dev/safety-rules.md rule 4: a normal End stamps the header with this backup, so its set must be good.</summary>
        /// <exception cref="AgentFailure">The set failed its copy or verification, or no longer matches its manifest.</exception>
        public static void RefuseBadSet(AgentProcess agent, Session sess)
        {
            AgentCopy copy = CopyOf(sess);
            if (copy != null && (copy.State == "failed" || copy.State == "cancelled") || !String.IsNullOrEmpty(sess.SetProblem))
            {
                string problem = sess.SetProblem;
                if (String.IsNullOrEmpty(problem))
                {
                    string message = "";
                    if (copy != null)
                    {
                        JsonObject error = J.AsObject(copy.Status()["error"], "error") ?? new JsonObject();
                        message = error.Str("message");
                    }
                    problem = !String.IsNullOrEmpty(message) ? message : "copy " + copy.State;
                }
                throw new AgentFailure(ErrNotVerified, "session " + sess.SessionId + ": its set failed (" + problem + "); a normal End would record a backup "
                    + "that cannot be restored", "Abort this session instead (snapshot_abort, or stream_end result=abort), "
                    + "then take a new backup.", sess.Brief());
            }
            RecheckSet(agent, sess, "the session was not ended");
        }

        /// <summary>The archived log generations of the hosted instance on disk: its log folder's file names, parsed.</summary>
        public static List<long> LogGenerations(AgentProcess agent)
        {
            List<long> result = new List<long>();
            HostedInstance store = agent.Store;
            if (store != null)
                foreach (int g in agent.Platform.LogGenerations(store.LogPath, store.Base, store.Legacy))
                    result.Add(g);
            return result;
        }

        /// <summary>The generations a truncation deleted. The call runs under the host lock, so nothing else
        /// touched the log folder between the two listings: the difference is exactly what the engine's
        /// truncation removed (the engine call itself reports only an error code, as esent.dll does).</summary>
        public static List<long> DeletedGenerations(List<long> before, List<long> after)
        {
            Dictionary<long, bool> remaining = new Dictionary<long, bool>();
            foreach (long g in after)
                remaining[g] = true;
            List<long> gone = new List<long>();
            foreach (long g in before)
                if (!remaining.ContainsKey(g))
                    gone.Add(g);
            return gone;
        }

        /// <summary>The copier's hook for the host's storage faults: a file created on a full volume fails with
        /// ERROR_DISK_FULL, as CreateFileW does (IHostPlatform.VolumeFull). Python raises OSError(ENOSPC); .NET
        /// raises IOException with HRESULT_FROM_WIN32(ERROR_DISK_FULL), which is what this throws.</summary>
        public static Action<string, int> DestinationFaults(IHostPlatform platform, string setWin)
        {
            return delegate(string name, int chunk)
            {
                if (chunk == 0 && platform.VolumeFull(setWin + "\\" + name))
                    throw new IOException("There is not enough space on the disk (" + setWin.Substring(0, Math.Min(2, setWin.Length)) + ")",
                        unchecked((int)0x80070070));
            };
        }

        // -- what Python has built in ------------------------------------------------------------

        /// <summary>dict.get(key, fallback): the fallback only when the key is missing (a null value stays null).</summary>
        public static object GetOr(JsonObject o, string key, object fallback)
        {
            object value;
            return o != null && o.TryGetValue(key, out value) ? value : fallback;
        }

        /// <summary>A JSON value as a string (null stays null).</summary>
        public static string Str(object value)
        {
            return J.AsString(value, "value");
        }

        /// <summary>PureWindowsPath(path).name: the last component of a Windows path.</summary>
        public static string WinName(string path)
        {
            int at = path.LastIndexOfAny(new char[] { '\\', '/' });
            string tail = at >= 0 ? path.Substring(at + 1) : path;
            if (at < 0 && tail.Length >= 2 && tail[1] == ':')
                tail = tail.Substring(2);  // "D:name" (drive-relative)
            return tail;
        }

        /// <summary>A list of generations as JSON (List&lt;object&gt; of long).</summary>
        public static List<object> Generations(List<long> gens)
        {
            return J.List(gens);
        }
    }
}
