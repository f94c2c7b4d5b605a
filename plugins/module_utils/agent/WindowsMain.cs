// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's entry point on Windows: the launcher (agent.ps1, run by Windows PowerShell 5.1 in the
// process the bootstrap started through Win32_Process.Create) loads the compiled agent and calls
// AgentProgram.Run with the route. Run creates the named pipe first (esent.backup-<guid>: a fresh
// GUID per agent process, the only instance of that name), then the agent, which records the pipe's
// name, its pid and its boot id in its state file (agents\<route>.json): the bootstrap connects to
// the name it reads there and checks that the reply's identity is the state file's
// (plugins/plugin_utils/_bootstrap.py). A background timer runs the leases and the idle exit; the
// agent exits after idleExitSeconds without a call, and never while a session is open or a copy
// runs (AgentProcess.Idle). The simulation starts AgentServer with its own platform and transport
// instead (esesim/native/csharp/AgentMain.cs).
// C# 5 only.
using System;

namespace EsentBackup.Agent
{
    /// <summary>What the launcher calls.</summary>
    public static class AgentProgram
    {
        /// <summary>The pipe name's prefix; the rest is a GUID ("D" format) chosen by the agent.</summary>
        public const string PipePrefix = "esent.backup-";

        /// <summary>How often the lease timer runs when the launcher does not say.</summary>
        public const int DefaultLeaseTimerMs = 1000;

        /// <summary>A fresh pipe name: esent.backup-&lt;guid&gt; (unguessable, so no other process can take the name
        /// first; the state file that records it lives in an Administrators-only folder).</summary>
        public static string NewPipeName()
        {
            return PipePrefix + Guid.NewGuid().ToString("D");
        }

        /// <summary>Serve the route's requests on a new GUID-named pipe until the agent exits, with the default lease
        /// timer and idle exit (AgentProcess.IdleExitSecondsDefault, 15 minutes).</summary>
        public static int Run(string route)
        {
            return Run(route, null, DefaultLeaseTimerMs, AgentProcess.IdleExitSecondsDefault);
        }

        /// <summary>Serve the route's requests on the pipe until the agent exits.</summary>
        /// <param name="route">The routing key of the instance (the state file is agents\&lt;route&gt;.json).</param>
        /// <param name="pipeName">The pipe's name without \\.\pipe\; null or empty: a new esent.backup-&lt;guid&gt; (the
        /// launcher passes null: the agent chooses).</param>
        /// <param name="leaseTimerMs">How often the lease timer checks the sessions' leases and the idle exit.</param>
        /// <param name="idleExitSeconds">The idle exit: seconds without a call, with no session open and no copy running,
        /// after which the agent ends (removing its state file); the bootstrap starts a new one on the next call.</param>
        /// <returns>The process exit code the launcher passes on.</returns>
        public static int Run(string route, string pipeName, int leaseTimerMs, double idleExitSeconds)
        {
            if (String.IsNullOrEmpty(route))
                throw new ArgumentException("the route (routing key) is required", "route");
            if (leaseTimerMs <= 0)
                throw new ArgumentOutOfRangeException("leaseTimerMs", "the lease timer runs on Windows: a positive period");
            string pipe = String.IsNullOrEmpty(pipeName) ? NewPipeName() : pipeName;
            WindowsPlatform platform = new WindowsPlatform();
            // The pipe exists before the state file names it: a bootstrap that reads the state file finds it.
            using (PipeTransport transport = new PipeTransport(pipe))
            using (AgentServer server = new AgentServer(platform, transport, route, null, leaseTimerMs, idleExitSeconds, pipe))
            {
                server.Run();
                return 0;
            }
        }
    }
}
