// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Read-side and set-level ops of the agent: instance_info, verify, prune (restore: OpsRestore.cs).
// Ported from the reference agent's ops_info.py call for call. instance_info has two answers:
// from a running agent (its sessions, the attached instance) and, when no agent of the route runs,
// the *peek* answer: the bootstrap runs the installed agent once, read-only, which reads the
// database headers (JetGetDatabaseFileInfo: no JetInit, no instance) and lists the log folder
// from disk, and reports "agent: not running". No state file, no pipe, nothing started.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    /// <summary>Optional platform member (Python ahost.agent_of_pid): the instance block another esent.backup agent
    /// process serves, read from its state file; null when the pid is no agent. Keys: name, log_path.
    /// IHostPlatform.IsAgentPid gives only a bool, and store_holders names the other agent's instance.</summary>
    public interface IAgentDirectory
    {
        JsonObject AgentOfPid(int pid);
    }

    public static class OpsInfo
    {
        /// <summary>What instance_info and a -10006 failure say of each process that holds the store open.</summary>
        public static readonly string[] HeldByKeys = { "pid", "process", "paths", "agent", "service" };

        /// <summary>The header's backup slots (docs/dev/ese-facts.md section 4.6) as instance_info reports them.</summary>
        public static readonly string[][] LastBackupSlots =
        {
            new[] { "last_full", "full_prev" }, new[] { "last_incremental", "incremental_prev" }, new[] { "last_copy", "copy_prev" },
            new[] { "last_differential", "differential_prev" },
        };

        /// <summary>The BackupInfo of a DatabaseInfo slot by its Python name (getattr(header, slot)).</summary>
        private static BackupInfo Slot(DatabaseInfo header, string slot)
        {
            switch (slot)
            {
                case "full_prev": return header.FullPrev;
                case "incremental_prev": return header.IncrementalPrev;
                case "copy_prev": return header.CopyPrev;
                case "differential_prev": return header.DifferentialPrev;
                case "full_current": return header.FullCurrent;
                default: throw new ArgumentException("no header slot " + slot, "slot");
            }
        }

        /// <summary>last_full/last_incremental/last_copy/last_differential: each slot's mark (time, generations, snapshot), or null.</summary>
        public static JsonObject LastBackups(DatabaseInfo header)
        {
            JsonObject output = new JsonObject();
            foreach (string[] pair in LastBackupSlots)
            {
                BackupInfo info = Slot(header, pair[1]);
                output[pair[0]] = info != null ? BackupSets.MarkOf(info) : null;
            }
            return output;
        }

        /// <summary>Refuse an instance block with a path on a drive the host does not have, naming its field
        /// (AgentFailure -10016 from RealPath naming instance.log_path, instance.system_path or instance.databases).</summary>
        public static void CheckDrives(IHostPlatform ahost, JsonObject instance)
        {
            List<KeyValuePair<string, List<string>>> fields = new List<KeyValuePair<string, List<string>>>();
            fields.Add(new KeyValuePair<string, List<string>>("instance.log_path", new List<string> { instance.Str("log_path") }));
            fields.Add(new KeyValuePair<string, List<string>>("instance.system_path", new List<string> { instance.Str("system_path") }));
            fields.Add(new KeyValuePair<string, List<string>>("instance.databases", J.Strings(instance["databases"], "instance.databases")));
            foreach (KeyValuePair<string, List<string>> field in fields)
                foreach (string path in field.Value)
                    if (!String.IsNullOrEmpty(path))
                        ahost.RealPath(path, field.Key);
        }

        /// <summary>The processes other than ownPid that hold the store open: its databases or its current log.</summary>
        /// <returns>One entry per process: pid, process, paths (the store's files it holds), options (the instance fields
        /// that name them), agent (the instance name when the process is an esent.backup agent of another instance block,
        /// else null), agent_log_path, and service (the Windows service running in the process, else null: a prepare stops
        /// the owner_service, so its process does not block one).</returns>
        public static List<object> StoreHolders(IHostPlatform ahost, JsonObject instance, int? ownPid)
        {
            string logPath = instance.Str("log_path").TrimEnd('\\');
            string baseName = instance.Str("base_name");
            if (String.IsNullOrEmpty(baseName))
                baseName = "edb";
            List<KeyValuePair<string, string>> files = new List<KeyValuePair<string, string>>();
            foreach (string path in J.Strings(instance["databases"], "instance.databases"))
                files.Add(new KeyValuePair<string, string>(path, "instance.databases"));
            foreach (int legacy in new[] { 0x3, 0 })  // edb.log, edb.jtx
                files.Add(new KeyValuePair<string, string>(logPath + "\\" + LogNames.CurrentLogName(baseName, legacy), "instance.log_path"));
            SortedDictionary<int, JsonObject> found = new SortedDictionary<int, JsonObject>();
            IAgentDirectory directory = ahost as IAgentDirectory;
            foreach (KeyValuePair<string, string> file in files)
            {
                foreach (int pid in ahost.Holders(file.Key))
                {
                    if (ownPid.HasValue && pid == ownPid.Value)
                        continue;
                    JsonObject entry;
                    if (!found.TryGetValue(pid, out entry))
                    {
                        JsonObject agent = directory != null ? directory.AgentOfPid(pid) : null;
                        string processName = ahost.ProcessName(pid);
                        entry = new JsonObject()
                            .Add("pid", (long)pid)
                            .Add("process", String.IsNullOrEmpty(processName) ? "process" : processName)
                            .Add("paths", new List<object>())
                            .Add("options", new List<object>())
                            .Add("agent", agent != null ? agent.Str("name") : null)
                            .Add("agent_log_path", agent != null ? agent.Str("log_path") : null)
                            .Add("service", ahost.ServiceOfPid(pid));
                        found[pid] = entry;
                    }
                    entry.List("paths").Add(file.Key);
                    List<object> options = entry.List("options");
                    if (!options.Contains(file.Value))
                        options.Add(file.Value);
                }
            }
            List<object> output = new List<object>();
            foreach (JsonObject entry in found.Values)
                output.Add(entry);
            return output;
        }

        private static JsonObject Pick(JsonObject h, string[] keys)
        {
            JsonObject o = new JsonObject();
            foreach (string k in keys)
                o[k] = h[k];
            return o;
        }

        /// <summary>-10006 for a store other processes hold, naming who holds which file and the option to fix.
        ///
        /// Another agent of esent.backup means two instance blocks name the same files (a log_path or
        /// databases of another store): the block is wrong, not the owner. A process that holds only the
        /// current log means instance.log_path names another store's log folder. Only a process that
        /// holds the databases is the store's owner, which owner_service lets the agent stop.</summary>
        public static AgentFailure HoldersFailure(JsonObject instance, List<object> held)
        {
            List<string> whos = new List<string>();
            foreach (JsonObject h in held)
            {
                string name = h["agent"] != null && h.Str("agent").Length > 0
                    ? String.Format("the esent.backup agent of instance {0} ({1}, pid {2})", Py.Repr(h.Str("agent")), h.Str("process"), h.Long("pid"))
                    : String.Format("{0} (pid {1})", h.Str("process"), h.Long("pid"));
                whos.Add(String.Join(" and ", J.Strings(h["paths"], "paths").ToArray()) + " by " + name);
            }
            string message = "the store is held open: " + String.Join("; ", whos.ToArray());
            List<object> heldBy = new List<object>();
            foreach (JsonObject h in held)
                heldBy.Add(Pick(h, HeldByKeys));
            JsonObject result = new JsonObject().Add("held_by", heldBy);
            string logPath = instance.Str("log_path");
            List<JsonObject> agents = new List<JsonObject>();
            foreach (JsonObject h in held)
                if (!String.IsNullOrEmpty(h.Str("agent")))
                    agents.Add(h);
            string hint;
            if (agents.Count > 0)
            {
                JsonObject other = agents[0];
                string otherLog = other.Str("agent_log_path");
                string differs;
                if (!String.IsNullOrEmpty(otherLog) && otherLog.TrimEnd('\\').ToLowerInvariant() != (logPath ?? "").TrimEnd('\\').ToLowerInvariant())
                {
                    differs = "instance.log_path";
                    message += String.Format("; this block names them with another instance.log_path ({0}; that agent serves {1})", PyStr(logPath), otherLog);
                }
                else
                {
                    differs = "instance.databases";
                    message += String.Format("; this block's instance.databases name files of instance {0}", Py.Repr(other.Str("agent")));
                }
                hint = String.Format("Check {0}: instance {1} (log_path {2}) already serves these files. Pass the same "
                    + "instance block to every step (one variable); a block with another store's log_path or databases starts a second agent "
                    + "over the same files.", differs, Py.Repr(other.Str("agent")), PyStr(otherLog));
                return new AgentFailure(Err.OwnerStillRunning, message, hint, result);
            }
            bool dbHolders = false;
            foreach (JsonObject h in held)
                dbHolders |= J.Strings(h["options"], "options").Contains("instance.databases");
            if (!dbHolders)
            {
                message += String.Format("; it holds none of instance.databases, so instance.log_path ({0}) is the log folder of another store", PyStr(logPath));
                hint = "Check instance.log_path (and instance.base_name) against the store of instance.databases: esent.backup.instance_info "
                    + "lists the log generations and the processes holding the files it finds.";
                return new AgentFailure(Err.OwnerStillRunning, message, hint, result);
            }
            string service = instance.Str("owner_service");
            hint = !String.IsNullOrEmpty(service)
                ? String.Format("The agent stops owner_service {0} itself at snapshot_prepare and stream_begin; this process is another one: "
                    + "stop it, or check that owner_service names the service that owns the store.", service)
                : "v1 backs up only stores the agent hosts: set owner_service to pause the owning service, or stop that process.";
            return new AgentFailure(Err.OwnerStillRunning, message, hint, result);
        }

        /// <summary>Python's str() of an optional string in an f-string ("None" for None).</summary>
        internal static string PyStr(string s)
        {
            return s ?? "None";
        }

        /// <summary>max(detect_styles(names, base) or {0x3}): the naming style a folder listing shows (0x3 when none).</summary>
        internal static int MaxStyle(List<int> styles)
        {
            int legacy = -1;
            if (styles != null)
                foreach (int style in styles)
                    legacy = Math.Max(legacy, style);
            return legacy < 0 ? 0x3 : legacy;
        }

        /// <summary>Page size, log file size (KiB) and circular logging as the store's log headers say (null when unknown).</summary>
        public static JsonObject StoreParameters(IHostPlatform ahost, int pid, string logPath, string systemPath, string baseName)
        {
            // Python: HostPlatform(ahost, pid).store_facts(...); the C# platform is the calling process's own (pid == ProcessId).
            StoreFacts facts = ahost.ReadStoreFacts(logPath, systemPath, baseName);
            if (facts == null)
                return new JsonObject().Add("page_size", null).Add("log_file_size", null).Add("circular_logging", null);
            return new JsonObject()
                .Add("page_size", facts.PageSize.HasValue ? (object)(long)facts.PageSize.Value : null)
                .Add("log_file_size", facts.LogKb.HasValue ? (object)(long)facts.LogKb.Value : null)
                .Add("circular_logging", facts.Circular.HasValue ? (object)facts.Circular.Value : null);
        }

        /// <summary>What instance_info says of a backup root: the checks every step makes of dest, then its sets.</summary>
        /// <param name="lastFulls">database path -> its header's last full (bkinfo_full_prev); null when a
        /// header cannot be read now (a process holds the database).</param>
        /// <returns>path (normalised), exists, free_bytes, sets_folder (&lt;dest&gt;\&lt;host&gt;\&lt;instance&gt;), newest_full
        /// (the newest complete full set's id or null) and chain: what the incremental guard would decide now (ok true,
        /// false, or null when the headers cannot be read; reason; hint).</returns>
        /// <exception cref="AgentFailure">-10016 naming dest, as the steps refuse it (a UNC or store folder, a
        /// missing drive, a file where the folder should be).</exception>
        public static JsonObject DestFacts(IHostPlatform ahost, JsonObject instance, string dest, IDictionary<string, BackupInfo> lastFulls)
        {
            string win;
            try
            {
                win = BackupSets.CheckDest(dest, instance);
            }
            catch (DestError exc)
            {
                throw new AgentFailure(Err.InvalidOption, exc.Message, exc.Hint);
            }
            string real = ahost.DestFolder(win, "dest");
            string host = ahost.ComputerName;
            string name = instance.Str("name");
            if (String.IsNullOrEmpty(name))
                name = "store";
            string where = win.TrimEnd('\\') + "\\" + host + "\\" + name;
            Catalogue cat = BackupSets.Scan(real, host, name);
            JsonObject full = cat.NewestFull();
            JsonObject chain;
            if (full != null && lastFulls == null)
            {
                chain = new JsonObject().Add("ok", null)
                    .Add("reason", "a database header cannot be read while a process holds the database; the prepare reads it")
                    .Add("hint", "");
            }
            else
            {
                GuardResult res = BackupSets.IncrementalGuard(cat, "incremental", lastFulls ?? new Dictionary<string, BackupInfo>(), "none", where);
                chain = new JsonObject().Add("ok", res.Decision == BackupSets.GuardOk).Add("reason", res.Reason)
                    .Add("hint", res.Error != null && res.Error["hint"] != null ? res.Error["hint"] : "");
            }
            return new JsonObject()
                .Add("path", win)
                .Add("exists", Directory.Exists(real))
                .Add("free_bytes", RestoreChecks.FreeBytes(real))  // shutil.disk_usage of the nearest existing folder
                .Add("sets_folder", where)
                .Add("newest_full", full != null ? full["set_id"] : null)
                .Add("chain", chain);
        }

        /// <summary>Header facts, log generations, checkpoint, who holds the store, and its fixed parameters, read from disk
        /// (never JetInit); with dest also what the steps would find there (DestFacts).</summary>
        /// <exception cref="AgentFailure">-10016 for a path of the instance block on a drive the host does not have,
        /// or a dest the steps refuse.</exception>
        public static JsonObject ReadFromDisk(IHostPlatform platform, JsonObject instance, IHostPlatform ahost = null, string dest = null)
        {
            if (ahost != null)
                CheckDrives(ahost, instance);
            string logPath = instance.Str("log_path").TrimEnd('\\');
            string systemPath = instance.Str("system_path");
            systemPath = (String.IsNullOrEmpty(systemPath) ? logPath : systemPath).TrimEnd('\\');
            string baseName = instance.Str("base_name");
            if (String.IsNullOrEmpty(baseName))
                baseName = "edb";
            List<object> dbs = new List<object>();
            Dictionary<string, BackupInfo> lastFulls = new Dictionary<string, BackupInfo>();
            foreach (string path in J.Strings(instance["databases"], "instance.databases"))
            {
                JsonObject entry = new JsonObject().Add("path", path).Add("size_bytes", SizeOrNone(platform, path));
                DatabaseInfo header = null;
                try
                {
                    header = Jet.GetDatabaseInfo(path);
                }
                catch (JetException exc)
                {
                    int err = exc.Code;
                    lastFulls = null;
                    List<object> holders = new List<object>();
                    foreach (int p in platform.Holders(path))
                    {
                        string pname = platform.ProcessName(p);
                        holders.Add(String.IsNullOrEmpty(pname) ? "pid " + p : pname);
                    }
                    JetErrorInfo info = JetErrorCatalogue.Lookup(err);
                    entry.Add("error", new JsonObject().Add("jet", (long)err).Add("name", info.Name).Add("message", info.Text))
                        .Add("held_by", holders.Count > 0 ? holders : null);
                }
                if (header != null)
                {
                    entry.Update(BackupSets.HeaderFacts(path, header, header.Signature, header.LogSignature)).Add("state", (long)header.DbState).Update(LastBackups(header));
                    if (lastFulls != null)
                        lastFulls[path] = header.FullPrev;
                }
                dbs.Add(entry);
            }
            string[] names = platform.ListDir(logPath);
            int legacy = MaxStyle(LogNames.DetectStyles(names, baseName));
            List<long> gens = new List<long>();
            foreach (string n in names)
            {
                long? g = LogNames.ParseLogFileName(n, baseName, legacy);
                if (g.HasValue && g.Value != 0)
                    gens.Add(g.Value);
            }
            gens.Sort();
            string[] sysnames = platform.ListDir(systemPath);
            string chk = LogNames.CheckpointName(baseName, legacy);
            JsonObject more = new JsonObject();
            if (!String.IsNullOrEmpty(dest) && ahost != null)
                more["dest"] = DestFacts(ahost, instance, dest, lastFulls);
            if (ahost != null)
            {
                List<object> heldBy = new List<object>();
                foreach (JsonObject h in StoreHolders(ahost, instance, platform.ProcessId))
                    heldBy.Add(Pick(h, HeldByKeys));
                more["held_by"] = heldBy;
                more.Update(StoreParameters(ahost, platform.ProcessId, logPath, systemPath, baseName));
            }
            string current = LogNames.CurrentLogName(baseName, legacy);
            JsonObject logs = new JsonObject()
                .Add("generations", gens.Count > 0 ? new List<object> { gens[0], gens[gens.Count - 1] } : null)
                .Add("count", (long)gens.Count)
                .Add("current", ContainsIgnoreCase(names, current) ? current : null);
            return new JsonObject(more)
                .Add("name", instance["name"])
                .Add("log_path", logPath)
                .Add("system_path", systemPath)
                .Add("base_name", baseName)
                .Add("databases", dbs)
                .Add("logs", logs)
                .Add("checkpoint", ContainsIgnoreCase(sysnames, chk) ? chk : null)
                .Add("owner_service", instance["owner_service"]);
        }

        private static bool ContainsIgnoreCase(string[] names, string name)
        {
            string lower = name.ToLowerInvariant();
            foreach (string n in names)
                if (n.ToLowerInvariant() == lower)
                    return true;
            return false;
        }

        /// <summary>A database file's size as the file system says (what a full copies), null when it cannot be read.</summary>
        private static object SizeOrNone(IHostPlatform platform, string path)
        {
            long size;
            try
            {
                size = platform.FileSize(path);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            return size >= 0 ? (object)size : null;
        }

        /// <summary>The one-shot, read-only answer when no agent runs (no state file, no pipe, no JetInit): agent.ps1 -Peek's process.</summary>
        public static JsonObject PeekInstanceInfo(IHostPlatform platform, JsonObject instance, string dest)
        {
            return new JsonObject(ReadFromDisk(platform, instance, platform, dest))
                .Add("agent", "not running").Add("sessions", new List<object>()).Add("changed", false);
        }

        /// <summary>@op("instance_info")</summary>
        public static JsonObject OpInstanceInfo(AgentProcess agent, JsonObject doc)
        {
            string dest = doc.Obj("args").Str("dest");
            JsonObject facts;
            if (agent.Store == null)
            {
                JsonObject merged = new JsonObject(agent.InstanceCfg).Update(doc.Obj("instance"));
                facts = ReadFromDisk(agent.Platform, merged, agent.Platform, dest);
            }
            else
            {
                facts = ReadFromDisk(agent.Platform, new JsonObject(agent.InstanceCfg).Add("databases", new List<object>()), agent.Platform);
                List<KeyValuePair<string, DatabaseInfo>> headers = Common.AttachedHeaders(agent);
                List<object> dbs = new List<object>();
                foreach (KeyValuePair<string, DatabaseInfo> ph in headers)
                    dbs.Add(new JsonObject(BackupSets.HeaderFacts(ph.Key, ph.Value, ph.Value.Signature, ph.Value.LogSignature)).Add("attached", true).Update(LastBackups(ph.Value)));
                facts["databases"] = dbs;
                facts["checkpoint_generation"] = (long)Jet.GetInstanceCheckpointInfo(agent.Store.Inst).GenMin;
                facts.Update(agent.StoreParameters());  // the hosted store's own values
                if (!String.IsNullOrEmpty(dest))
                {
                    Dictionary<string, BackupInfo> lastFulls = new Dictionary<string, BackupInfo>();
                    foreach (KeyValuePair<string, DatabaseInfo> ph in headers)
                        lastFulls[ph.Key] = ph.Value.FullPrev;
                    facts["dest"] = DestFacts(agent.Platform, agent.InstanceCfg, dest, lastFulls);
                }
            }
            List<object> sessions = new List<object>();
            foreach (Session s in agent.Sessions.Values)
                if (s.Live)
                    sessions.Add(agent.SessionView(s));
            return new JsonObject(facts)
                .Add("agent", "running").Add("pid", (long)agent.Pid).Add("boot_id", agent.BootId)
                .Add("instance_attached", agent.Store != null).Add("sessions", sessions).Add("changed", false);
        }

        /// <summary>@op("verify"): re-read a set at its destination against its manifest; with session_id it counts for truncation.</summary>
        public static JsonObject OpVerify(AgentProcess agent, JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            Session sess = null;
            if (!String.IsNullOrEmpty(args.Str("session_id")))
                sess = agent.SessionFor(doc, KindOf(agent, args.Str("session_id")));
            string backupSet = args.Str("backup_set");
            string real = agent.Platform.RealPath(backupSet, "backup_set");
            VerifyResult result = Verify.VerifySet(real);
            JsonObject output = new JsonObject(result.ToDict()).Add("changed", false).Add("backup_set", backupSet).Add("set_dir", backupSet);
            bool ownSet = sess != null && !String.IsNullOrEmpty(sess.SetDir)
                && sess.SetDir.ToLowerInvariant() == backupSet.TrimEnd('\\').ToLowerInvariant();
            try
            {
                output = OpsSets.VerifyMore(agent.Platform, agent.Pid, args, result, output, agent);  // status; page_check, restore_check on request
            }
            catch (AgentFailure)
            {
                if (ownSet)  // a bad page withdraws the copy's verification: no truncation for this set
                {
                    sess.Verified = false;
                    agent.Log(sess, "verified", new JsonObject().Add("ok", false));
                }
                throw;
            }
            if (sess != null)
            {
                if (ownSet)
                {
                    sess.Verified = result.Ok;
                    agent.Log(sess, "verified", new JsonObject().Add("ok", result.Ok));
                }
                output.Update(sess.Brief());
            }
            if (!result.Ok)
            {
                JsonObject err = result.Error() ?? new JsonObject();
                throw new AgentFailure(Err.VerifyFailed, err.Str("message", "verification failed"), "", output);
            }
            return output;
        }

        private static string KindOf(AgentProcess agent, string sid)
        {
            Session sess;
            return agent.Sessions.TryGetValue(sid, out sess) && sess != null ? sess.Kind : "snapshot";
        }

        /// <summary>@op("prune")</summary>
        public static JsonObject OpPrune(AgentProcess agent, JsonObject doc)
        {
            string name;
            if (agent.InstanceCfg != null && agent.InstanceCfg.Count > 0)
                name = agent.InstanceCfg.ContainsKey("name") ? agent.InstanceCfg.Str("name") : "store";
            else
            {
                JsonObject inst = doc.Obj("instance") ?? new JsonObject();
                name = inst.ContainsKey("name") ? inst.Str("name") : "store";
            }
            return OpsSets.PruneView(agent.Platform, name, doc.Obj("args"));  // paths as the host's Windows paths, under root
        }

        /// <summary>Whether a session in this state still holds something (neither ended nor aborted).</summary>
        public static bool Stale(ansible_collections.esent.backup.plugins.module_utils.SessionStates.SessionState sessState)
        {
            return sessState != ansible_collections.esent.backup.plugins.module_utils.SessionStates.SessionState.Ended
                && sessState != ansible_collections.esent.backup.plugins.module_utils.SessionStates.SessionState.Aborted;
        }
    }
}
