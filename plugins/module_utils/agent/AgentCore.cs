// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent process: one per host and route (ESE instance), protocol v1 on the host side. Ported
// call for call from the reference agent, esesim/agent/core.py.
//
// One AgentProcess is one agent.ps1 process on Windows: it hosts the instance of its route, keeps
// sessions between tasks, runs the leases, writes the journal and the state file. It reaches
// esent.dll through Jet (EsentApi.cs) and the rest of Windows through an IHostPlatform. Every entry
// point (Handle, the lease timer, the copies' threads) runs under Lock: the engine objects of one
// instance are not used from two threads at once.
//
// Replay: the first reply of every mutating or abort op is stored by request_id and sent again for
// a retry with the same id (executed/replayed counters in status); reads and polls always run.
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
    /// <summary>One agent process: the instance of one route, its sessions, leases, journal and state file.</summary>
    public sealed partial class AgentProcess
    {
        // The version the agent reports and install compares with (core.AGENT_VERSION; the conformance transcripts name it).
        public const string AgentVersion = ProtocolSpec.AgentVersion;  // the collection's, as installed
        public const int ReplayCache = 2048;  // request ids remembered; a retry comes within seconds, not thousands of requests later
        public const int DefaultSessionLease = 1800;
        public const int DefaultFreezeLease = 30;
        public const int EseTimeoutMarginSeconds = 30;  // ESE's own freeze timer runs this much longer than the lease, so the lease fires first
        public const double IdleExitSecondsDefault = 900.0;

        public readonly IHostPlatform Platform;
        public readonly string Route;
        public readonly int Pid;
        public readonly string BootId;
        public readonly double Started;
        public readonly string Pipe;
        public JsonObject InstanceCfg;
        public HostedInstance Store;
        public readonly Dictionary<string, Session> Sessions = new Dictionary<string, Session>(StringComparer.Ordinal);
        private int _n;
        private readonly Dictionary<string, KeyValuePair<string, byte[]>> _replies = new Dictionary<string, KeyValuePair<string, byte[]>>(StringComparer.Ordinal);
        private readonly Queue<string> _replyOrder = new Queue<string>();
        public readonly JsonObject Counters = new JsonObject().Add("executed", 0L).Add("replayed", 0L);
        public readonly Dictionary<string, AgentCopy> Copies = new Dictionary<string, AgentCopy>(StringComparer.Ordinal);
        public JsonObject Workload;  // {rate, credit} of the demo workload; null when none runs
        public readonly List<JsonObject> OwnerWindows = new List<JsonObject>();
        public volatile bool Alive = true;
        public double LastCall;
        public readonly Journal Journal;
        public readonly StateFile StateFile;

        /// <summary>An agent with no session, copy or workload ends after this long without a call (simhost.IDLE_EXIT_SECONDS).</summary>
        public double IdleExitSeconds = IdleExitSecondsDefault;

        /// <summary>What every entry point locks (the reference agent's host-wide engine lock, ahost.lock).</summary>
        public readonly object Lock = new object();

        /// <param name="pipe">The pipe name the transport serves (on Windows "esent.backup-&lt;guid&gt;", created by
        /// AgentProgram before the agent records it); null: a random name as the reference agent's.</param>
        public AgentProcess(IHostPlatform platform, string route, JsonObject instance, string pipe = null)
        {
            List<string> missing = OpTable.Missing();
            if (missing.Count > 0)  // core.py refuses to load with one missing
                throw new InvalidOperationException("esent.backup agent: no handler for protocol ops " + String.Join(", ", missing.ToArray()));
            Platform = platform;
            Route = route;
            Pid = platform.ProcessId;
            BootId = Session.RandomHex(6);
            Started = platform.Time();
            Pipe = pipe ?? "esent.backup-" + Session.RandomHex(8);
            InstanceCfg = new JsonObject(instance);
            LastCall = platform.Monotonic();
            Journal = new Journal(AgentCoreFunctions.JournalPath(platform, route), platform.Time);
            StateFile = new StateFile(AgentCoreFunctions.StatePath(platform, route));
            List<string> reaped = Reap();
            WriteState();
            Journal.Write("agent_start", new JsonObject().Add("pid", (long)Pid).Add("boot_id", BootId).Add("route", route)
                                                         .Add("reaped", reaped.Count > 0 ? J.List(reaped) : null));
        }

        // -- identity, state file, reaper ------------------------------------------------------------

        public JsonObject Identity()
        {
            return Protocol.AgentIdentity(AgentVersion, Pid, BootId);
        }

        public List<string> OurShadows()
        {
            List<string> ids = new List<string>();
            foreach (Session s in Sessions.Values)
                ids.AddRange(s.Shadows.Values);
            ids.Sort(StringComparer.Ordinal);
            return ids;
        }

        /// <summary>Record pid, pipe, boot id, every shadow this agent created and still holds, every service it stopped
        /// and has not started again (stopped_services), and the set folders of its live sessions (open_sets: a
        /// successor marks a set it finds still pending-end aborted).</summary>
        public void WriteState()
        {
            List<string> openSets = new List<string>();
            foreach (Session s in Sessions.Values)
                if (s.Live && !String.IsNullOrEmpty(s.SetDir))
                    openSets.Add(s.SetDir);
            openSets.Sort(StringComparer.Ordinal);
            StateFile.Write(new JsonObject().Add("pid", (long)Pid).Add("pipe", Pipe).Add("boot_id", BootId).Add("route", Route)
                                            .Add("started", Started).Add("version", AgentVersion).Add("shadows", J.List(OurShadows()))
                                            .Add("stopped_services", J.List(StoppedServices())).Add("open_sets", J.List(openSets)));
        }

        /// <summary>Delete the shadows a dead predecessor recorded (only those: docs/dev/safety-rules.md rule 11), mark the
        /// sets its live sessions left pending-end aborted, and start the services it stopped (RestoreServices).</summary>
        public List<string> Reap()
        {
            JsonObject old = StateFile.Read();
            // The shadows and sets first: RestoreServices rewrites the state file with this agent's
            // pid, after which the predecessor's record (its shadow ids) is gone.
            List<string> reaped = AgentCoreFunctions.ReapDeadAgent(Platform, Route, Pid);
            if (old != null && old.Count > 0 && !AgentCoreFunctions.SameLong(old["pid"], Pid) &&
                !Platform.ProcessAlive((int)J.AsLong(old["pid"] ?? 0L, "pid")))
                RestoreServices(old);
            return reaped;
        }

        /// <summary>The process dies (host restart, crash): memory and instance gone, shadows and state file stay.</summary>
        public void Kill()
        {
            Alive = false;
            foreach (AgentCopy c in new List<AgentCopy>(Copies.Values))
                c.Cancel();
            // The reference agent's EngineProcess dies here; this process exits after Kill (AgentServer, Program).
            Store = null;
        }

        // -- the entry point -------------------------------------------------------------------------

        /// <summary>Answer one request (the bytes the bootstrap relays) with one reply.</summary>
        public byte[] Handle(byte[] body)
        {
            lock (Lock)
            {
                CheckLeases();
                JsonObject doc;
                try
                {
                    doc = Protocol.DecodeRequest(body);
                }
                catch (ProtocolError exc)
                {
                    return Protocol.Encode(new JsonObject().Add("ok", false).Add("result", new JsonObject()).Add("error", exc.ToError())
                                                           .Add("agent", Identity()));
                }
                string opName = doc.Str("op");
                OpSpec spec = ProtocolSpec.Ops[opName];
                bool replayable = spec.Kind == "mutating" || spec.Kind == "abort";
                string rid = doc.Str("request_id");
                KeyValuePair<string, byte[]> stored;
                if (replayable && _replies.TryGetValue(rid, out stored))
                {
                    if (stored.Key == opName)
                    {
                        Counters["replayed"] = Counters.Long("replayed") + 1;
                        Journal.Write("replayed", new JsonObject().Add("op", stored.Key).Add("request_id", rid));
                        return stored.Value;
                    }
                    return EncodeError(new AgentFailure(Err.InvalidRequest, "request_id " + rid + " was already used for " + stored.Key + ", not " + opName,
                                                        "Use a new request_id for every logical request."));
                }
                Counters["executed"] = Counters.Long("executed") + 1;
                LastCall = Now();
                byte[] reply;
                try
                {
                    JsonObject inst = doc["instance"] as JsonObject;
                    if (inst != null && inst.Count > 0)
                        CheckInstance(inst, opName);
                    JsonObject result = Dispatch(doc);
                    reply = Protocol.Encode(Protocol.ReplyOk(result, Identity()));
                }
                catch (AgentFailure exc)
                {
                    reply = EncodeError(exc);
                }
                catch (JetException exc)  // an esent.dll error no op turned into its own reply (esent.dll gives no detail text)
                {
                    reply = EncodeError(new AgentFailure(exc.Code, exc.Message));
                }
                if (replayable)
                {
                    _replies[rid] = new KeyValuePair<string, byte[]>(opName, reply);
                    _replyOrder.Enqueue(rid);
                    while (_replyOrder.Count > ReplayCache)
                        _replies.Remove(_replyOrder.Dequeue());
                }
                return reply;
            }
        }

        private byte[] EncodeError(AgentFailure exc)
        {
            return Protocol.Encode(Protocol.ReplyError(exc.Code, exc.Name, exc.Message, exc.Hint, Identity(), exc.Result));
        }

        /// <summary>Refuse a call whose instance block differs from the one this agent serves (docs/dev/safety-rules.md rule 12).
        /// The names, folders and databases must be the ones the agent started with; an asserted parameter (page size, log
        /// file size, circular logging) must match what the agent asserted or, once the store is attached, what the store
        /// has. A read never configures the agent; a mutating call may add an assertion the agent did not have.</summary>
        /// <exception cref="AgentFailure">JET_errClientStoreParameterMismatch naming the field and both values.</exception>
        public void CheckInstance(JsonObject inst, string op)
        {
            JsonObject mine = AgentCoreFunctions.CanonicalInstance(InstanceCfg), theirs = AgentCoreFunctions.CanonicalInstance(inst);
            foreach (string key in AgentCoreFunctions.IdentityFields)
                if (!AgentCoreFunctions.JsonEquals(mine[key], theirs[key]))
                    throw AgentCoreFunctions.Mismatch(key, inst[key], InstanceCfg[key], InstanceCfg["name"]);
            JsonObject actual = StoreParameters();
            foreach (string key in AgentCoreFunctions.AssertedFields)
            {
                if (inst[key] == null)
                    continue;
                object known = InstanceCfg[key];
                known = known ?? actual[key];
                if (known != null && !AgentCoreFunctions.JsonEquals(known, inst[key]))
                    throw AgentCoreFunctions.Mismatch(key, inst[key], known, InstanceCfg["name"]);
                if (known == null && ProtocolSpec.Ops[op].Kind == "mutating")
                    InstanceCfg[key] = inst[key];
            }
        }

        /// <summary>Page size, log file size (KiB) and circular logging of the attached store (JetGetSystemParameter); empty when none is attached.</summary>
        public JsonObject StoreParameters()
        {
            if (Store == null)
                return new JsonObject();
            try
            {
                return new JsonObject().Add("page_size", Jet.GetParameterLong(IntPtr.Zero, NativeHelpers.JET_paramDatabasePageSize))
                                       .Add("log_file_size", Jet.GetParameterLong(Store.Inst, NativeHelpers.JET_paramLogFileSize))
                                       .Add("circular_logging", Jet.GetParameterLong(Store.Inst, NativeHelpers.JET_paramCircularLog) != 0);
            }
            catch (JetException)  // the instance is gone (EnsureStore hosts it again)
            {
                return new JsonObject();
            }
        }

        /// <summary>Run the op's handler from the op table (OpTable.Ops).</summary>
        public JsonObject Dispatch(JsonObject doc)
        {
            return OpTable.Ops[doc.Str("op")](this, doc);
        }

        // -- sessions --------------------------------------------------------------------------------

        public double Now()
        {
            return Platform.Monotonic();
        }

        public Session NewSession(string kind, string owner, string backupType, JsonObject args)
        {
            _n++;
            Session sess = new Session(Session.NewId(BootId, _n), kind, owner, backupType,
                                       AgentCoreFunctions.NewLease(args["session_lease"] ?? (object)(long)DefaultSessionLease, Now()),
                                       InstanceCfg.Str("owner_service"));
            if (kind == "snapshot")
                sess.FreezeLease = AgentCoreFunctions.NewLease(args["freeze_lease"] ?? (object)(long)DefaultFreezeLease, Now());
            Sessions[sess.SessionId] = sess;
            return sess;
        }

        /// <summary>Find the session a request names and renew its lease (every call naming it does).
        /// goneOk (abort paths): a session that is gone (earlier boot, unknown, none for the owner) is null, not an error.</summary>
        /// <exception cref="AgentFailure">session lost (-10003: an id of an earlier agent boot), unknown (-10011), another
        /// owner's session without force (-10012).</exception>
        public Session SessionFor(JsonObject doc, string kind, bool goneOk = false)
        {
            JsonObject args = doc.Obj("args");
            string sid = args.Str("session_id");
            Session sess;
            if (sid == null)
            {
                bool force = Py.Truthy(args["force"]);
                List<Session> mine = new List<Session>();
                bool anyLive = false;
                foreach (Session s in Sessions.Values)
                {
                    if (s.Kind == kind && s.Live && (force || s.Owner == doc.Str("owner")))
                        mine.Add(s);
                    if (s.Kind == kind && s.Live)
                        anyLive = true;
                }
                if (mine.Count == 0 && !force && anyLive)
                {
                    List<object> live = new List<object>();
                    foreach (Session s in Sessions.Values)
                        if (s.Live)
                            live.Add(s.Brief());
                    throw new AgentFailure(Err.OwnerMismatch, "the live " + kind + " session on this instance belongs to another owner", "",
                                           new JsonObject().Add("sessions", live));
                }
                sess = mine.Count > 0 ? mine[mine.Count - 1] : null;
            }
            else
            {
                string boot;
                int n;
                if (!Session.SplitId(sid, out boot, out n))
                    throw new AgentFailure(Err.UnknownSession, Py.Repr(sid) + " is not a session id of this agent", "",
                                           new JsonObject().Add("session_id", sid));
                if (boot != BootId)
                {
                    if (goneOk)
                        return null;
                    throw AgentCoreFunctions.SessionElsewhere(Journal, sid, boot, InstanceCfg, AgentCoreFunctions.Utc(Started));
                }
                if (!Sessions.TryGetValue(sid, out sess))
                {
                    if (goneOk)
                        return null;
                    throw new AgentFailure(Err.UnknownSession, "no session " + sid + " on this agent", "", new JsonObject().Add("session_id", sid));
                }
            }
            if (sess != null && sess.Kind != kind)
                throw new AgentFailure(Err.InvalidRequest, "session " + sess.SessionId + " is a " + sess.Kind + " session, not " + kind, "", sess.Brief());
            if (sess != null && sess.Live)
                sess.SessionLease.Renew(Now());
            return sess;
        }

        /// <summary>Refuse a step on a session that is over. A lease end reports the lease (-10001) with its reason.
        /// Otherwise a snapshot session answers as ESE does for an id it forgot at End or Abort,
        /// JET_errOSSnapshotInvalidSnapId (-2404); a streaming session keeps the invalid sequence (-2401).</summary>
        public void RequireLive(Session sess)
        {
            if (sess.Live)
                return;
            if (sess.State == SessionState.Aborted && sess.Reason.Contains("lease"))
                throw new AgentFailure(Err.LeaseExpired, "session " + sess.SessionId + " was ended by the agent: " + sess.Reason, "", sess.Brief());
            int err = sess.Kind == "snapshot" ? Err.InvalidSnapId : AgentCoreFunctions.ProtocolSequenceError();
            throw new AgentFailure(err, "session " + sess.SessionId + " is " + sess.StateValue + (sess.Reason.Length > 0 ? " (" + sess.Reason + ")" : ""),
                                   "", sess.Brief());
        }

        public void Log(Session sess, string evt, JsonObject fields = null)
        {
            sess.Times[evt] = Platform.Time();
            JsonObject entry = new JsonObject().Add("session", sess.SessionId).Add("state", sess.StateValue).Add("owner", sess.Owner);
            Journal.Write(evt, entry.Update(fields));
        }

        // -- leases ----------------------------------------------------------------------------------

        /// <summary>No live session, no running copy, no workload, and no call for IdleExitSeconds.</summary>
        public bool Idle()
        {
            foreach (Session s in Sessions.Values)
                if (s.Live)
                    return false;
            foreach (AgentCopy c in Copies.Values)
                if (c.State == "running")
                    return false;
            return Workload == null && Now() - LastCall >= IdleExitSeconds;
        }

        /// <summary>End the process when idle (the bootstrap starts a new one on the next call); true when it ended.</summary>
        public bool ExitIfIdle()
        {
            if (!Alive || !Idle())
                return false;
            ReleaseStore("idle");
            Journal.Write("agent_idle_exit", new JsonObject().Add("pid", (long)Pid).Add("idle_seconds", Math.Round(Now() - LastCall, 3)));
            Kill();
            StateFile.Remove();
            return true;
        }

        /// <summary>Run the freeze and session leases (on every request and from the lease timer).</summary>
        public void CheckLeases()
        {
            if (!Alive)
                return;
            double now = Now();
            foreach (Session sess in new List<Session>(Sessions.Values))
            {
                if (!sess.Live)
                    continue;
                try
                {
                    if (sess.State == SessionState.Frozen && sess.FreezeLease != null && sess.FreezeLease.Expired(now))
                    {
                        OpsSnapshot.Thaw(this, sess, "thawed by lease (freeze_lease " + AgentCoreFunctions.FormatG(sess.FreezeLease.Seconds) + " s)");
                    }
                    else if (sess.State == SessionState.Prepared && sess.OwnerStopped && sess.FreezeLease != null && sess.FreezeLease.Expired(now))
                    {
                        // the owner service is down from the prepare: no freeze within the freeze lease, so it comes back now
                        OpsSnapshot.Abort(this, sess, "no freeze within freeze_lease (" + AgentCoreFunctions.FormatG(sess.FreezeLease.Seconds) +
                                                      " s) of the prepare that stopped the owning service: aborted, service started again");
                        continue;
                    }
                    if (sess.SessionLease.Expired(now))
                    {
                        string reason = "session lease expired (" + AgentCoreFunctions.FormatG(sess.SessionLease.Seconds) +
                                        " s without a call naming the session)";
                        if (sess.Kind == "snapshot")
                            OpsSnapshot.Abort(this, sess, reason);
                        else
                            OpsStream.Abort(this, sess, reason);
                    }
                }
                catch (AgentFailure exc)
                {
                    Journal.Write("lease_action_failed", new JsonObject().Add("session", sess.SessionId).Add("error", exc.Message));
                }
            }
        }

        // -- the instance ----------------------------------------------------------------------------

        /// <summary>The store an instance block describes (the engine's StoreSpec, as core.spec builds it).</summary>
        public sealed class StoreSpec
        {
            public string LogPath;
            public string SystemPath;
            public List<string> DbPaths;
            public string Base;
            public string InstanceName;
            public long? LogKb;
            public long? Circular;
            public long? PageSize;
            public bool CreatePaths;
        }

        public StoreSpec Spec()
        {
            JsonObject cfg = InstanceCfg;
            if (!Py.Truthy(cfg["log_path"]))
                throw new AgentFailure(Err.InvalidRequest, "this op needs the instance block (log_path, databases)");
            StoreSpec spec = new StoreSpec();
            spec.LogPath = cfg.Str("log_path");
            spec.SystemPath = Py.Truthy(cfg["system_path"]) ? cfg.Str("system_path") : cfg.Str("log_path");
            spec.DbPaths = J.Strings(cfg["databases"], "databases");
            spec.Base = Py.Truthy(cfg["base_name"]) ? cfg.Str("base_name") : "edb";
            spec.InstanceName = Py.Truthy(cfg["name"]) ? cfg.Str("name") : "store";
            spec.LogKb = cfg["log_file_size"] == null ? (long?)null : cfg.Long("log_file_size");
            spec.Circular = cfg["circular_logging"] == null ? (long?)null : (cfg.Bool("circular_logging") ? 1L : 0L);
            spec.PageSize = cfg["page_size"] == null ? (long?)null : cfg.Long("page_size");
            spec.CreatePaths = false;
            return spec;
        }

        /// <summary>Host the instance: JetInit (soft recovery) and attach its databases, or say who holds them.</summary>
        /// <exception cref="AgentFailure">-10016 naming the field of a path on a drive the host does not have; -10006 naming
        /// who holds which file of the store (OpsInfo.HoldersFailure); an engine error otherwise.</exception>
        public HostedInstance EnsureStore()
        {
            if (Store != null && !InstanceRunning())
            {
                // The instance was terminated under the agent (e.g. before a freeze, which then covered
                // nothing): forget the stale handle and host the store again.
                Journal.Write("instance_lost", new JsonObject().Add("instance", InstanceCfg["name"]));
                Store = null;
            }
            if (Store != null)
                return Store;
            Spec();  // the instance block is there
            OpsInfo.CheckDrives(Platform, InstanceCfg);
            List<object> held = OpsInfo.StoreHolders(Platform, InstanceCfg, Pid);
            if (held.Count > 0)
                throw OpsInfo.HoldersFailure(InstanceCfg, held);
            RefuseNewLogStream();
            HostedInstance store;
            try
            {
                store = HostInstance(Spec());
            }
            catch (JetException exc)
            {
                throw new AgentFailure(exc.Code, ("hosting instance " + Py.Repr(InstanceCfg["name"]) + " failed: " +
                                                  JetErrorCatalogue.Lookup(exc.Code).Text + " ").Trim());
            }
            Store = store;
            Journal.Write("instance_attached", new JsonObject().Add("instance", InstanceCfg["name"]).Add("databases", J.List(Spec().DbPaths)));
            return store;
        }

        /// <summary>Create the instance, set its parameters, JetInit (soft recovery), begin a session, attach and open the databases.</summary>
        /// <exception cref="JetException">the first call that failed; the instance is terminated again.</exception>
        public HostedInstance HostInstance(StoreSpec spec)
        {
            IntPtr inst = Jet.CreateInstance2(spec.InstanceName, null);
            try
            {
                if (spec.PageSize.HasValue)
                    Jet.SetGlobalParameter(NativeHelpers.JET_paramDatabasePageSize, spec.PageSize.Value);
                Jet.SetParameter(ref inst, NativeHelpers.JET_paramLogFilePath, spec.LogPath);
                Jet.SetParameter(ref inst, NativeHelpers.JET_paramSystemPath, spec.SystemPath);
                Jet.SetParameter(ref inst, NativeHelpers.JET_paramBaseName, spec.Base);
                Jet.SetParameter(ref inst, NativeHelpers.JET_paramCreatePathIfNotExist, spec.CreatePaths ? 1L : 0L);
                if (spec.LogKb.HasValue)
                    Jet.SetParameter(ref inst, NativeHelpers.JET_paramLogFileSize, spec.LogKb.Value);
                if (spec.Circular.HasValue)
                    Jet.SetParameter(ref inst, NativeHelpers.JET_paramCircularLog, spec.Circular.Value);
                Jet.Init3(ref inst, 0);
                IntPtr sesid = Jet.BeginSession(inst);
                foreach (string path in spec.DbPaths)
                    Jet.AttachDatabase2(sesid, path, 0);
                string[] names = new string[0];
                foreach (InstanceInfo i in Jet.GetInstanceInfo())
                {
                    if (i.Instance == inst)
                    {
                        names = i.Databases ?? new string[0];
                        break;
                    }
                }
                HostedInstance hosted = new HostedInstance(inst, sesid);
                foreach (string name in names)
                    hosted.Dbids.Add(new KeyValuePair<string, IntPtr>(name, Jet.OpenDatabase(sesid, name)));
                hosted.LogPath = Jet.GetParameterString(inst, NativeHelpers.JET_paramLogFilePath);
                hosted.SystemPath = Jet.GetParameterString(inst, NativeHelpers.JET_paramSystemPath);
                hosted.Base = Jet.GetParameterString(inst, NativeHelpers.JET_paramBaseName);
                hosted.Legacy = (int)Jet.GetParameterLong(inst, NativeHelpers.JET_paramLegacyFileNames);
                return hosted;
            }
            catch (JetException)
            {
                try
                {
                    Jet.Term2(inst, NativeHelpers.JET_bitTermComplete);
                }
                catch (JetException)
                {
                    // the first failure is the one reported
                }
                throw;
            }
        }

        /// <summary>Whether the hosted instance still runs (JetGetInstanceInfo lists it).</summary>
        public bool InstanceRunning()
        {
            try
            {
                if (Store == null)
                    return false;
                foreach (InstanceInfo i in Jet.GetInstanceInfo())
                    if (i.Instance == Store.Inst)
                        return true;
                return false;
            }
            catch (JetException)
            {
                return false;
            }
        }

        /// <summary>Never start a new log stream for a database whose header names other logs (docs/dev/safety-rules.md rule 12).
        /// JetInit in a log folder with no log of this base name starts a new stream; attaching a database that was used with
        /// another stream to it would split its history (and, with a device name as base name, write devices). So when the
        /// folder has no current log of the base name, every database must be one that never had logs.</summary>
        /// <exception cref="AgentFailure">JET_errClientStoreParameterMismatch naming base_name, log_path and the database.</exception>
        public void RefuseNewLogStream()
        {
            StoreSpec spec = Spec();
            string[] names = Platform.ListDir(spec.LogPath);
            List<int> styles = LogNames.DetectStyles(names, spec.Base);
            if (styles.Count > 0)
                return;
            foreach (string path in spec.DbPaths)
            {
                DatabaseInfo info;
                try
                {
                    info = Jet.GetDatabaseInfo(path);
                }
                catch (JetException)
                {
                    continue;  // no header to compare (missing, held): JetInit or the attach says why
                }
                if (info.LogSignature != null)
                    throw new AgentFailure(Err.ParameterMismatch,
                        spec.LogPath + " holds no log stream with base name " + Py.Repr(spec.Base) + ", but " + path +
                        " was last used with a log stream (log signature " + info.LogSignature + "); the agent never starts a new log stream for it",
                        "Check instance.base_name and instance.log_path against the store (esent.backup.instance_info " +
                        "lists the log generations it finds); ESE's default base name is edb.",
                        new JsonObject().Add("field", "instance.base_name").Add("given", spec.Base).Add("log_path", spec.LogPath));
            }
        }

        /// <summary>Detach and JetTerm the instance (never while a session holds it: docs/dev/safety-rules.md rule 3).</summary>
        public void ReleaseStore(string why)
        {
            if (Store == null)
                return;
            foreach (Session s in Sessions.Values)
                if (s.Live && !s.EngineEnded)
                    return;
            DropWorkload();
            int err = 0;
            try
            {
                Jet.EndSession(Store.Sesid);
            }
            catch (JetException)
            {
                // JetTerm2 ends what is left
            }
            try
            {
                Jet.Term2(Store.Inst, NativeHelpers.JET_bitTermComplete);
            }
            catch (JetException exc)
            {
                err = exc.Code;
            }
            Store = null;
            Journal.Write("instance_released", new JsonObject().Add("reason", why).Add("error", err != 0 ? (object)(long)err : null));
        }

        // -- simple ops ------------------------------------------------------------------------------

        public JsonObject OpPing(JsonObject doc)
        {
            return new JsonObject().Add("pong", true).Add("host", Platform.ComputerName).Add("request_id", doc["request_id"])
                                   .Add("protocol", J.List(ProtocolSpec.SupportedVersions)).Add("route", Route);
        }

        public JsonObject OpStatus(JsonObject doc)
        {
            string sid = doc.Obj("args").Str("session_id");
            Session named;
            if (Sessions.TryGetValue(sid ?? "", out named) && named.Live)
                named.SessionLease.Renew(Now());  // a status naming the session renews it, like every call
            List<object> sessions = new List<object>();
            foreach (Session s in Sessions.Values)
                if (sid == null || sid == s.SessionId)
                    sessions.Add(SessionView(s));
            JsonObject copies = new JsonObject();
            foreach (KeyValuePair<string, AgentCopy> kv in Copies)
                copies[kv.Key] = kv.Value.Status();
            return new JsonObject().Add("agent", "running").Add("pid", (long)Pid).Add("boot_id", BootId).Add("started_utc", AgentCoreFunctions.Utc(Started))
                                   .Add("route", Route).Add("counters", new JsonObject(Counters)).Add("sessions", sessions).Add("copies", copies)
                                   .Add("shadows", J.List(OurShadows())).Add("instance_attached", Store != null)
                                   .Add("owner_windows", J.List(OwnerWindows)).Add("workload", WorkloadView()).Add("journal", Journal.Tail(20))
                                   .Add("changed", false);
        }

        public JsonObject SessionView(Session s)
        {
            JsonObject shadows = new JsonObject();
            foreach (KeyValuePair<string, string> kv in s.Shadows)
                shadows[kv.Key] = kv.Value;
            JsonObject output = new JsonObject(s.Brief()).Add("kind", s.Kind).Add("owner", s.Owner).Add("backup_type", s.BackupType)
                .Add("shadows", shadows).Add("verified", s.Verified).Add("set_dir", String.IsNullOrEmpty(s.SetDir) ? null : s.SetDir)
                .Add("recorded_as", s.RecordedAs).Add("session_lease_remaining", Math.Round(s.SessionLease.Deadline - Now(), 3))
                .Add("session_lease_ends_utc", LeaseEndUtc(s));
            if (s.FreezeLease != null && s.State == SessionState.Frozen)
                output["freeze_lease_remaining"] = Math.Round(s.FreezeLease.Deadline - Now(), 3);
            return output;
        }

        public JsonObject OpShutdown(JsonObject doc)
        {
            List<object> live = new List<object>();
            foreach (Session s in Sessions.Values)
                if (s.Live)
                    live.Add(s.Brief());
            if (live.Count > 0)
                throw new AgentFailure(Err.BackupInProgress, "a session holds the instance; the agent never terminates it under a session (JetTerm2 would hang)",
                                       "Abort or end the sessions first.", new JsonObject().Add("sessions", live));
            foreach (string name in StoppedServices())  // never exit leaving a service this agent stopped
            {
                ServiceInfo svc = Platform.Service(name);
                if (svc != null && !svc.Running)
                    StartOwner(svc, "shutdown");
            }
            ReleaseStore("shutdown");
            Journal.Write("agent_shutdown", new JsonObject().Add("pid", (long)Pid));
            Alive = false;  // the server ends the process once the reply is sent
            return new JsonObject().Add("changed", true).Add("stopped", true).Add("pid", (long)Pid);
        }

        public JsonObject OpInstall(JsonObject doc)
        {
            string version = doc.Obj("args").Str("version");
            if (version == AgentVersion)
                return new JsonObject().Add("changed", false).Add("version", AgentVersion);
            foreach (Session s in Sessions.Values)
                if (s.Live)
                    throw new AgentFailure(Err.BackupInProgress, "the agent upgrades only when idle", "Retry once the sessions ended.");
            // The simulated host puts the new launcher in place (ahost.install); on Windows esent.backup.agent state=present
            // installs the compiled agent, so the Windows platform answers null and nothing is written here.
            Platform.SimOnly("install", new JsonObject().Add("version", version));
            return new JsonObject().Add("changed", true).Add("version", version).Add("restart_required", true);
        }

        public JsonObject OpCopyStatus(JsonObject doc)
        {
            string copyId = doc.Obj("args").Str("copy_id");
            AgentCopy copy;
            if (!Copies.TryGetValue(copyId, out copy))
                throw new AgentFailure(Err.UnknownSession, "no copy " + copyId + " on this agent");
            foreach (Session s in Sessions.Values)
                if (ReferenceEquals(s.Copy, copy) && s.Live)
                    s.SessionLease.Renew(Now());  // polling a session's copy keeps the session alive
            return new JsonObject(copy.Status()).Add("changed", false);
        }

        public JsonObject OpCopyCancel(JsonObject doc)
        {
            string copyId = doc.Obj("args").Str("copy_id");
            AgentCopy copy;
            if (!Copies.TryGetValue(copyId, out copy))
                return new JsonObject().Add("changed", false).Add("copy_id", copyId).Add("state", "unknown");
            bool changed = copy.Cancel();
            return new JsonObject().Add("changed", changed).Add("copy_id", copy.CopyId).Add("state", copy.State);
        }
    }
}
