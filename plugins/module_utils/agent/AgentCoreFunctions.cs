// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// core.py's module-level functions: the reaper of a dead agent's shadows, sets and services, a session of
// another agent boot, the canonical instance block. Used by AgentProcess and the peek run.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;
using ansible_collections.esent.backup.plugins.module_utils.ProtocolSchema;
using ansible_collections.esent.backup.plugins.module_utils.SessionStates;

namespace EsentBackup.Agent
{
    /// <summary>core.py's module-level names: the instance identity rules, the reaper, the lost-session error.</summary>
    public static class AgentCoreFunctions
    {
        // What names the store an agent serves, and what a call may assert about it (docs/dev/safety-rules.md rule 12).
        public static readonly string[] IdentityFields = { "name", "log_path", "system_path", "base_name", "databases", "owner_service" };
        public static readonly string[] AssertedFields = { "page_size", "log_file_size", "circular_logging" };

        /// <summary>The agent's state file of a route (simhost.AgentHost.state_path).</summary>
        public static string StatePath(IHostPlatform platform, string route)
        {
            return platform.RealPath(ProtocolSpec.AgentDir + "\\agents\\" + route + ".json", null);
        }

        /// <summary>The agent's journal of a route (simhost.AgentHost.journal_path).</summary>
        public static string JournalPath(IHostPlatform platform, string route)
        {
            return platform.RealPath(ProtocolSpec.AgentDir + "\\journal\\" + route + ".jsonl", null);
        }

        /// <summary>The identity fields of an instance block as Windows compares them (normalised, case-folded).</summary>
        public static JsonObject CanonicalInstance(JsonObject inst)
        {
            string logPath = Py.Truthy(inst["log_path"]) ? WinPath.Folded(WinPath.Normalise("instance.log_path", inst["log_path"])) : null;
            object system = inst["system_path"];
            List<object> dbs = new List<object>();
            List<string> folded = new List<string>();
            List<object> given = inst["databases"] as List<object>;
            if (given != null)
                foreach (object d in given)
                    folded.Add(WinPath.Fold(WinPath.Normalise("instance.databases", d)));
            folded.Sort(StringComparer.Ordinal);
            foreach (string d in folded)
                dbs.Add(d);
            string baseName = Py.Truthy(inst["base_name"]) ? (string)inst["base_name"] : "edb";
            string owner = Py.Truthy(inst["owner_service"]) ? WinPath.Fold((string)inst["owner_service"]) : "";
            return new JsonObject().Add("name", inst["name"]).Add("log_path", logPath)
                                   .Add("system_path", Py.Truthy(system) ? WinPath.Folded(WinPath.Normalise("instance.system_path", system)) : logPath)
                                   .Add("base_name", WinPath.Fold(baseName)).Add("databases", dbs)
                                   .Add("owner_service", owner.Length > 0 ? owner : null);
        }

        public static AgentFailure Mismatch(string key, object given, object serving, object name)
        {
            return new AgentFailure(Err.ParameterMismatch,
                "instance." + key + " is " + Py.Repr(given) + " in this call, but the agent of this store (" + PyStr(name) + ") serves " + key + " " + Py.Repr(serving),
                "One agent serves one instance block: pass the same instance to every step (one variable), or stop the agent " +
                "(esent.backup.agent: state=stopped) once no session is open if the store really changed.",
                new JsonObject().Add("field", "instance." + key).Add("given", given).Add("serving", serving));
        }

