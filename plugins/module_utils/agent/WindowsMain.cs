// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's entry point on Windows: the launcher (agent.ps1, run by Windows PowerShell 5.1) loads
// the compiled agent and calls AgentProgram.Run with the route, the pipe name it chose and the lease
// timer period. Run builds the Windows platform and the pipe transport and serves until the agent
// exits. The simulation starts AgentServer with its own platform and transport instead.
// C# 5 only.
using System;

namespace EsentBackup.Agent
{
    /// <summary>What the launcher calls.</summary>
    public static class AgentProgram
    {
        /// <summary>Serve the route's requests on the pipe until the agent exits.</summary>
        /// <param name="route">The routing key of the instance (the state file is agents\&lt;route&gt;.json).</param>
        /// <param name="pipeName">The pipe's name without \\.\pipe\ (esent.backup-&lt;random&gt;).</param>
        /// <param name="leaseTimerMs">How often the lease timer checks the sessions' leases.</param>
        /// <returns>The process exit code the launcher passes on.</returns>
        public static int Run(string route, string pipeName, int leaseTimerMs)
        {
            WindowsPlatform platform = new WindowsPlatform();
            using (PipeTransport transport = new PipeTransport(pipeName))
            {
                new AgentServer(platform, transport, route, null, leaseTimerMs).Run();
                return 0;
            }
        }
    }
}
