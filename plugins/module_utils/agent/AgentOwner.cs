// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// AgentProcess, continued (AgentCore.cs): the owning service of a service-owned store, one session per
// instance, the workload of an agent-hosted store, and the control endpoint's view. Ported from core.py.
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
    public sealed partial class AgentProcess
    {
        // -- owner service (service-owned stores) ----------------------------------------------------

        private ServiceInfo ServiceOf(JsonObject doc)
        {
            string name = doc.Obj("args").Str("service");
            string expected = InstanceCfg.Str("owner_service");
            if (!String.IsNullOrEmpty(expected) && expected.ToLowerInvariant() != name.ToLowerInvariant())
                throw new AgentFailure(Err.InvalidOption, "service " + Py.Repr(name) + " is not this instance's owner_service (" + Py.Repr(expected) + ")");
            ServiceInfo svc = Platform.Service(name);
            if (svc == null)
                throw new AgentFailure(Err.InvalidOption, "no service named " + Py.Repr(name) + " on " + Platform.ComputerName, "Check instance.owner_service.");
            return svc;
        }

        public JsonObject OpOwnerStop(JsonObject doc)
        {
            ServiceInfo svc = ServiceOf(doc);
            if (!svc.Running)
                return new JsonObject().Add("changed", false).Add("service", svc.ServiceName).Add("state", "stopped");
            int err = StopOwner(svc, "owner_stop");
            return new JsonObject().Add("changed", true).Add("service", svc.ServiceName).Add("state", "stopped").Add("error", err != 0 ? (object)(long)err : null);
        }

        /// <summary>Open the owner window, recorded in the state file, then stop the running service through the SCM (core._stop_owner).</summary>
        private int StopOwner(ServiceInfo svc, string why)
        {
            OwnerWindows.Add(new JsonObject().Add("service", svc.ServiceName).Add("stopped_at", Platform.Time()).Add("started_at", null).Add("stopped_seconds", null));
            // Recorded before the stop: an agent that dies while the SCM stops the service (up to 60 s) or from then on
            // leaves the next agent of the route a service to start (starting one that runs is a no-op).
            WriteState();
            int err = Platform.StopService(svc.ServiceName);
            Journal.Write("owner_stopped", new JsonObject().Add("service", svc.ServiceName).Add("reason", why).Add("error", err != 0 ? (object)(long)err : null));
            return err;
        }

        /// <summary>The services this agent stopped (owner_stop, a prepare or a begin) and has not started again.</summary>
        public List<string> StoppedServices()
        {
            SortedSet<string> names = new SortedSet<string>(StringComparer.Ordinal);
            foreach (JsonObject w in OwnerWindows)
                if (w["started_at"] == null)
                    names.Add(w.Str("service"));
            return new List<string>(names);
        }

        /// <summary>Stop the instance's owner_service for a new session (snapshot_prepare, stream_begin). True when this call
        /// stopped it (the session then starts it again); false for an agent-hosted store or a service that is not running:
        /// a service the agent finds stopped is never started by the agent afterwards.</summary>
        /// <exception cref="AgentFailure">-10016, no such service on the host.</exception>
        public bool StopOwnerForSession(string why)
        {
            string name = InstanceCfg.Str("owner_service");
            if (String.IsNullOrEmpty(name))
                return false;
            ServiceInfo svc = Platform.Service(name);
            if (svc == null)
                throw new AgentFailure(Err.InvalidOption, "no service named " + Py.Repr(name) + " on " + Platform.ComputerName, "Check instance.owner_service.");
            if (!svc.Running)
            {
                Journal.Write("owner_found_stopped", new JsonObject().Add("service", svc.ServiceName).Add("reason", why));
                return false;
            }
            StopOwner(svc, why);
            return true;
        }

        /// <summary>A session start that stopped the owner failed: host nothing and start the service again.</summary>
        public void StartStoppedOwner(string why)
        {
            ServiceInfo svc = Platform.Service(InstanceCfg.Str("owner_service") ?? "");
            if (svc == null || svc.Running)
                return;
            ReleaseStore(why);
            try
            {
                StartOwner(svc, why);
            }
            catch (AgentFailure exc)  // the first failure is the one the caller gets; this one is in the journal
            {
                Journal.Write("owner_start_failed", new JsonObject().Add("service", svc.ServiceName).Add("error", exc.Message));
            }
        }

        /// <summary>Start the session's owner service again once the session no longer needs the store. On the normal path
        /// (the thaw, a streaming End) only when this session's start stopped it; on a failure path (abort, lease, failed
        /// freeze) also when this agent stopped it with owner_stop. Never a service the agent found stopped.</summary>
        /// <returns>How long the service stayed stopped (null when the agent started nothing).</returns>
        public double? ResumeOwner(Session sess, string why, bool failed = false)
        {
            ServiceInfo svc = !String.IsNullOrEmpty(sess.OwnerService) ? Platform.Service(sess.OwnerService) : null;
            if (svc == null || svc.Running)
                return null;
            bool ours = sess.OwnerStopped || (failed && StoppedServices().Contains(svc.ServiceName));
            if (!ours)
                return null;
            ReleaseStore(why);
            object stopped = StartOwner(svc, why)["stopped_seconds"];
            double? seconds = stopped == null ? (double?)null : J.AsDouble(stopped, "stopped_seconds");
            if (sess.OwnerStopped)
                sess.OwnerStoppedSeconds = seconds;
            return seconds;
        }

        /// <summary>Start the services a dead agent of this route stopped and never started again. Its state file lists them
        /// (stopped_services); only those. One that fails to start stays recorded, so the next agent tries again.</summary>
        /// <returns>The services started.</returns>
        public List<string> RestoreServices(JsonObject oldState)
        {
            List<string> started = new List<string>();
            List<object> names = oldState["stopped_services"] as List<object>;
            if (names == null)
                return started;
            foreach (object name in names)
            {
                ServiceInfo svc = Platform.Service(AgentCoreFunctions.PyStr(name));
                if (svc == null || svc.Running)
                    continue;
                OwnerWindows.Add(new JsonObject().Add("service", svc.ServiceName).Add("stopped_at", null).Add("started_at", null).Add("stopped_seconds", null)
                                                 .Add("stopped_by_boot", oldState["boot_id"]));
                try
                {
                    StartOwner(svc, "restore: agent boot " + AgentCoreFunctions.PyStr(oldState["boot_id"]) + " stopped it and ended before starting it again");
                }
                catch (AgentFailure exc)
                {
                    Journal.Write("owner_restore_failed", new JsonObject().Add("service", svc.ServiceName).Add("error", exc.Message));
                    continue;
                }
                started.Add(svc.ServiceName);
            }
            return started;
        }

        public JsonObject OpOwnerStart(JsonObject doc)
        {
            ServiceInfo svc = ServiceOf(doc);
            return StartOwner(svc, "owner_start");
        }

        /// <summary>Start the owning service, whatever state the backup is in (it aborts a live session first).</summary>
        public JsonObject StartOwner(ServiceInfo svc, string why)
        {
            if (svc.Running)
                return new JsonObject().Add("changed", false).Add("service", svc.ServiceName).Add("state", "running");
            foreach (Session sess in new List<Session>(Sessions.Values))
            {
                if (sess.Live && !sess.EngineEnded)
                {
                    string reason = why + ": the owner " + svc.ServiceName + " is restarted";
                    if (sess.Kind == "snapshot")
                        OpsSnapshot.Abort(this, sess, reason);
                    else
                        OpsStream.Abort(this, sess, reason);
                }
            }
            ReleaseStore(why);
            int err = Platform.StartService(svc.ServiceName);
            JsonObject window = null;
            for (int i = OwnerWindows.Count - 1; i >= 0; i--)
            {
                if (OwnerWindows[i].Str("service") == svc.ServiceName && OwnerWindows[i]["started_at"] == null)
                {
                    window = OwnerWindows[i];
                    break;
                }
            }
            if (window != null && err == 0)
            {
                double startedAt = Platform.Time();
                window["started_at"] = startedAt;
                window["stopped_seconds"] = window["stopped_at"] != null ? (object)Math.Round(startedAt - J.AsDouble(window["stopped_at"], "stopped_at"), 3) : null;
                WriteState();
            }
            Journal.Write("owner_started", new JsonObject().Add("service", svc.ServiceName).Add("reason", why).Add("error", err != 0 ? (object)(long)err : null)
                                                           .Add("stopped_seconds", window != null ? window["stopped_seconds"] : null));
            if (err != 0)
                throw new AgentFailure(err, "starting " + svc.ServiceName + " failed: " + JetErrorCatalogue.Lookup(err).Text);
            return new JsonObject().Add("changed", true).Add("service", svc.ServiceName).Add("state", "running")
                                   .Add("stopped_seconds", window != null ? window["stopped_seconds"] : null);
        }

        // -- one session per instance ----------------------------------------------------------------

        /// <summary>When the session lease ends a live session: UTC on the host's clock (null once over).</summary>
        public string LeaseEndUtc(Session sess)
        {
            if (!sess.Live)
                return null;
            return AgentCoreFunctions.Utc(Platform.Time() + Math.Max(0.0, sess.SessionLease.Deadline - Now()));
        }

        /// <summary>Refuse a second session on the instance, naming the live one and how to take it over.</summary>
        /// <exception cref="AgentFailure">err (-2403 for a prepare, -505 for a begin) with the session's id, owner, state and
        /// lease end in the message, the takeover in the hint, and held_by in the result.</exception>
        public void RefuseIfHeld(int err)
        {
            Session s = null;
            foreach (Session candidate in Sessions.Values)
                if (candidate.Live)
                    s = candidate;
            if (s == null)
                return;
            string ends = LeaseEndUtc(s);
            string abortStep = s.Kind == "snapshot" ? "esent.backup.snapshot_abort" : "the stream_stop op";
            throw new AgentFailure(
                err, "instance " + Py.Repr(InstanceCfg["name"]) + " is held by " + s.Kind + " session " + s.SessionId + " of owner " + Py.Repr(s.Owner) +
                     " (state " + s.StateValue + "); its session lease ends at " + AgentCoreFunctions.PyStr(ends) +
                     " (UTC, host clock) unless a step names the session first",
                "Let that run finish, or wait for its lease to end. To take the session over, run as its owner: set esent_backup_owner: " +
                Py.Repr(s.Owner) + " (give a scheduled job a fixed esent_backup_owner, so that its next run owns what the last one left) and run " +
                abortStep + " without an id; or, from any run, " + abortStep + " with force: true.",
                new JsonObject().Add("held_by", new JsonObject().Add("session_id", s.SessionId).Add("kind", s.Kind).Add("owner", s.Owner)
                                                                .Add("state", s.StateValue).Add("session_lease_ends_utc", ends)));
        }

        // -- workload (agent-hosted stores) ----------------------------------------------------------

        public JsonObject OpWorkload(JsonObject doc)
        {
            JsonObject args = doc.Obj("args");
            string action = args.Str("action");
            if (Py.Truthy(InstanceCfg["owner_service"]))
                throw new AgentFailure(Err.InvalidOption, "the workload op runs only in agent-hosted stores; this store belongs to " +
                                                          InstanceCfg.Str("owner_service"));
            if (action == "start")
            {
                bool started = StartWorkload(args["rate"] == null ? 2 : args.Long("rate"));
                return new JsonObject().Add("changed", started).Update(WorkloadView());
            }
            if (action == "stop")
            {
                bool changed = Workload != null;
                DropWorkload();
                return new JsonObject().Add("changed", changed).Add("running", false);
            }
            return new JsonObject().Add("changed", false).Update(WorkloadView());
        }

        public bool StartWorkload(long rate)
        {
            HostedInstance store = EnsureStore();
            if (Workload != null)
            {
                Workload["rate"] = rate;
                return false;
            }
            KeyValuePair<string, IntPtr> first = store.Dbids[0];
            // The demo workload commits transactions into the hosted store and records them in the store's ledger
            // (jet.sim_only_workload). The Windows platform has none: it answers null and the op says so.
            JsonObject started = Platform.SimOnly("workload_start", new JsonObject()
                .Add("sesid", store.Sesid.ToInt64()).Add("dbid", first.Value.ToInt64()).Add("database", first.Key)
                .Add("ledger", InstanceCfg.Str("name") ?? "store").Add("seed", Route + "|" + BootId));
            if (started == null)
                throw new AgentFailure(Err.InvalidOption, "the workload op is not available on this platform: the demo workload runs on the simulated host only");
            Workload = new JsonObject().Add("rate", rate).Add("credit", 0.0);
            Journal.Write("workload_started", new JsonObject().Add("rate", rate));
            return true;
        }

        /// <summary>Forget the workload (the reference agent drops its Workload object; the simulated host stops committing).</summary>
        private void DropWorkload()
        {
            if (Workload == null)
                return;
            Workload = null;
            Platform.SimOnly("workload_stop", new JsonObject());
        }

        public JsonObject WorkloadView()
        {
            if (Workload == null)
                return new JsonObject().Add("running", false);
            JsonObject stats = Platform.SimOnly("workload_view", new JsonObject()) ?? new JsonObject();
            return new JsonObject().Add("running", true).Add("rate", Workload["rate"]).Add("commits", stats.Long("commits"))
                                   .Add("durable", stats.Long("durable")).Add("errors", stats.Long("errors"));
        }

        /// <summary>Commit rate * seconds transactions (skipped while frozen: a commit would wait on the freeze).</summary>
        public void WorkloadTick(double seconds)
        {
            JsonObject wl = Workload;
            if (wl == null || Store == null)
                return;
            long rate = wl.Long("rate");
            double credit = Math.Min(wl.Double("credit") + rate * seconds, 2 * rate);
            long commits = (long)Math.Floor(credit);
            // jet.sim_only_io_frozen and the workload's commit_one: the simulated host commits unless the instance is frozen.
            JsonObject answer = Platform.SimOnly("workload_tick", new JsonObject().Add("inst", Store.Inst.ToInt64()).Add("commits", commits));
            if (answer == null || J.AsBool(answer["frozen"], "frozen"))
                return;
            wl["credit"] = credit - commits;
        }

        // -- the control endpoint's view (tests; esesim/agent/control.py's state of one agent) -------

        /// <summary>What control.py shows of a Python agent: taken under Lock, without engine or platform calls, except the
        /// workload's counters, read after the lock is released.</summary>
        public JsonObject View()
        {
            JsonObject view;
            bool workload;
            lock (Lock)
            {
                JsonObject sessions = new JsonObject();
                foreach (KeyValuePair<string, Session> kv in Sessions)
                {
                    Session s = kv.Value;
                    List<string> shadows = new List<string>(s.Shadows.Values);
                    shadows.Sort(StringComparer.Ordinal);
                    sessions[kv.Key] = new JsonObject().Add("state", s.StateValue).Add("reason", s.Reason).Add("owner", s.Owner).Add("kind", s.Kind)
                                                       .Add("backup_type", s.BackupType).Add("verified", s.Verified).Add("shadows", J.List(shadows));
                }
                List<object> windows = new List<object>();
                foreach (JsonObject w in OwnerWindows)
                    windows.Add(new JsonObject(w));
                JsonObject copies = new JsonObject();
                foreach (KeyValuePair<string, AgentCopy> kv in Copies)
                    copies[kv.Key] = kv.Value.State;
                view = new JsonObject().Add("pid", (long)Pid).Add("alive", Alive).Add("instance", InstanceCfg["name"])
                                       .Add("inst", Store != null ? (object)Store.Inst.ToInt64() : null).Add("sessions", sessions)
                                       .Add("owner_windows", windows).Add("copies", copies);
                workload = Workload != null;
            }
            view["workload"] = workload ? WorkloadView() : new JsonObject().Add("running", false);
            return view;
        }
    }
}