        /// <summary>The error for a session id this agent did not issue: lost when an earlier agent of this store issued it
        /// (the journal records every boot), unknown otherwise (another store's id, or an instance block that names another store).</summary>
        public static AgentFailure SessionElsewhere(Journal journal, string sid, string boot, JsonObject instance, string restartedAt = null)
        {
            bool started = false;
            foreach (JsonObject e in journal.ReadAll())
                if ((e["event"] as string) == "agent_start" && (e["boot_id"] as string) == boot)
                    started = true;
            if (started)
            {
                string now = !String.IsNullOrEmpty(restartedAt) ? "agent restarted at " + restartedAt : "agent of this store not running";
                return new AgentFailure(Err.SessionLost, "session lost (" + now + "): " + sid + " was started by an earlier agent of this store (boot " + boot +
                                                         "), which ended (host restart, crash or idle exit); the engine state of that session died with its process",
                                        "", new JsonObject().Add("session_id", sid).Add("state", "lost"));
            }
            instance = instance ?? new JsonObject();
            return new AgentFailure(Err.UnknownSession, sid + " was not issued by the agent of this store (" + PyStr(instance["name"]) + ", log_path " +
                                                        PyStr(instance["log_path"]) + "): check that instance is the block the session was prepared with",
                                    "Pass the same instance to every step of a session (one variable).", new JsonObject().Add("session_id", sid));
        }

        /// <summary>Delete the shadow copies a dead agent of the route recorded, and forget them (docs/dev/safety-rules.md rule 11).
        /// Runs on every contact with the route (an agent starting, a read answered without an agent). Only ids recorded in
        /// the route's state file are deleted, never another agent's shadows. ownPid null: the one-shot run that answers
        /// without an agent (it also starts the services the dead agent stopped and settles its state file).</summary>
        /// <returns>The shadow ids deleted.</returns>
        public static List<string> ReapDeadAgent(IHostPlatform platform, string route, int? ownPid = null)
        {
            StateFile stateFile = new StateFile(StatePath(platform, route));
            JsonObject old = stateFile.Read();
            List<string> reaped = new List<string>();
            bool samePid = ownPid.HasValue ? SameLong(old == null ? null : old["pid"], ownPid.Value) : (old != null && old["pid"] == null);
            if (old == null || old.Count == 0 || samePid ||
                platform.ProcessAlive((int)J.AsLong(old["pid"] ?? 0L, "pid")))
                return reaped;
            List<object> shadows = old["shadows"] as List<object>;
            if (shadows != null)
                foreach (object sid in shadows)
                    if (platform.DeleteShadow(PyStr(sid)) == 0)
                        reaped.Add(PyStr(sid));
            AbortOrphanSets(platform, old);
            if (!ownPid.HasValue)
            {
                // A contact with no agent (a read): also start the services the dead agent stopped (docs/dev/safety-rules.md
                // rule 14); a new agent does it itself (AgentProcess.RestoreServices).
                List<string> started = new List<string>();
                List<object> stopped = old["stopped_services"] as List<object>;
                if (stopped != null)
                {
                    foreach (object name in stopped)
                    {
                        ServiceInfo svc = platform.Service(PyStr(name));
                        if (svc != null && !svc.Running && platform.StartService(svc.ServiceName) == 0)
                            started.Add(svc.ServiceName);
                    }
                }
                stateFile.Remove();  // the dead agent's record is settled; the next agent writes its own
                if (reaped.Count > 0 || started.Count > 0)
                    new Journal(JournalPath(platform, route), platform.Time).Write("reaped", new JsonObject()
                        .Add("pid", old["pid"]).Add("boot_id", old["boot_id"]).Add("shadows", J.List(reaped))
                        .Add("services_started", started.Count > 0 ? J.List(started) : null));
            }
            return reaped;
        }

        /// <summary>Mark aborted every set a dead agent's live sessions left pending-end: ESE never recorded them.</summary>
        /// <returns>The set folders marked.</returns>
        public static List<string> AbortOrphanSets(IHostPlatform platform, JsonObject old)
        {
            List<string> marked = new List<string>();
            List<object> sets = old["open_sets"] as List<object>;
            if (sets == null)
                return marked;
            foreach (object item in sets)
            {
                string setWin = PyStr(item);
                JsonObject doc;
                try
                {
                    doc = BackupSets.AbortSet(platform.RealPath(setWin, null), new JsonObject()
                        .Add("jet", (long)Err.SessionLost).Add("name", "JET_errClientSessionLost")
                        .Add("message", "the agent that wrote this set (pid " + PyStr(old["pid"]) + ") ended before its session's End"));
                }
                catch (Exception exc)
                {
                    // no manifest yet (the copy never finished), or not ours: nothing to mark (Python: OSError, ValueError)
                    if (exc is IOException || exc is UnauthorizedAccessException || exc is ManifestError || exc is FormatException || exc is ArgumentException)
                        continue;
                    throw;
                }
                if ((doc["status"] as string) == "aborted")
                    marked.Add(setWin);
            }
            return marked;
        }

