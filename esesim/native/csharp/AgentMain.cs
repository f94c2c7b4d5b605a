// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// TEST-ONLY (never shipped to Windows): the entry point of the C# agent in the simulated fleet,
// `mono esent.backup.agent.exe --route R` (esesim/agent/external.py starts it). It plays the part
// agent.ps1 plays on Windows: builds the platform (SimPlatform: the simulated host through the
// native face) and the transport (StdioTransport: frames on stdin/stdout instead of the named
// pipe), learns the instance block from the first frame, takes the fleet's copy pace, says hello
// and runs the AgentServer (no lease timer: the simulated host ticks it with control frames)
// until the transport closes or the agent exits. C# 5 only.
using System;
using System.Text;

namespace EsentBackup.Agent.Simulation
{
    public static class AgentMain
    {
        public static int Main(string[] args)
        {
            string route = null;
            string mode = "serve";
            for (int i = 0; i + 1 < args.Length; i += 2)
            {
                if (args[i] == "--route")
                    route = args[i + 1];
                else if (args[i] == "--mode")
                    mode = args[i + 1];
            }
            if (String.IsNullOrEmpty(route))
            {
                Console.Error.WriteLine("usage: esent.backup.agent.exe --route ROUTE [--mode serve|peek]");
                return 2;
            }
            StdioTransport transport = StdioTransport.FromConsole();
            try
            {
                SimPlatform platform = new SimPlatform();
                TransportFrame first = transport.Receive();
                if (first == null)
                    return 0;  // closed before the first frame: nothing to serve
                if (mode == "peek")
                {
                    // agent.ps1 -Peek: one read-only answer (AgentProgram.Peek on Windows), then the process ends.
                    transport.Send(PeekRun.Answer(platform, route, Encoding.UTF8.GetString(first.Payload)));
                    return 0;
                }
                JsonObject instance = InstanceOf(first, transport);
                // The fleet's copy pace (esesim fleet up --copy-throttle-kbps), as the Python agents' copier.set_throttle.
                JsonObject throttle = platform.SimOnly("copy_throttle", new JsonObject());
                if (throttle != null)
                    Copier.SetThrottle(throttle.Long("bytes_per_second"));
                // The host's idle exit (AgentHost.idle_exit_seconds), as the launcher passes it on Windows.
                JsonObject idle = platform.SimOnly("idle_exit_seconds", new JsonObject());
                double idleExit = idle != null ? J.AsDouble(idle["seconds"], "seconds", AgentProcess.IdleExitSecondsDefault)
                                               : AgentProcess.IdleExitSecondsDefault;
                using (AgentServer server = new AgentServer(platform, transport, route, instance, 0, idleExit))
                {
                    transport.SendHello(Encoding.UTF8.GetBytes(Json.Serialize(Hello(server.Agent))));
                    server.Run();
                }
                return 0;
            }
            catch (Exception exc)
            {
                Console.Error.WriteLine("esent.backup agent (route " + route + ") failed: " + exc);
                return 1;
            }
            finally
            {
                transport.Dispose();
            }
        }

        /// <summary>The instance block the agent serves: from the simulated host's start message
        /// (C {"control": "start", "instance": ...}), or from the first request, which is then served as usual.</summary>
        private static JsonObject InstanceOf(TransportFrame first, StdioTransport transport)
        {
            JsonObject doc = null;
            try
            {
                doc = Json.Parse(Encoding.UTF8.GetString(first.Payload)) as JsonObject;
            }
            catch (JsonException)
            {
                doc = null;  // a malformed first request: the agent answers it, serving no instance yet
            }
            if (first.IsControl && doc != null && (doc["control"] as string) == "start")
                return doc["instance"] as JsonObject;
            transport.PushBack(first);
            return doc == null ? null : doc["instance"] as JsonObject;
        }

        /// <summary>What the simulated host learns of the agent at start: its pid, boot id, version and pipe.</summary>
        private static JsonObject Hello(AgentProcess agent)
        {
            JsonObject identity = agent.Identity();
            return new JsonObject().Add("pid", (long)agent.Pid).Add("boot_id", agent.BootId).Add("version", identity["version"]).Add("pipe", agent.Pipe);
        }
    }
}
