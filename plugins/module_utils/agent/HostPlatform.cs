// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The platform seam: what the agent needs of Windows besides esent.dll. The agent's ops reach the
// machine only through Jet (EsentApi.cs: esent.dll) and an IHostPlatform; WindowsPlatform.cs is the
// one implementation a user runs (Win32, WMI, the SCM, a named pipe), the simulation's test
// platform reaches the simulated host through the native face's extra exports. The reference
// agent's host_platform.HostPlatform and the AgentHost members its ops use map to these members
// one to one (the Python name is given with each).
// C# 5 only.
using System;
using System.Collections.Generic;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;

namespace EsentBackup.Agent
{
    /// <summary>What a store's log and checkpoint headers fix (params.StoreFacts); null members are unknown.</summary>
    public sealed class StoreFacts
    {
        public int[] LegacyStyles = new int[0];
        public int? Legacy;
        public int? LogKb;
        public int? PageSize;
        public bool? Circular;
    }

    /// <summary>A Windows service as the agent sees it (ServiceController): null from Service() when there is none.</summary>
    public sealed class ServiceInfo
    {
        public string ServiceName;
        public bool Running;
        public int ProcessId;
    }

    /// <summary>One message the transport delivered: a protocol request, or (tests only) a control message of the simulation.</summary>
    public sealed class TransportFrame
    {
        /// <summary>A control message of the simulated host (tick, view, settle): never sent by a bootstrap; a Windows pipe never yields one.</summary>
        public bool IsControl;

        /// <summary>UTF-8 JSON text: the request body (the routing line already consumed by the bootstrap) or the control message.</summary>
        public byte[] Payload;
    }

    /// <summary>How requests reach the agent and replies leave it: a named pipe on Windows, stdio in tests.</summary>
    public interface IAgentTransport : IDisposable
    {
        /// <summary>The next message; null when the transport closed (the agent then exits).</summary>
        TransportFrame Receive();

        /// <summary>Send the answer to the message last received.</summary>
        void Send(byte[] reply);
    }

    public interface IHostPlatform
    {
        // -- process identity and time ------------------------------------------------------------

        /// <summary>This process's id (Environment / Process.GetCurrentProcess().Id; Python: platform.pid).</summary>
        int ProcessId { get; }

        /// <summary>The computer name (Environment.MachineName; Python: ahost.name).</summary>
        string ComputerName { get; }

        /// <summary>Seconds since the Unix epoch, UTC (DateTime.UtcNow; Python: clock.time()).</summary>
        double Time();

        /// <summary>Monotonic seconds (Stopwatch; Python: clock.monotonic()). Leases run on it.</summary>
        double Monotonic();

        /// <summary>Process.GetProcessById(pid) finds a running process.</summary>
        bool ProcessAlive(int pid);

        /// <summary>Process.GetProcessById(pid).ProcessName ("" when unknown).</summary>
        string ProcessName(int pid);

        /// <summary>The pids holding a file open (the Restart Manager's RmGetList).</summary>
        int[] Holders(string path);

        /// <summary>The service running in that process, or null (QueryServiceStatusEx; Python: ahost.service_of_pid).</summary>
        string ServiceOfPid(int pid);

        /// <summary>Whether that pid is a running esent.backup agent (its state file names it; Python: ahost.agent_of_pid is not None).</summary>
        bool IsAgentPid(int pid);

        // -- paths ----------------------------------------------------------------------------------

        /// <summary>The path the agent opens for a Windows path (on Windows the \\?\ long form; in the simulation the
        /// local file behind it). Throws AgentFailure -10016 naming option for a drive the host does not have
        /// (Python: ahost.real_path).</summary>
        string RealPath(string winPath, string option);

        /// <summary>RealPath of a backup root, which may be missing but never a file (Python: ahost.dest_folder).</summary>
        string DestFolder(string dest, string option);

        /// <summary>A text with every RealPath written back as Windows names it (Python: ahost.windows_text).</summary>
        string WindowsText(string text);

        // -- files ----------------------------------------------------------------------------------

        /// <summary>The file names in a folder, sorted (Directory.GetFiles); empty when it cannot be listed.</summary>
        string[] ListDir(string folder);

        /// <summary>The archived log generations in a log folder, ascending, under a naming style.</summary>
        int[] LogGenerations(string logPath, string baseName, int legacy);

        /// <summary>FileInfo.Length (-1 when the file is missing).</summary>
        long FileSize(string path);

        /// <summary>Creating path meets ERROR_DISK_FULL on its volume (GetDiskFreeSpaceEx says no room).</summary>
        bool VolumeFull(string path);

        /// <summary>A whole small file read in one go, shared with every writer and deleter; returns a Win32 error.</summary>
        int ReadShared(string path, out byte[] data);

        /// <summary>CopyFileW; returns a Win32 error.</summary>
        int CopyFile(string source, string destination, bool overwrite);

        /// <summary>Directory.CreateDirectory (parents too); returns a Win32 error.</summary>
        int CreateDirectory(string folder);

        /// <summary>Give a set folder the agent just created its protected DACL: SYSTEM, Administrators and the agent's
        /// user, full control, inherited by everything in it, nothing inherited from above (Directory.SetAccessControl).
        /// path is a Windows path or RealPath's long form. Throws (UnauthorizedAccessException, IOException) when
        /// Windows refuses; the copy then fails. The test platform records the call (Python: platform.protect_folder).</summary>
        void ProtectFolder(string path);

        /// <summary>Page size, log file size and circular logging as the store's log headers say; null when there is no log.</summary>
        StoreFacts ReadStoreFacts(string logPath, string systemPath, string baseName);

        /// <summary>Page-aligned memory for JetReadFileInstance (VirtualAlloc on Windows). Dispose it when done.</summary>
        IAlignedBuffer AllocateAligned(int length);

        // -- shadow copies (Win32_ShadowCopy) -------------------------------------------------------

        /// <summary>A shadow copy of one volume ("D"); returns a Win32 error and the shadow id.</summary>
        int CreateShadow(string volume, string tag, out string shadowId);

        /// <summary>Whether the shadow copy still exists.</summary>
        bool ShadowExists(string shadowId);

        /// <summary>A file's size as the shadow shows it (-1 when the shadow or the file is missing).</summary>
        long ShadowFileSize(string shadowId, string path);

        /// <summary>Read a file of the shadow (its device path) at offset into buffer; returns a Win32 error and the count read.</summary>
        int ReadShadow(string shadowId, string path, long offset, byte[] buffer, int count, out int read);

        /// <summary>Delete a shadow copy; returns a Win32 error (2 when unknown).</summary>
        int DeleteShadow(string shadowId);

        // -- services (the Service Control Manager) -------------------------------------------------

        /// <summary>The service of that name, or null when the host has none.</summary>
        ServiceInfo Service(string name);

        /// <summary>Stop a service and wait until it stopped; returns an error code.</summary>
        int StopService(string name);

        /// <summary>Start a service and wait until it runs; returns an error code.</summary>
        int StartService(string name);

        // -- what only the simulation has (Windows answers "not supported") ---------------------------

        /// <summary>Simulation-only facts and actions (the demo workload, the store's ledger, page checks).
        /// The Windows platform returns null for every call; the test platform answers through the native face.</summary>
        JsonObject SimOnly(string what, JsonObject args);
    }
}