        public static int ProtocolSequenceError()
        {
            return JetErrorCatalogue.CodeOf("JET_errOSSnapshotInvalidSequence");
        }

        /// <summary>A lease of int(seconds), renewed at now (core._lease).</summary>
        public static Lease NewLease(object seconds, double now)
        {
            double value = seconds is double ? Math.Truncate((double)seconds) : J.AsLong(seconds, "lease");
            return new Lease(value, now);
        }

        /// <summary>Epoch seconds as "%Y-%m-%dT%H:%M:%SZ" (core._utc).</summary>
        public static string Utc(double t)
        {
            DateTime when = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks((long)Math.Floor(t * 10000000.0));
            return when.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", CultureInfo.InvariantCulture);
        }

        /// <summary>Python's format(x, "g") for the lease seconds the messages quote (30, 1800, 0.5).</summary>
        public static string FormatG(double value)
        {
            if (value == Math.Floor(value) && Math.Abs(value) < 1e6)
                return ((long)value).ToString(CultureInfo.InvariantCulture);
            string text = value.ToString("G6", CultureInfo.InvariantCulture);
            int e = text.IndexOf('E');
            if (e < 0)
                return text;
            int exp = Int32.Parse(text.Substring(e + 1), CultureInfo.InvariantCulture);
            return text.Substring(0, e) + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
        }

        /// <summary>Python's str() of a JSON value (None, True, 12, text as is).</summary>
        public static string PyStr(object value)
        {
            string s = value as string;
            return s ?? Py.Repr(value);
        }

        /// <summary>Whether a JSON value is the integer n (Python's old.get("pid") == pid).</summary>
        public static bool SameLong(object value, long n)
        {
            if (value is long) return (long)value == n;
            if (value is double) return (double)value == n;
            return false;
        }

        /// <summary>Python's == on JSON values (1 == 1.0 == True, lists element by element, objects key by key).</summary>
        public static bool JsonEquals(object a, object b)
        {
            if (a == null || b == null)
                return a == null && b == null;
            if (IsNumber(a) && IsNumber(b))
                return ToDouble(a) == ToDouble(b);
            string sa = a as string, sb = b as string;
            if (sa != null || sb != null)
                return sa != null && sb != null && String.Equals(sa, sb, StringComparison.Ordinal);
            List<object> la = a as List<object>, lb = b as List<object>;
            if (la != null || lb != null)
            {
                if (la == null || lb == null || la.Count != lb.Count)
                    return false;
                for (int i = 0; i < la.Count; i++)
                    if (!JsonEquals(la[i], lb[i]))
                        return false;
                return true;
            }
            JsonObject oa = a as JsonObject, ob = b as JsonObject;
            if (oa != null && ob != null)
            {
                if (oa.Count != ob.Count)
                    return false;
                foreach (KeyValuePair<string, object> kv in oa)
                    if (!ob.ContainsKey(kv.Key) || !JsonEquals(kv.Value, ob[kv.Key]))
                        return false;
                return true;
            }
            return a.Equals(b);
        }

        private static bool IsNumber(object v)
        {
            return v is long || v is int || v is double || v is bool;
        }

        private static double ToDouble(object v)
        {
            if (v is bool) return (bool)v ? 1 : 0;
            return Convert.ToDouble(v, CultureInfo.InvariantCulture);
        }
    }
}
