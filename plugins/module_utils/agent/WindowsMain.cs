// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's entry point on Windows: the launcher (agent.ps1, run by Windows PowerShell 5.1 in the
// process the bootstrap started through Win32_Process.Create) loads the compiled agent and calls
// AgentProgram.Run with the route. Run creates the named pipe first (esent.backup-<guid>: a fresh
// GUID per agent process, the only instance of that name), then the agent, which records the pipe's
// name, its pid and its boot id in its state file (agents\<route>.json): the bootstrap connects to
// the name it reads there and checks that the reply's identity is the state file's
// (plugins/plugin_utils/_bootstrap.py). One agent per route: a second one started in a race (two
// bootstraps, each finding no live agent) loses the route's named mutex, waits for the winner's state
// file and exits, so both bootstraps relay to the winner. A background timer runs the leases and the idle exit; the
// agent exits after idleExitSeconds without a call, and never while a session is open or a copy
// runs (AgentProcess.Idle). The simulation starts AgentServer with its own platform and transport
// instead (esesim/native/csharp/AgentMain.cs).
// C# 5 only.
using System;
using System.Text;
using System.Threading;

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
            // One agent per route even when two bootstraps start one at the same moment (each saw no live agent in the
            // state file): the route's mutex, held for the agent's life. The one that does not get it waits for the
            // winner's state file and exits, so both bootstraps relay to the winner.
            using (Mutex one = new Mutex(false, MutexName(route)))
            {
                bool mine;
                try
                {
                    mine = one.WaitOne(0);
                }
                catch (AbandonedMutexException)
                {
                    mine = true;   // its holder died without releasing it: the route has no agent, this one takes it
                }
                if (!mine)
                    return WaitForWinner(platform, route) ? ExitAnotherAgent : ExitNoWinner;
                try
                {
                    // The pipe exists before the state file names it: a bootstrap that reads the state file finds it.
                    using (PipeTransport transport = new PipeTransport(pipe))
                    using (AgentServer server = new AgentServer(platform, transport, route, null, leaseTimerMs, idleExitSeconds, pipe))
                    {
                        server.Run();
                        return 0;
                    }
                }
                finally
                {
                    one.ReleaseMutex();   // on the thread that took it (Run serves on this thread)
                }
            }
        }

        /// <summary>agent.ps1 -Peek: one read-only answer, no agent left running (PeekRun.Answer on the Windows platform).</summary>
        /// <param name="route">The routing key the bootstrap read.</param>
        /// <param name="request">The request body (JSON text) the launcher read from its stdin.</param>
        /// <returns>The reply JSON the launcher prints.</returns>
        public static string Peek(string route, string request)
        {
            return Encoding.UTF8.GetString(PeekRun.Answer(new WindowsPlatform(), route, request ?? ""));
        }

        /// <summary>Exit code: another agent of the route runs (it holds the mutex and its state file names it).</summary>
        public const int ExitAnotherAgent = 0;

        /// <summary>Exit code: another process holds the route's mutex but wrote no state file within WinnerWaitMs.</summary>
        public const int ExitNoWinner = 3;

        /// <summary>How long the agent that lost the route's mutex waits for the winner's state file.</summary>
        public const int WinnerWaitMs = 30000;

        /// <summary>The route's mutex: Global\esent.backup-agent-&lt;route&gt; (a route is 1 to 32 of [0-9a-z], the bootstrap
        /// checks; the Global namespace reaches across sessions: WinRM callers run in session 0, others may not).</summary>
        public static string MutexName(string route)
        {
            return @"Global\esent.backup-agent-" + route;
        }

        private static bool WaitForWinner(IHostPlatform platform, string route)
        {
            StateFile state = new StateFile(AgentCoreFunctions.StatePath(platform, route));
            for (int waited = 0; waited < WinnerWaitMs; waited += 200)
            {
                JsonObject doc = state.Read();
                if (doc != null && doc["pid"] is long && (long)doc["pid"] != platform.ProcessId && platform.ProcessAlive((int)(long)doc["pid"]))
                    return true;
                Thread.Sleep(200);
            }
            return false;
        }
    }
}
