// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The types the agent and its op modules share (esesim/agent/interfaces.py). The Python file also
// declares the AgentHost and AgentProcess protocols; here AgentProcess is the class itself
// (AgentCore.cs) and the AgentHost members the ops use are IHostPlatform's (HostPlatform.cs).
// C# 5 only.
using System;
using System.Collections.Generic;

namespace EsentBackup.Agent
{
    /// <summary>The instance an agent hosts, as it learnt it through esent.dll when it attached the store.</summary>
    public sealed class HostedInstance
    {
        /// <summary>The JET_INSTANCE.</summary>
        public IntPtr Inst;

        /// <summary>The agent's session on it.</summary>
        public IntPtr Sesid;

        /// <summary>Each database as ESE names it (JetGetInstanceInfo) -> its dbid, in attach order.</summary>
        public List<KeyValuePair<string, IntPtr>> Dbids = new List<KeyValuePair<string, IntPtr>>();

        /// <summary>The instance's log folder, checkpoint folder, base name and file-name style (JetGetSystemParameter after JetInit).</summary>
        public string LogPath = "";
        public string SystemPath = "";
        public string Base = "edb";
        public int Legacy;

        public HostedInstance()
        {
        }

        public HostedInstance(IntPtr inst, IntPtr sesid)
        {
            Inst = inst;
            Sesid = sesid;
        }
    }
}
