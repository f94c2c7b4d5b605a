// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The restore op: a whole backup chain into a target (docs/dev/safety-rules.md rule 9).
// Ported from the reference agent's ops_restore.py call for call. backup_set names a set folder
// (the chain ending at that set is restored) or the instance folder <dest>\<host>\<instance> (the
// latest complete set by lgposMark, docs/dev/architecture.md section 4). The chain comes from the
// catalogue (Catalogue.RestoreChain): a full or copy and the incrementals (or the one differential)
// that build on it. Every file of every set is checked against its manifest (size and SHA-256) and
// the log generations of the chain must be contiguous before anything is written into the target.
//
// Two ways to restore, chosen by the method of the chain's base set:
//
// * streaming (docs/dev/ese-facts.md section 5.1): hard restore with JetExternalRestore2. The
//   databases and every log are staged into the target first, because ESE deletes the logs outside
//   the range in the backup log folder (docs/dev/ese-facts.md P19) and the set must stay whole; the
//   restore map points each database's recorded source path at its staged copy, since replay applies
//   only mapped databases and the log records name the original path.
// * snapshot (docs/dev/ese-facts.md section 5.3): the image (databases, the base set's checkpoint,
//   every log of the chain, the current log of the last set) is copied into the target and soft
//   recovery runs with the restore map. Soft recovery replays databases *missing* from the map in
//   place, so a chain whose logs name a database the base set does not hold is refused rather than
//   let it touch the original.
//
// Over live files (overwrite: true) the target folder is renamed aside before anything is written,
// and deleted only once every restored database is Clean Shutdown and its records read back; any
// failure deletes what the restore wrote and renames the originals back.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    public static class OpsRestore
    {
        public const int JET_dbstateCleanShutdown = 3;  // docs/dev/ese-facts.md section 4.6
        /// <summary>A gap in the chain: the generations the restore needs are in no set.</summary>
        public static readonly int ErrLogsMissing = Err.Code("JET_errRequiredLogFilesMissing");
        public const string Staging = "restore.staging";  // the hard restore's backup log folder inside the target (ESE deletes logs there)
        public const string Logs = "logs";

        /// <summary>The copy of one generation the restore uses: from the newest set of the chain holding it (Python _Log).</summary>
        public sealed class Log
        {
            public readonly string Src;
            public readonly string Name;
            public readonly string SetId;
            public readonly bool Current;  // the set's current log (edb.log): a partial generation, valid only at the end of the chain

            public Log(string src, string name, string setId, bool current)
            {
                Src = src;
                Name = name;
                SetId = setId;
                Current = current;
            }
        }

        /// <summary>What a restore stages and replays, worked out (and checked) before the target is touched.</summary>
        public sealed class Plan
        {
            public readonly List<JsonObject> Chain;
            public readonly Dictionary<string, string> SetDirs;  // set id -> real folder
            public readonly Dictionary<string, string> SetWins;  // set id -> Windows folder
            public readonly string Method;
            public readonly string Base;
            public readonly int Legacy;
            public readonly List<string[]> Databases = new List<string[]>();  // (set file, file name, recorded source path)
            private readonly Dictionary<long, Log> logs = new Dictionary<long, Log>();
            private readonly List<long> logOrder = new List<long>();  // a Python dict's insertion order
            public string[] Checkpoint = { "", "" };  // (set file, file name) of the base set

            public Plan(List<JsonObject> chain, Dictionary<string, string> setDirs, Dictionary<string, string> setWins, string method, string baseName, int legacy)
            {
                Chain = chain;
                SetDirs = setDirs;
                SetWins = setWins;
                Method = method;
                Base = baseName;
                Legacy = legacy;
            }

            public List<string> Ids
            {
                get
                {
                    List<string> ids = new List<string>();
                    foreach (JsonObject m in Chain)
                        ids.Add(m.Str("set_id"));
                    return ids;
                }
            }

            /// <summary>plan.logs[gen] = log (a newer set's copy wins; the generation keeps its first place).</summary>
            public void SetLog(long gen, Log log)
            {
                if (!logs.ContainsKey(gen))
                    logOrder.Add(gen);
                logs[gen] = log;
            }

            public bool HasLog(long gen) { return logs.ContainsKey(gen); }
            public Log LogOf(long gen) { return logs[gen]; }
            public int LogCount { get { return logs.Count; } }

            /// <summary>plan.logs.values() in insertion order.</summary>
            public List<Log> LogValues
            {
                get
                {
                    List<Log> values = new List<Log>();
                    foreach (long g in logOrder)
                        values.Add(logs[g]);
                    return values;
                }
            }

            /// <summary>sorted(plan.logs.items()).</summary>
            public List<KeyValuePair<long, Log>> SortedLogs
            {
                get
                {
                    List<KeyValuePair<long, Log>> items = new List<KeyValuePair<long, Log>>(logs);
                    items.Sort((a, b) => a.Key.CompareTo(b.Key));
                    return items;
                }
            }

            /// <summary>max(plan.logs) (throws on none, as Python's max does).</summary>
            public long MaxGeneration
            {
                get
                {
                    if (logs.Count == 0)
                        throw new InvalidOperationException("max() of no log generations");
                    long high = Int64.MinValue;
                    foreach (long g in logs.Keys)
                        high = Math.Max(high, g);
                    return high;
                }
            }

            public long ArchivedHigh
            {
                get
                {
                    long high = 0;
                    foreach (KeyValuePair<long, Log> kv in logs)
                        if (!kv.Value.Current && kv.Key > high)
                            high = kv.Key;
                    return high;
                }
            }
        }

        /// <summary>@op("restore"): restore the chain ending at backup_set into target; see the file's header.</summary>
        /// <exception cref="AgentFailure">-10016 for a bad target or option (non-empty without overwrite), -10015
        /// for a set that fails verification, -543 for a broken chain (naming the set and the generation), the
        /// engine's error when the restore itself fails (originals back).</exception>
        public static JsonObject OpRestore(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            string setWin = args.Str("backup_set").TrimEnd('\\');
            string target = args.Str("target").TrimEnd('\\');
            foreach (Session sess in agent.Sessions.Values)
                if (sess.Live)
                    sess.SessionLease.Renew(agent.Now());  // restore checks renew leases too (docs/dev/safety-rules.md rule 2)
            Plan plan = PlanOf(agent, setWin);
            string targetReal = agent.Platform.RealPath(target, "target");
            RestoreChecks.CheckSpace(agent, plan.Chain, target, targetReal);  // before anything is written or released
            CheckTarget(agent, plan, target, targetReal, args.Bool("overwrite"));
            VerifyChain(plan);  // nothing is staged before every file of every set matched its manifest
            agent.Journal.Write("restore_started", new JsonObject().Add("chain", J.List(plan.Ids)).Add("target", target).Add("method", plan.Method));
            string aside = MoveAside(agent, plan, target, targetReal);
            bool existed = Directory.Exists(targetReal);
            JsonObject output;
            try
            {
                Directory.CreateDirectory(targetReal);
                output = Restore(agent, plan, target);
                List<string> stagedLogs = new List<string>();
                foreach (Log log in plan.LogValues)
                    stagedLogs.Add(log.Name);
                RestoreChecks.Finish(agent, target, output, stagedLogs, plan.Checkpoint[1]);
            }
            catch (AgentFailure exc)
            {
                bool back = PutBack(agent, target, targetReal, aside, existed);
                exc.Result.Update(new JsonObject().Add("chain", J.List(plan.Ids)).Add("target", target).Add("moved_aside", Win(target, aside))
                    .Add("restored_originals", back));
                string message = exc.Message;
                if (aside != null && !back)
                    message += String.Format("; the originals are still in {0}: put them back by hand", Win(target, aside));
                agent.Journal.Write("restore_failed", new JsonObject().Add("chain", J.List(plan.Ids)).Add("target", target).Add("error", (long)exc.Code)
                    .Add("message", message).Add("restored_originals", back));
                if (message == exc.Message)
                    throw;
                throw new AgentFailure(exc.Code, message, exc.Hint, exc.Result);
            }
            catch (Exception)
            {
                PutBack(agent, target, targetReal, aside, existed);  // a bug or a crash point must not leave the originals aside either
                throw;
            }
            if (aside != null)
                RemoveTree(aside, false);  // the restored store is clean and verified: the originals may go
            agent.Journal.Write("restored", new JsonObject().Add("chain", J.List(plan.Ids)).Add("target", target).Add("replaced_originals", aside != null));
            return new JsonObject(output).Add("changed", true).Add("set_id", plan.Ids[plan.Ids.Count - 1]).Add("chain", J.List(plan.Ids))
                .Add("method", plan.Method).Add("target", target).Add("moved_aside", Win(target, aside)).Add("restored_originals", false)
                .Add("replaced_originals", aside != null);
        }

        // -- the chain ------------------------------------------------------------------------------

        /// <summary>Find the set (or the latest), its chain, and the files to stage; refuse a broken chain (Python _plan).</summary>
        private static Plan PlanOf(AgentProcess agent, string setWin)
        {
            string real = agent.Platform.RealPath(setWin, "backup_set");
            string root, setId, rootWin;
            if (File.Exists(Path.Combine(real, Manifest.ManifestName)))
            {
                root = Path.GetDirectoryName(real);
                setId = Path.GetFileName(real);
                rootWin = WinParent(setWin);
            }
            else if (Directory.Exists(real))
            {
                root = real;  // the instance folder: the latest complete set
                setId = null;
                rootWin = setWin;
            }
            else
            {
                throw new AgentFailure(Err.InvalidOption, String.Format("backup_set {0} is neither a set folder (with {1}) nor an instance folder",
                    setWin, Manifest.ManifestName), "Give a set folder, or <dest>\\<host>\\<instance> for the latest complete set.");
            }
            Catalogue cat;
            try
            {
                string hostFolder = Path.GetDirectoryName(root);
                cat = BackupSets.Scan(Path.GetDirectoryName(hostFolder), Path.GetFileName(hostFolder), Path.GetFileName(root));
            }
            catch (ManifestError exc)
            {
                throw new AgentFailure(Err.InvalidOption, String.Format("backup_set {0}: {1}", setWin, exc.Message));
            }
            if (setId != null && cat.Entry(setId) == null)
            {
                string why = "not a set of this collection";
                foreach (SetEntry e in cat.Skipped)
                {
                    if (e.Name == setId)
                    {
                        why = e.Reason;
                        break;
                    }
                }
                throw new AgentFailure(Err.VerifyFailed, String.Format("set {0} cannot be restored: {1}", setId, why),
                    "Restore another set; never edit a manifest by hand.");
            }
            List<JsonObject> chain;
            try
            {
                chain = cat.RestoreChain(setId);
            }
            catch (ChainError exc)
            {
                throw ChainFailure(cat, setId, exc);
            }
            Dictionary<string, string> dirs = new Dictionary<string, string>();
            foreach (JsonObject m in chain)
                dirs[m.Str("set_id")] = cat.Entry(m.Str("set_id")).Path;
            Dictionary<string, string> wins = new Dictionary<string, string>();
            foreach (string sid in dirs.Keys)
                wins[sid] = rootWin + "\\" + sid;
            JsonObject baseSet = chain[0];
            string baseName = baseSet.Obj("log_range").Str("base_name");
            List<string> names = new List<string>();
            foreach (JsonObject m in chain)
                foreach (JsonObject f in m.List("files"))
                    names.Add(WinName(f.Str("name").Replace('/', '\\')));
            Plan plan = new Plan(chain, dirs, wins, baseSet.Str("method"), baseName, OpsInfo.MaxStyle(LogNames.DetectStyles(names, baseName)));
            foreach (JsonObject m in chain)
            {
                foreach (JsonObject f in m.List("files"))
                {
                    string src = wins[m.Str("set_id")] + "\\" + f.Str("name").Replace('/', '\\');
                    string name = WinName(src);
                    if (f.Str("role") == "log")
                    {
                        bool current = !LogNames.ParseLogFileName(name, baseName, plan.Legacy).HasValue;
                        plan.SetLog(f.Long("generation"), new Log(src, name, m.Str("set_id"), current));  // a newer set's copy wins
                    }
                    else if (ReferenceEquals(m, baseSet) && f.Str("role") == "database")
                    {
                        plan.Databases.Add(new[] { src, name, f.Str("source") });
                    }
                    else if (ReferenceEquals(m, baseSet))
                    {
                        plan.Checkpoint = new[] { src, name };
                    }
                }
            }
            CheckPlan(plan);
            return plan;
        }

        /// <summary>Turn the catalogue's ChainError into the op's error, naming the set and the first missing generation.</summary>
        private static AgentFailure ChainFailure(Catalogue cat, string setId, ChainError exc)
        {
            Dictionary<string, JsonObject> byId = new Dictionary<string, JsonObject>();
            foreach (JsonObject m in cat.Manifests)
                byId[m.Str("set_id")] = m;
            JsonObject child;
            if (setId != null)
                byId.TryGetValue(setId, out child);
            else
                child = cat.Latest();
            if (child == null || !Manifest.IsComplete(child))
                return new AgentFailure(Err.InvalidOption, exc.Message, exc.Hint);
            Dictionary<string, bool> seen = new Dictionary<string, bool>();
            string chainType = Manifest.ChainType(child);
            while (chainType != "full" && chainType != "copy" && !seen.ContainsKey(child.Str("set_id")))
            {
                seen[child.Str("set_id")] = true;
                JsonObject reference = child.Obj("parent");
                JsonObject parent = null;
                if (reference != null)
                    byId.TryGetValue(reference.Str("set_id"), out parent);
                long low = child.Obj("log_range").Long("gen_low");
                if (parent == null || !Manifest.IsComplete(parent))
                {
                    string state = parent == null ? "missing" : parent.Str("status");
                    return new AgentFailure(ErrLogsMissing, String.Format("set {0} needs set {1}, which is {2}: "
                        + "generation {3} and the databases before it are in no complete set of the chain",
                        child.Str("set_id"), reference != null ? reference.Str("set_id") : "(none)", state, low - 1), exc.Hint);
                }
                long high = parent.Obj("log_range").Long("gen_high");
                if (low > high + 1)
                {
                    return new AgentFailure(ErrLogsMissing, String.Format("gap in the chain: generation {0} is in no set (set {1} ends at "
                        + "generation {2}, set {3} starts at {4})", high + 1, parent.Str("set_id"), high, child.Str("set_id"), low), exc.Hint);
                }
                child = parent;
                chainType = Manifest.ChainType(child);
            }
            return new AgentFailure(ErrLogsMissing, exc.Message, exc.Hint);
        }

        /// <summary>Contiguous generations, a current log only at the end, databases the map can name without clashes.</summary>
        private static void CheckPlan(Plan plan)
        {
            List<string> ids = plan.Ids;
            if (plan.Databases.Count == 0)
                throw new AgentFailure(Err.InvalidOption, String.Format("set {0} holds no database; only a full or copy set starts a chain", ids[0]));
            Dictionary<string, bool> names = new Dictionary<string, bool>();
            foreach (string[] d in plan.Databases)
                names[d[1].ToLowerInvariant()] = true;
            if (names.Count != plan.Databases.Count)
                throw new AgentFailure(Err.InvalidOption, String.Format("set {0} holds two databases with one file name; the simulated agent stages them side by side", ids[0]));
            long low = plan.Chain[0].Obj("log_range").Long("gen_low");
            long high = plan.LogCount > 0 ? plan.MaxGeneration : low - 1;
            for (long gen = low; gen <= high; gen++)
            {
                if (!plan.HasLog(gen))
                    throw new AgentFailure(ErrLogsMissing, String.Format("gap in the chain {0}: generation {1} is in no set", String.Join(", ", ids.ToArray()), gen));
                Log log = plan.LogOf(gen);
                if (log.Current && gen != high)
                {
                    throw new AgentFailure(ErrLogsMissing, String.Format("generation {0} is only in set {1} as its current log (a partial copy) and no "
                        + "later set of the chain holds it whole", gen, log.SetId));
                }
            }
            if (plan.Method == "snapshot")
            {
                if (plan.LogCount == 0 || !plan.LogOf(high).Current)
                {
                    string last = plan.LogCount > 0 ? plan.LogOf(high).SetId : ids[ids.Count - 1];
                    throw new AgentFailure(Err.InvalidOption, String.Format("snapshot chain {0} ends with streamed set {1}, whose logs carry no current log: "
                        + "soft recovery of the image needs one", String.Join(", ", ids.ToArray()), last), "Restore the chain up to the last snapshot set.");
                }
                Dictionary<string, bool> mapped = new Dictionary<string, bool>();
                foreach (string[] d in plan.Databases)
                    mapped[d[2].ToLowerInvariant()] = true;
                foreach (JsonObject m in plan.Chain.GetRange(1, plan.Chain.Count - 1))
                {
                    List<string> extra = new List<string>();
                    foreach (JsonObject d in m.Obj("header").List("databases"))
                        if (!mapped.ContainsKey(d.Str("path").ToLowerInvariant()))
                            extra.Add(d.Str("path"));
                    if (extra.Count > 0)
                    {
                        // Soft recovery replays a database missing from the restore map in place: it would write into the live store.
                        throw new AgentFailure(Err.InvalidOption, String.Format("set {0} logs database {1}, which full set {2} does not hold",
                            m.Str("set_id"), extra[0], ids[0]), "Take a full backup after attaching a database; restore the chain before it.");
                    }
                }
            }
        }

        /// <summary>Every file of every set against its manifest (size and SHA-256), before anything is staged.</summary>
        private static void VerifyChain(Plan plan)
        {
            foreach (string sid in plan.Ids)
            {
                VerifyResult result = Verify.VerifySet(plan.SetDirs[sid]);
                if (!result.Ok)
                {
                    JsonObject err = result.Error() ?? new JsonObject();
                    throw new AgentFailure(Err.VerifyFailed, String.Format("set {0} failed verification, nothing was restored: {1}", sid, err.Str("message", "unknown")),
                        err.Str("hint", ""), new JsonObject().Add("chain", J.List(plan.Ids)).Add("set_id", sid).Add("verify", result.ToDict()));
                }
            }
        }

        // -- the target -----------------------------------------------------------------------------

        private static bool HasEntries(string folder)
        {
            return Directory.GetFileSystemEntries(folder).Length > 0;
        }

        /// <summary>Refuse a target inside or around the chain's sets, a non-empty one without overwrite, a held one.</summary>
        private static void CheckTarget(AgentProcess agent, Plan plan, string target, string targetReal, bool overwrite)
        {
            string low = target.ToLowerInvariant();
            foreach (string sid in plan.Ids)
            {
                string win = plan.SetWins[sid];
                string w = win.ToLowerInvariant();
                if (low == w || low.StartsWith(w + "\\", StringComparison.Ordinal) || w.StartsWith(low + "\\", StringComparison.Ordinal))
                    throw new AgentFailure(Err.InvalidOption, String.Format("target {0} overlaps set folder {1}", target, win),
                        "Restore into a folder outside the backup destination.");
            }
            if (!Directory.Exists(targetReal) && !File.Exists(targetReal))
                return;
            if (!Directory.Exists(targetReal))
                throw new AgentFailure(Err.InvalidOption, String.Format("target {0} is a file, not a folder", target));
            if (!HasEntries(targetReal))
                return;
            if (!overwrite)
            {
                throw new AgentFailure(Err.InvalidOption, String.Format("target {0} is not empty; without overwrite: true the restore never replaces files", target),
                    "Pick an empty target, or set overwrite: true (the originals are moved aside until the restored store is clean).");
            }
            List<string> files = new List<string>();
            foreach (string[] parts in RestoreChecks.FilesUnder(targetReal, true))
                files.Add(target + "\\" + String.Join("\\", parts));
            bool ours = false;
            foreach (string f in files)
                ours |= agent.Store != null && Array.IndexOf(agent.Platform.Holders(f), agent.Pid) >= 0;
            if (ours)
            {
                List<object> live = new List<object>();
                foreach (Session s in agent.Sessions.Values)
                    if (s.Live)
                        live.Add(s.Brief());
                if (live.Count > 0)
                {
                    throw new AgentFailure(Err.BackupInProgress, String.Format("target {0} holds files of the instance a backup session uses", target),
                        "End or abort the session first.", new JsonObject().Add("sessions", live));
                }
                agent.ReleaseStore("restore over live files");  // the agent's own instance lets go of them; the next op re-attaches
            }
            // sorted({(pid, process_name(pid)) ...}): one entry per pid and name, ascending
            List<KeyValuePair<int, string>> held = new List<KeyValuePair<int, string>>();
            foreach (string f in files)
            {
                foreach (int pid in agent.Platform.Holders(f))
                {
                    KeyValuePair<int, string> item = new KeyValuePair<int, string>(pid, agent.Platform.ProcessName(pid));
                    if (!held.Contains(item))
                        held.Add(item);
                }
            }
            held.Sort((a, b) => a.Key != b.Key ? a.Key.CompareTo(b.Key) : String.CompareOrdinal(a.Value, b.Value));
            if (held.Count > 0)
            {
                List<string> who = new List<string>();
                List<object> heldBy = new List<object>();
                foreach (KeyValuePair<int, string> h in held)
                {
                    who.Add(String.Format("{0} (pid {1})", String.IsNullOrEmpty(h.Value) ? "process" : h.Value, h.Key));
                    heldBy.Add(new JsonObject().Add("pid", (long)h.Key).Add("process", h.Value));
                }
                throw new AgentFailure(Err.OwnerStillRunning, String.Format("target {0} has files held open by {1}", target, String.Join(", ", who.ToArray())),
                    "Stop the owner (owner_stop) before a restore over its files.", new JsonObject().Add("held_by", heldBy));
            }
        }

        /// <summary>Rename a non-empty target to a sibling folder (same volume: one rename, nothing copied).</summary>
        private static string MoveAside(AgentProcess agent, Plan plan, string target, string targetReal)
        {
            if (!Directory.Exists(targetReal) || !HasEntries(targetReal))
                return null;
            List<string> ids = plan.Ids;
            string trimmed = targetReal.TrimEnd(Path.DirectorySeparatorChar);
            string aside = Path.Combine(Path.GetDirectoryName(trimmed), Path.GetFileName(trimmed) + ".before-restore-" + ids[ids.Count - 1]);
            if (Directory.Exists(aside) || File.Exists(aside))
            {
                throw new AgentFailure(Err.InvalidOption, String.Format("{0} exists (an earlier restore left it)", Win(target, aside)),
                    "Check that folder by hand: it may hold the only copy of the originals.");
            }
            Directory.Move(targetReal, aside);
            agent.Journal.Write("restore_moved_aside", new JsonObject().Add("target", target).Add("aside", Win(target, aside)));
            return aside;
        }

        /// <summary>Delete what the restore wrote and rename the originals back, exactly as they were.</summary>
        /// <returns>True when originals were moved aside and are back in place; false when there were none,
        /// or when they could not be renamed back (journalled: they stay aside, never deleted).</returns>
        private static bool PutBack(AgentProcess agent, string target, string targetReal, string aside, bool existed)
        {
            RemoveTree(targetReal, true);
            if (aside == null)
            {
                if (existed)
                    Directory.CreateDirectory(targetReal);  // an empty target the caller made stays
                return false;
            }
            try
            {
                Directory.Move(aside, targetReal);
            }
            catch (Exception exc)
            {
                if (!(exc is IOException || exc is UnauthorizedAccessException))
                    throw;
                agent.Journal.Write("restore_originals_left_aside", new JsonObject().Add("target", target).Add("aside", Win(target, aside))
                    .Add("error", exc.Message));
                return false;
            }
            agent.Journal.Write("restore_originals_back", new JsonObject().Add("target", target));
            return true;
        }

        /// <summary>shutil.rmtree: delete a folder and everything in it; a link inside is removed itself, never followed.
        /// With ignoreErrors every failure is swallowed (rmtree(ignore_errors=True)).</summary>
        internal static void RemoveTree(string folder, bool ignoreErrors)
        {
            try
            {
                if (!Directory.Exists(folder))
                {
                    if (!ignoreErrors)
                        throw new DirectoryNotFoundException(folder);
                    return;
                }
                foreach (string entry in Directory.GetFileSystemEntries(folder))
                {
                    bool link = RestoreChecks.IsLink(entry);
                    if (Directory.Exists(entry) && !link)
                        RemoveTree(entry, ignoreErrors);
                    else if (Directory.Exists(entry))
                        Directory.Delete(entry, false);  // a directory link: the link goes, not what it points at
                    else
                        DeleteFile(entry, ignoreErrors);
                }
                Directory.Delete(folder, false);
            }
            catch (Exception exc)
            {
                if (!ignoreErrors || !(exc is IOException || exc is UnauthorizedAccessException))
                    throw;
            }
        }

        private static void DeleteFile(string path, bool ignoreErrors)
        {
            try
            {
                File.SetAttributes(path, FileAttributes.Normal);
                File.Delete(path);
            }
            catch (Exception exc)
            {
                if (!ignoreErrors || !(exc is IOException || exc is UnauthorizedAccessException))
                    throw;
            }
        }

        /// <summary>The Windows name of a sibling folder of target (the aside folder), or null.</summary>
        private static string Win(string target, string real)
        {
            if (real == null)
                return null;
            return WinParent(target).TrimEnd('\\') + "\\" + Path.GetFileName(real.TrimEnd(Path.DirectorySeparatorChar));
        }

        /// <summary>str(PureWindowsPath(path).parent): "D:\a\b" -> "D:\a", "D:\a" -> "D:\", "a" -> ".".</summary>
        internal static string WinParent(string path)
        {
            string p = path.Replace('/', '\\');
            while (p.Length > 1 && p.EndsWith("\\", StringComparison.Ordinal) && !(p.Length == 3 && p[1] == ':'))
                p = p.Substring(0, p.Length - 1);
            int cut = p.LastIndexOf('\\');
            if (cut < 0)
                return p.Length == 2 && p[1] == ':' ? p : ".";
            if (cut == 2 && p[1] == ':')
                return p.Substring(0, 3);  // the drive's root keeps its backslash
            if (cut == 0)
                return "\\";
            return p.Substring(0, cut);
        }

        /// <summary>PureWindowsPath(path).name: the last component.</summary>
        internal static string WinName(string path)
        {
            string p = path.Replace('/', '\\').TrimEnd('\\');
            int cut = p.LastIndexOf('\\');
            string name = cut < 0 ? p : p.Substring(cut + 1);
            return name.Length == 2 && name[1] == ':' ? "" : name;
        }

        // -- staging and the engine -----------------------------------------------------------------

        /// <summary>Stage, run the engine's restore, check the result; throws AgentFailure on any failure.</summary>
        private static JsonObject Restore(AgentProcess agent, Plan plan, string target)
        {
            JsonObject rmap = new JsonObject();
            foreach (string[] d in plan.Databases)
                rmap[d[2]] = target + "\\" + d[1];
            string logPath = target + "\\" + Logs;
            agent.Platform.CreateDirectory(logPath);
            int err;
            long replayed;
            string detail;
            if (plan.Method == "streaming")
                err = Hard(agent, plan, target, logPath, rmap, out replayed, out detail);
            else
                err = Soft(agent, plan, target, logPath, rmap, out replayed, out detail);
            List<string> ids = plan.Ids;
            if (err != 0)
            {
                throw new AgentFailure(err, String.Format("restore of {0} into {1} failed: {2}", String.Join(", ", ids.ToArray()), target,
                    JetErrorCatalogue.Lookup(err).Text) + (!String.IsNullOrEmpty(detail) ? " (" + detail + ")" : ""));
            }
            JsonObject states = new JsonObject();
            JsonObject records = new JsonObject();
            foreach (KeyValuePair<string, object> kv in rmap)
            {
                string dst = (string)kv.Value;
                int e2 = 0, e3 = 0;
                try
                {
                    states[dst] = (long)Jet.GetDatabaseInfo(dst).DbState;
                }
                catch (JetException exc)
                {
                    e2 = exc.Code;
                    states[dst] = (long)exc.Code;
                }
                // Windows: attach the restored database in a scratch instance and enumerate every record.
                JsonObject read = agent.Platform.SimOnly("read_records", new JsonObject().Add("pid", (long)agent.Pid).Add("path", dst));  // verified: every record reads back
                if (read != null && read.Int("err") < 0)
                    e3 = read.Int("err");
                else
                    records[dst] = read != null ? read["records"] : null;
                if (e2 != 0 || states.Long(dst) != JET_dbstateCleanShutdown || e3 != 0)
                {
                    int bad = e3 != 0 ? e3 : e2 != 0 ? e2 : Err.Code("JET_errDatabaseDirtyShutdown");
                    throw new AgentFailure(bad, String.Format("restored database {0} is not usable: dbstate {1}, records: {2}", dst, states.Long(dst),
                        e3 != 0 ? JetErrorCatalogue.Lookup(e3).Name : "readable"), "", new JsonObject().Add("dbstate", states));
                }
            }
            string staging = agent.Platform.RealPath(target + "\\" + Staging, null);
            if (Directory.Exists(staging))
                RemoveTree(staging, false);  // the staged copies of the set's logs; the set itself is untouched
            JsonObject databases = new JsonObject();
            foreach (KeyValuePair<string, object> kv in states)
                databases[kv.Key] = "clean";
            return new JsonObject().Add("restore_map", rmap).Add("databases", databases).Add("dbstate", states).Add("records", records)
                .Add("log_path", logPath)
                .Add("log_range", new JsonObject().Add("base_name", plan.Base).Add("gen_low", plan.Chain[0].Obj("log_range").Long("gen_low"))
                    .Add("gen_high", plan.MaxGeneration))
                .Add("mode", plan.Method == "streaming" ? "hard" : "soft").Add("transactions_replayed", replayed);
        }

        private static int CopyOne(AgentProcess agent, string src, string dst)
        {
            int werr = agent.Platform.CopyFile(src, dst, false);
            return werr == 0 ? 0 : (werr == 2 ? Err.Code("JET_errFileNotFound") : Err.Code("JET_errDiskIO"));
        }

        /// <summary>JetExternalRestore2 over staged copies (docs/dev/ese-facts.md section 5.1): databases in the target, logs in its staging folder.</summary>
        /// <returns>The JET error (or warning); replayed: transactions replayed; detail: the engine's detail of the error (none from esent.dll).</returns>
        private static int Hard(AgentProcess agent, Plan plan, string target, string logPath, JsonObject rmap, out long replayed, out string detail)
        {
            replayed = 0;
            detail = "";
            string staging = target + "\\" + Staging;
            agent.Platform.CreateDirectory(staging);
            foreach (string[] d in plan.Databases)
            {
                int err = CopyOne(agent, d[0], target + "\\" + d[1]);
                if (err != 0)
                    return err;
            }
            long high = plan.ArchivedHigh;
            foreach (KeyValuePair<long, Log> kv in plan.SortedLogs)
            {
                Log log = kv.Value;
                // A current log (a snapshot incremental on a streamed full) goes to the log path: roll-forward continues into it.
                int err = CopyOne(agent, log.Src, (log.Current ? logPath : staging) + "\\" + log.Name);
                if (err != 0)
                    return err;
            }
            LogInfo info = new LogInfo();
            info.GenLow = checked((uint)plan.Chain[0].Obj("log_range").Long("gen_low"));
            info.GenHigh = checked((uint)high);
            info.BaseName = plan.Base;
            List<KeyValuePair<string, string>> map = new List<KeyValuePair<string, string>>();
            foreach (KeyValuePair<string, object> kv in rmap)
                map.Add(new KeyValuePair<string, string>(kv.Key, (string)kv.Value));
            int warning;
            try
            {
                warning = Jet.ExternalRestore2(target, logPath, map, staging, info, null, null, null, null);
            }
            catch (JetException exc)
            {
                return exc.Code;
            }
            // Windows: esent.dll reports progress units (JET_SNPROG), not transactions; the platform answers null and 0 is reported.
            JsonObject counted = agent.Platform.SimOnly("restore_replayed", new JsonObject());
            replayed = counted != null ? counted.Long("replayed") : 0;
            return warning;
        }

        /// <summary>Copy the image into the target and run soft recovery with the restore map (docs/dev/ese-facts.md section 5.3); as Hard.</summary>
        private static int Soft(AgentProcess agent, Plan plan, string target, string logPath, JsonObject rmap, out long replayed, out string detail)
        {
            replayed = 0;
            detail = "";
            List<string[]> files = new List<string[]>();
            foreach (string[] d in plan.Databases)
                files.Add(new[] { d[0], target + "\\" + d[1] });
            files.Add(new[] { plan.Checkpoint[0], target + "\\" + plan.Checkpoint[1] });  // the base set's: replay starts where its databases need
            foreach (KeyValuePair<long, Log> kv in plan.SortedLogs)
                files.Add(new[] { kv.Value.Src, logPath + "\\" + kv.Value.Name });
            List<object> pairs = new List<object>();
            foreach (string[] f in files)
                pairs.Add(new List<object> { f[0], f[1] });
            // Windows: CopyFile each pair into place, then CreateInstance2, SetParameter (paths, base name, file-name style),
            // Init3 with the restore map (soft recovery) and Term2: SoftRecoveryOnWindows below, when the platform answers null.
            JsonObject res = agent.Platform.SimOnly("restore_snapshot_image", new JsonObject().Add("files", pairs).Add("log_path", logPath)
                .Add("system_path", target).Add("base", plan.Base).Add("legacy", (long)plan.Legacy).Add("restore_map", rmap));
            if (res == null)
                return SoftRecoveryOnWindows(agent, files, logPath, target, plan.Base, plan.Legacy, rmap);
            if (res.Int("err") < 0)
            {
                detail = res.Str("detail", "");
                return res.Int("err");
            }
            replayed = res.Long("replayed");
            return 0;
        }

        /// <summary>What restore_snapshot_image does with esent.dll (esent_api.sim_only_restore_snapshot_image's docstring):
        /// copy the image into place, then soft recovery in an instance of its own with the restore map. Not run in the
        /// simulation (its platform answers the SimOnly call); on Windows esent.dll reports no transaction count (0).</summary>
        private static int SoftRecoveryOnWindows(AgentProcess agent, List<string[]> files, string logPath, string systemPath, string baseName,
            int legacy, JsonObject rmap)
        {
            foreach (string[] f in files)
            {
                int err = CopyOne(agent, f[0], f[1]);
                if (err != 0)
                    return err;
            }
            Dictionary<string, string> map = new Dictionary<string, string>();
            foreach (KeyValuePair<string, object> kv in rmap)
                map[kv.Key] = (string)kv.Value;
            IntPtr instance = IntPtr.Zero;
            try
            {
                instance = Jet.CreateInstance2("esent.backup.restore." + Session.RandomHex(4), "esent.backup restore");
                Jet.SetParameter(ref instance, NativeHelpers.JET_paramSystemPath, systemPath.TrimEnd('\\') + "\\");
                Jet.SetParameter(ref instance, NativeHelpers.JET_paramLogFilePath, logPath.TrimEnd('\\') + "\\");
                Jet.SetParameter(ref instance, NativeHelpers.JET_paramBaseName, baseName);
                Jet.SetParameter(ref instance, NativeHelpers.JET_paramLegacyFileNames, legacy);
                Jet.Init3(ref instance, map, 0);
                Jet.Term2(instance, 0);
                instance = IntPtr.Zero;
            }
            catch (JetException exc)
            {
                if (instance != IntPtr.Zero)
                {
                    try
                    {
                        Jet.Term2(instance, 0);
                    }
                    catch (JetException)
                    {
                        // the recovery's own error is the one reported
                    }
                }
                return exc.Code;
            }
            return 0;
        }
    }
}
