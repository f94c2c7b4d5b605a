// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// agent.ps1 -Peek: one read-only answer when no agent of the route runs, with no agent process left
// behind (no state file, no pipe, no JetInit). Ported from the simulated host's peek run
// (esesim/agent/simhost.py AgentHost._peek): reads answer from disk (instance_info reads the headers
// and lists the log folder; backup_sets and check mode's verify and dry-run prune read the sets); a
// step that names a session answers that no agent of this store runs, so the session is lost (an
// earlier agent issued it) or unknown; abort paths answer "gone". None of them starts an agent: a
// misspelt instance block never leaves a stray agent behind. It first settles what a dead agent of
// the route left (its shadow copies, pending-end sets, stopped services: the reaper).
// C# 5 only.
using System;
using System.Collections.Generic;
using ansible_collections.esent.backup.plugins.module_utils.ProtocolSchema;

namespace EsentBackup.Agent
{
    public static class PeekRun
    {
        /// <summary>The reply bytes of one peek request (the routing line already consumed).</summary>
        public static byte[] Answer(IHostPlatform platform, string route, string body)
        {
            List<string> reaped = AgentCoreFunctions.ReapDeadAgent(platform, route);
            JsonObject ident = Protocol.AgentIdentity(ProtocolSpec.AgentVersion, 0, "");
            JsonObject doc;
            try
            {
                doc = Protocol.DecodeRequest(body);
            }
            catch (ProtocolError exc)
            {
                return Protocol.Encode(new JsonObject().Add("ok", false).Add("result", new JsonObject()).Add("error", exc.ToError()).Add("agent", ident));
            }
            string op = doc.Str("op");
            JsonObject args = doc.Obj("args") ?? new JsonObject();
            JsonObject inst = doc.Obj("instance") ?? new JsonObject();
            string peekRoute = inst.Count > 0 ? Protocol.RoutingKey(inst) : ProtocolSpec.HostRoute;
            if (op == "ping")  // the install's proof: the agent loads and answers through its launcher
                return Protocol.Encode(Protocol.ReplyOk(new JsonObject().Add("pong", true).Add("host", platform.ComputerName)
                    .Add("request_id", doc["request_id"]).Add("protocol", J.List(ProtocolSpec.SupportedVersions)).Add("route", peekRoute)
                    .Add("agent", "not running"), ident));
            if (op == "status")
                return Protocol.Encode(Protocol.ReplyOk(new JsonObject().Add("agent", "not running").Add("sessions", new List<object>())
                    .Add("shadows", new List<object>()).Add("reaped_shadows", J.List(reaped)).Add("changed", false), ident));
            if (op == "instance_info" && inst.Count > 0)
            {
                try
                {
                    JsonObject facts = OpsInfo.PeekInstanceInfo(platform, inst, args.Str("dest"));
                    return Protocol.Encode(Protocol.ReplyOk(new JsonObject(facts).Add("reaped_shadows", J.List(reaped)), ident));
                }
                catch (AgentFailure exc)  // the same refusal a running agent answers (a path the host cannot use)
                {
                    return Protocol.Encode(Protocol.ReplyError(exc.Code, exc.Name, exc.Message, exc.Hint, ident, exc.Result));
                }
            }
            byte[] answered = OpsSets.PeekReply(platform, doc, ident);  // backup_sets; check mode's verify and dry-run prune
            if (answered != null)
                return answered;
            string sid = args.Str("session_id");
            if (Protocol.IsAbortPath(op, args))
                return Protocol.Encode(Protocol.ReplyOk(new JsonObject().Add("changed", false).Add("state", "gone").Add("session_id", sid)
                    .Add("snapshot_id", sid).Add("reaped_shadows", J.List(reaped)), ident));
            AgentFailure failure;
            string boot;
            int n;
            if (sid != null && Session.SplitId(sid, out boot, out n))
                failure = AgentCoreFunctions.SessionElsewhere(new Journal(AgentCoreFunctions.JournalPath(platform, peekRoute), platform.Time),
                                                              sid, boot, inst);
            else if (sid != null)
                failure = new AgentFailure(Err.UnknownSession, Py.Repr(sid) + " is not a session id of esent.backup", "",
                                           new JsonObject().Add("session_id", sid));
            else
            {
                string copy = args.Str("copy_id");
                failure = new AgentFailure(Err.AgentNotRunning, op + ": no agent of this store (" + inst.Str("name") + ") is running, so " +
                                           (copy != null ? "copy " + copy : "nothing") + " is held here");
            }
            return Protocol.Encode(Protocol.ReplyError(failure.Code, failure.Name, failure.Message, failure.Hint, ident, failure.Result));
        }
    }
}
