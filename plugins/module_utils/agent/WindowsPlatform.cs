// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The Windows side of the platform seam (IHostPlatform, HostPlatform.cs): what the agent needs of
// Windows besides esent.dll, with the real calls. Ported from the reference agent's
// esesim/agent/host_platform.py and the AgentHost members its ops use (esesim/agent/simhost.py:
// real_path, dest_folder, windows_text, service_of_pid, agent_of_pid); the log names follow
// esesim/engine/lognames.py, the store facts esesim/engine/params.py. The imports and WMI calls are
// in one table, Win32 (WindowsNative.cs); the log-name rules, path forms and error mappings in
// WindowsPlatformRules.cs. Unproven until docs/windows-validation.md runs on a host.
//
// Paths: the ops hand these members Windows paths ("D:\db\edb.log") or RealPath's long form
// ("\\?\D:\db\edb.log"); both are accepted. Long-form paths through System.IO need .NET
// Framework 4.6.2 or later (earlier versions refuse "\\?\" in FileStream, Directory and FileInfo).
//
// References beyond Add-Type's defaults: System.Management.dll (WMI) and System.ServiceProcess.dll.
//
// Compile checks (both must pass; from the repository root; while agent types other files provide
// are missing, append throw-away stubs of them, e.g. /tmp/stubs-win/*.cs, to both):
//  a) mono's own assemblies:
//     mcs -langversion:5 -warnaserror+ -target:library -r:System.Management -r:System.ServiceProcess
//         -out:/tmp/win.dll plugins/module_utils/*.cs plugins/module_utils/agent/*.cs
//  b) the .NET Framework 4.5 reference assemblies (an API 4.5 lacks fails the build):
//     tools/check_reference_build.sh
//     which runs: mcs -langversion:5 -warnaserror+ -target:library -nostdlib -noconfig
//         -r:/usr/lib/mono/4.5-api/mscorlib.dll -r:/usr/lib/mono/4.5-api/System.dll
//         -r:/usr/lib/mono/4.5-api/System.Core.dll -r:/usr/lib/mono/4.5-api/System.Management.dll
//         -r:/usr/lib/mono/4.5-api/System.ServiceProcess.dll -out:<tmp>/reference.dll
//         plugins/module_utils/*.cs plugins/module_utils/agent/*.cs
//     (tests/unit/csharp/test_reference_build.py runs it and proves it refuses a newer API).
// C# 5 only.
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Management;
using System.Runtime.InteropServices;
using System.Security.AccessControl;
using System.Security.Principal;
using System.ServiceProcess;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;

namespace EsentBackup.Agent
{
    /// <summary>IHostPlatform on Windows: Win32, the Restart Manager, WMI shadow copies, the Service Control Manager.</summary>
    public sealed partial class WindowsPlatform : IHostPlatform
    {
        /// <summary>The prefix that makes Win32 file calls take a path as it is (no MAX_PATH, no normalisation).</summary>
        public const string LongPrefix = @"\\?\";

        /// <summary>How long StopService and StartService wait for the service to reach the state.</summary>
        public static readonly TimeSpan ServiceWait = TimeSpan.FromSeconds(60);

        // A state file whose pid runs a process started this long after the agent recorded itself
        // names a reused pid, not that agent (the clocks are the same machine's; this is slack).
        private const double PidReuseSlackSeconds = 5.0;

        private const uint FiveDigitGenMax = 0xFFFFF;                 // lognames: 5 digits up to here (bit 0x2)
        private const int JET_bitESE98FileNames = 0x1;                // .log/.chk instead of .jtx/.jcp
        private const int JET_bitEightDotThreeSoftCompat = 0x2;       // 5-digit generations while they fit

        private static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        private static readonly Regex LongDrivePrefix = new Regex(@"\\\\\?\\(?=[A-Za-z]:)");
        private static readonly Regex LongUncPrefix = new Regex(@"\\\\\?\\UNC\\", RegexOptions.IgnoreCase);

        private readonly int processId;
        private readonly string computerName;
        private readonly object shadowLock = new object();
        private readonly Dictionary<string, string> shadowDevices = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public WindowsPlatform()
        {
            using (Process me = Process.GetCurrentProcess())
                processId = me.Id;
            computerName = Environment.MachineName;
        }

        // -- process identity and time ----------------------------------------------------------------

        public int ProcessId { get { return processId; } }

        public string ComputerName { get { return computerName; } }

        public double Time()
        {
            return (DateTime.UtcNow - Epoch).TotalSeconds;
        }

        public double Monotonic()
        {
            return (double)Stopwatch.GetTimestamp() / Stopwatch.Frequency;
        }

        public bool ProcessAlive(int pid)
        {
            if (pid <= 0)
                return false;
            try
            {
                using (Process p = Process.GetProcessById(pid))
                    return true;
            }
            catch (ArgumentException)
            {
                return false;   // no process with that id runs
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }

        /// <summary>The image file name ("EseDemoService.exe", as the reference agent names processes); Process.ProcessName
        /// (no ".exe") when the image cannot be queried; "" when the process is gone.</summary>
        public string ProcessName(int pid)
        {
            if (pid <= 0)
                return "";
            using (Win32.SafeKernelHandle h = Win32.OpenProcess(Win32.PROCESS_QUERY_LIMITED_INFORMATION, false, (uint)pid))
            {
                if (!h.IsInvalid)
                {
                    StringBuilder image = new StringBuilder(1024);
                    uint size = (uint)image.Capacity;
                    if (Win32.QueryFullProcessImageNameW(h, 0, image, ref size) && size > 0)
                    {
                        string full = image.ToString(0, (int)size);
                        return full.Substring(full.LastIndexOf('\\') + 1);
                    }
                }
            }
            try
            {
                using (Process p = Process.GetProcessById(pid))
                    return p.ProcessName;
            }
            catch (ArgumentException)
            {
                return "";
            }
            catch (InvalidOperationException)
            {
                return "";
            }
        }

        /// <summary>The pids holding the file open, ascending (the Restart Manager's RmGetList); empty when it cannot say.</summary>
        public int[] Holders(string path)
        {
            // The Restart Manager matches the names its callers register; give it the path as Windows
            // names it, without the long prefix (unproven: whether it takes "\\?\" names too).
            string file = StripLong(path);
            uint session;
            StringBuilder key = new StringBuilder(Win32.CCH_RM_SESSION_KEY + 1);
            if (Win32.RmStartSession(out session, 0, key) != Win32.ERROR_SUCCESS)
                return new int[0];
            try
            {
                if (Win32.RmRegisterResources(session, 1, new string[] { file }, 0, null, 0, null) != Win32.ERROR_SUCCESS)
                    return new int[0];
                Win32.RM_PROCESS_INFO[] infos = null;
                // A process may open the file between the sizing call and the real one: retry a few times.
                for (int attempt = 0; attempt < 5; attempt++)
                {
                    uint needed;
                    uint reasons;
                    uint count = infos == null ? 0 : (uint)infos.Length;
                    int err = Win32.RmGetList(session, out needed, ref count, infos, out reasons);
                    if (err == Win32.ERROR_SUCCESS)
                    {
                        SortedSet<int> pids = new SortedSet<int>();
                        for (int i = 0; i < count && infos != null; i++)
                            pids.Add((int)infos[i].Process.dwProcessId);
                        int[] result = new int[pids.Count];
                        pids.CopyTo(result);
                        return result;
                    }
                    if (err != Win32.ERROR_MORE_DATA)
                        return new int[0];
                    infos = new Win32.RM_PROCESS_INFO[needed + 2];
                }
                return new int[0];
            }
            finally
            {
                Win32.RmEndSession(session);
            }
        }

        /// <summary>The name of the Win32 service running in that process, or null (EnumServicesStatusExW's
        /// SERVICE_STATUS_PROCESS.dwProcessId; the first by name when a svchost process runs several).</summary>
        public string ServiceOfPid(int pid)
        {
            if (pid <= 0)
                return null;
            using (Win32.SafeServiceHandle scm = Win32.OpenSCManagerW(null, null, Win32.SC_MANAGER_CONNECT | Win32.SC_MANAGER_ENUMERATE_SERVICE))
            {
                if (scm.IsInvalid)
                    return null;
                int recordSize = Marshal.SizeOf(typeof(Win32.ENUM_SERVICE_STATUS_PROCESSW));
                uint bufferSize = 64 * 1024;
                IntPtr buffer = Marshal.AllocHGlobal((int)bufferSize);
                try
                {
                    uint resume = 0;
                    while (true)
                    {
                        uint needed;
                        uint returned;
                        bool ok = Win32.EnumServicesStatusExW(scm, Win32.SC_ENUM_PROCESS_INFO, Win32.SERVICE_WIN32, Win32.SERVICE_ACTIVE,
                            buffer, bufferSize, out needed, out returned, ref resume, null);
                        int err = ok ? Win32.ERROR_SUCCESS : Marshal.GetLastWin32Error();
                        if (!ok && err != Win32.ERROR_MORE_DATA)
                            return null;
                        for (uint i = 0; i < returned; i++)
                        {
                            IntPtr at = new IntPtr(buffer.ToInt64() + (long)i * recordSize);
                            Win32.ENUM_SERVICE_STATUS_PROCESSW record =
                                (Win32.ENUM_SERVICE_STATUS_PROCESSW)Marshal.PtrToStructure(at, typeof(Win32.ENUM_SERVICE_STATUS_PROCESSW));
                            if (record.ServiceStatusProcess.dwProcessId == (uint)pid)
                                return Marshal.PtrToStringUni(record.lpServiceName);
                        }
                        if (ok)
                            return null;
                        if (returned == 0)
                        {
                            // Not even one record fitted: grow to what the call asked for (once; then give up).
                            if (needed <= bufferSize)
                                return null;
                            Marshal.FreeHGlobal(buffer);
                            buffer = IntPtr.Zero;
                            bufferSize = needed;
                            buffer = Marshal.AllocHGlobal((int)bufferSize);
                        }
                    }
                }
                finally
                {
                    if (buffer != IntPtr.Zero)
                        Marshal.FreeHGlobal(buffer);
                }
            }
        }

        /// <summary>Whether a state file in %ProgramData%\esent.backup\agents names this pid and that process runs
        /// (and started before the agent recorded itself: a later process got a reused pid).</summary>
        public bool IsAgentPid(int pid)
        {
            if (pid <= 0 || !ProcessAlive(pid))
                return false;
            string[] files;
            try
            {
                files = Directory.GetFiles(FileApiPath(AgentsFolder()), "*.json");
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
            double? started = ProcessStartSeconds(pid);
            foreach (string file in files)
            {
                if (!file.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                    continue;   // the pattern also matches longer extensions on 8.3 names
                JsonObject doc;
                try
                {
                    doc = Json.Parse(File.ReadAllText(file, Encoding.UTF8)) as JsonObject;
                }
                catch (IOException)
                {
                    continue;
                }
                catch (UnauthorizedAccessException)
                {
                    continue;
                }
                catch (FormatException)
                {
                    continue;   // half-written (the writer renames a complete temp file over it)
                }
                if (doc == null || !IsNumber(doc["pid"]) || Convert.ToInt64(doc["pid"]) != pid)
                    continue;
                object recorded = doc["started"];
                if (started.HasValue && IsNumber(recorded) && started.Value > Convert.ToDouble(recorded) + PidReuseSlackSeconds)
                    continue;
                return true;
            }
            return false;
        }

        // -- paths ------------------------------------------------------------------------------------

        /// <summary>The long form ("\\?\D:\db\x.edb") of a Windows path, normalised as esesim's volumes.normalize does
        /// (slashes, upper-case drive, no "." or ".." parts); AgentFailure -10016 for a drive this computer lacks.</summary>
        public string RealPath(string winPath, string option)
        {
            string win = StripLong(winPath ?? "");
            string p = Normalise(win);
            if (p.Length < 3 || p[1] != ':' || !DriveExists(p[0]))
            {
                string drive;
                if (win.Length >= 2 && win[1] == ':')
                    drive = win.Substring(0, 2);
                else
                {
                    string first = win.Split('\\')[0];
                    drive = first.Length > 0 ? first : win;
                }
                string drives = DriveList();
                string where = String.IsNullOrEmpty(option) ? "" : option + ": ";
                string fix = String.IsNullOrEmpty(option) ? "Fix the path" : "Fix " + option;
                throw new AgentFailure(Err.InvalidOption,
                    String.Format("{0}{1} is on drive {2}, which {3} does not have (its drives: {4})", where, win, drive, computerName, drives),
                    String.Format("{0}: give a path on one of the drives of {1} ({2}).", fix, computerName, drives));
            }
            return LongPrefix + p;
        }

        /// <summary>RealPath of a backup root, which may be missing (it is created) but never a file (simhost.dest_folder).</summary>
        public string DestFolder(string dest, string option)
        {
            if (String.IsNullOrEmpty(option))
                option = "dest";
            string real = RealPath(dest, option);
            string win = StripLong(dest);
            string[] parts = win.Replace('/', '\\').Split(new char[] { '\\' }, StringSplitOptions.RemoveEmptyEntries);
            for (int n = parts.Length; n > 1; n--)
            {
                string part = String.Join("\\", parts, 0, n);
                string local = RealPath(part, option);
                if (Directory.Exists(local))
                    break;
                if (File.Exists(local))
                {
                    string what = n == parts.Length ? dest + " is a file, not a folder" : part + " (in " + dest + ") is a file, not a folder";
                    throw new AgentFailure(Err.InvalidOption, option + ": " + what,
                        "Fix " + option + ": name a folder of the host (the agent creates one that is missing), not the file " + part + ".");
                }
            }
            return real;
        }

        /// <summary>The text with every long-form path written as Windows names it: "\\?\D:\x" -> "D:\x", "\\?\UNC\s\x" -> "\\s\x".</summary>
        public string WindowsText(string text)
        {
            if (text == null)
                return null;
            return LongDrivePrefix.Replace(LongUncPrefix.Replace(text, @"\\"), "");
        }

        // -- files ------------------------------------------------------------------------------------

        /// <summary>The file names in a folder (Directory.GetFiles), sorted ordinal-ignore-case; empty when it cannot be listed.</summary>
        public string[] ListDir(string folder)
        {
            string[] full;
            try
            {
                full = Directory.GetFiles(FileApiPath(folder));
            }
            catch (IOException)
            {
                return new string[0];
            }
            catch (UnauthorizedAccessException)
            {
                return new string[0];
            }
            catch (ArgumentException)
            {
                return new string[0];
            }
            catch (NotSupportedException)
            {
                return new string[0];
            }
            string[] names = new string[full.Length];
            for (int i = 0; i < full.Length; i++)
                names[i] = full[i].Substring(full[i].LastIndexOf('\\') + 1);
            Array.Sort(names, StringComparer.OrdinalIgnoreCase);
            return names;
        }

        /// <summary>The archived generations in a log folder, ascending: its file names parsed under the naming style.</summary>
        public int[] LogGenerations(string logPath, string baseName, int legacy)
        {
            List<int> gens = new List<int>();
            foreach (string name in ListDir(logPath))
            {
                int gen;
                if (TryParseLogFileName(name, baseName, legacy, out gen))
                    gens.Add(gen);
            }
            gens.Sort();
            return gens.ToArray();
        }

        public long FileSize(string path)
        {
            try
            {
                FileInfo info = new FileInfo(FileApiPath(path));
                return info.Exists ? info.Length : -1;
            }
            catch (IOException)
            {
                return -1;
            }
            catch (UnauthorizedAccessException)
            {
                return -1;
            }
            catch (ArgumentException)
            {
                return -1;
            }
            catch (NotSupportedException)
            {
                return -1;
            }
        }

        /// <summary>GetDiskFreeSpaceExW on the path's volume reports no byte free for this caller (quotas included).</summary>
        public bool VolumeFull(string path)
        {
            string p = Normalise(StripLong(path ?? ""));
            if (p.Length < 3 || p[1] != ':')
                return false;
            ulong free;
            ulong total;
            ulong totalFree;
            if (!Win32.GetDiskFreeSpaceExW(p.Substring(0, 3), out free, out total, out totalFree))
                return false;
            return free == 0;
        }

        public int ReadShared(string path, out byte[] data)
        {
            data = new byte[0];
            try
            {
                using (FileStream fs = new FileStream(FileApiPath(path), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                using (MemoryStream all = new MemoryStream())
                {
                    byte[] chunk = new byte[64 * 1024];
                    int n;
                    while ((n = fs.Read(chunk, 0, chunk.Length)) > 0)
                        all.Write(chunk, 0, n);
                    data = all.ToArray();
                }
                return Win32.ERROR_SUCCESS;
            }
            catch (IOException e)
            {
                return ErrorOf(e);
            }
            catch (UnauthorizedAccessException e)
            {
                return ErrorOf(e);
            }
            catch (ArgumentException e)
            {
                return ErrorOf(e);
            }
            catch (NotSupportedException e)
            {
                return ErrorOf(e);
            }
        }

        public int CopyFile(string source, string destination, bool overwrite)
        {
            if (Win32.CopyFileW(FileApiPath(source), FileApiPath(destination), !overwrite))
                return Win32.ERROR_SUCCESS;
            return Marshal.GetLastWin32Error();
        }

        public int CreateDirectory(string folder)
        {
            try
            {
                Directory.CreateDirectory(FileApiPath(folder));
                return Win32.ERROR_SUCCESS;
            }
            catch (IOException e)
            {
                return ErrorOf(e);
            }
            catch (UnauthorizedAccessException e)
            {
                return ErrorOf(e);
            }
            catch (ArgumentException e)
            {
                return ErrorOf(e);
            }
            catch (NotSupportedException e)
            {
                return ErrorOf(e);
            }
        }

        /// <summary>A set folder's protected DACL (FolderSecurity with this process's user), set through the long form of
        /// the path; throws what Directory.SetAccessControl throws (the copy then fails with the OS error).</summary>
        public void ProtectFolder(string path)
        {
            using (WindowsIdentity me = WindowsIdentity.GetCurrent())
                Directory.SetAccessControl(FileApiPath(path), FolderSecurity(me.User));
        }

        /// <summary>The store's fixed parameters from its file names and sizes (params.read_store_facts without the header
        /// read); null when the folders hold no log stream of that base name.</summary>
        public StoreFacts ReadStoreFacts(string logPath, string systemPath, string baseName)
        {
            List<string> names = new List<string>(ListDir(logPath));
            if (!String.Equals(logPath, systemPath, StringComparison.OrdinalIgnoreCase))
                names.AddRange(ListDir(systemPath));
            List<int> styles = DetectStyles(names, baseName);
            if (styles.Count == 0)
                return null;
            // What the reference reads besides: the header of the current log (edb.log / edb.jtx, opened
            // FILE_SHARE_READ | FILE_SHARE_WRITE; a running instance holds it with share mode 0, so then the
            // newest archived generation's), as esentutl /ml does. It fixes the file-name style among the
            // candidates the names allow (Legacy), the page size (PageSize) and circular logging (Circular),
            // and gives the log file size exactly. The LGFILEHDR layout is not documented by Microsoft (only
            // the open-source ESE has it), so until a host confirms it the agent knows only what names and
            // sizes say; ESE itself then refuses a wrong page size (-1213) or log size (-541) at JetInit.
            long size = -1;
            for (int i = styles.Count - 1; i >= 0; i--)
                size = Math.Max(size, FileSize(JoinPath(logPath, baseName + LogExtension(styles[i]))));
            StoreFacts facts = new StoreFacts();
            facts.LegacyStyles = styles.ToArray();
            facts.Legacy = null;
            facts.LogKb = size > 0 ? (int?)(int)(size / 1024) : null;
            facts.PageSize = null;
            facts.Circular = null;
            return facts;
        }

        public IAlignedBuffer AllocateAligned(int length)
        {
            return new VirtualAllocBuffer(length);
        }

        // -- shadow copies (Win32_ShadowCopy through WMI) ---------------------------------------------

        /// <summary>Win32_ShadowCopy.Create(Volume = "D:\", Context = "ClientAccessible"); the method's return value
        /// mapped to a Win32 error. tag has no place in Win32_ShadowCopy: the agent's state file records which
        /// shadows are its own (docs/dev/safety-rules.md rule 11).</summary>
        public int CreateShadow(string volume, string tag, out string shadowId)
        {
            shadowId = "";
            string letter = (volume ?? "").TrimEnd(':', '\\').ToUpperInvariant();
            if (letter.Length != 1 || !DriveExists(letter[0]))
                return Win32.ERROR_PATH_NOT_FOUND;
            try
            {
                string id;
                uint rc = Win32.ShadowCopyCreate(letter + ":\\", Win32.ShadowCopyContext, out id);
                if (rc != 0)
                    return ShadowCreateError(rc);
                if (String.IsNullOrEmpty(id))
                    return Win32.ERROR_INTERNAL_ERROR;
                shadowId = id;
                return Win32.ERROR_SUCCESS;
            }
            catch (ManagementException e)
            {
                return WmiError(e);
            }
            catch (COMException e)
            {
                return HResultError(e.ErrorCode);
            }
            catch (UnauthorizedAccessException)
            {
                return Win32.ERROR_ACCESS_DENIED;
            }
        }

        /// <summary>Whether WMI still lists the shadow copy (false also when WMI cannot be asked).</summary>
        public bool ShadowExists(string shadowId)
        {
            if (!IsShadowId(shadowId))
                return false;
            try
            {
                using (ManagementObject shadow = Win32.ShadowCopyFind(shadowId))
                    return shadow != null;
            }
            catch (ManagementException)
            {
                return false;
            }
            catch (COMException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        }

        public long ShadowFileSize(string shadowId, string path)
        {
            string file = ShadowFilePath(shadowId, path);
            if (file == null)
                return -1;
            using (SafeFileHandle h = Win32.CreateFileW(file, Win32.FILE_READ_ATTRIBUTES,
                Win32.FILE_SHARE_READ | Win32.FILE_SHARE_WRITE | Win32.FILE_SHARE_DELETE, IntPtr.Zero, Win32.OPEN_EXISTING,
                Win32.FILE_ATTRIBUTE_NORMAL, IntPtr.Zero))
            {
                long size;
                if (h.IsInvalid || !Win32.GetFileSizeEx(h, out size))
                    return -1;
                return size;
            }
        }

        /// <summary>Read count bytes at offset of a file of the shadow into buffer (from index 0): one positional ReadFile
        /// on "&lt;DeviceObject&gt;\&lt;path without drive&gt;"; fewer bytes (0 past the end) at the end of the file.</summary>
        public int ReadShadow(string shadowId, string path, long offset, byte[] buffer, int count, out int read)
        {
            read = 0;
            if (buffer == null || count < 0 || count > buffer.Length || offset < 0)
                return Win32.ERROR_INVALID_PARAMETER;
            string file = ShadowFilePath(shadowId, path);
            if (file == null)
                return Win32.ERROR_FILE_NOT_FOUND;   // as the reference: an unknown or deleted shadow
            if (count == 0)
                return Win32.ERROR_SUCCESS;
            // Opened per call: a handle kept across calls would outlive a DeleteShadow of another thread.
            using (SafeFileHandle h = Win32.CreateFileW(file, Win32.GENERIC_READ,
                Win32.FILE_SHARE_READ | Win32.FILE_SHARE_WRITE | Win32.FILE_SHARE_DELETE, IntPtr.Zero, Win32.OPEN_EXISTING,
                Win32.FILE_ATTRIBUTE_NORMAL, IntPtr.Zero))
            {
                if (h.IsInvalid)
                    return Marshal.GetLastWin32Error();
                NativeOverlapped at = new NativeOverlapped();
                at.OffsetLow = unchecked((int)(offset & 0xFFFFFFFFL));
                at.OffsetHigh = unchecked((int)(offset >> 32));
                uint n;
                if (!Win32.ReadFile(h, buffer, (uint)count, out n, ref at))
                {
                    int err = Marshal.GetLastWin32Error();
                    return err == Win32.ERROR_HANDLE_EOF ? Win32.ERROR_SUCCESS : err;
                }
                read = (int)n;
                return Win32.ERROR_SUCCESS;
            }
        }

        /// <summary>Delete the shadow copy (the WMI object's Delete_); ERROR_FILE_NOT_FOUND (2) when WMI does not list it.</summary>
        public int DeleteShadow(string shadowId)
        {
            if (!IsShadowId(shadowId))
                return Win32.ERROR_FILE_NOT_FOUND;
            try
            {
                using (ManagementObject shadow = Win32.ShadowCopyFind(shadowId))
                {
                    if (shadow == null)
                    {
                        ForgetShadow(shadowId);
                        return Win32.ERROR_FILE_NOT_FOUND;
                    }
                    Win32.ShadowCopyDelete(shadow);
                }
                ForgetShadow(shadowId);
                return Win32.ERROR_SUCCESS;
            }
            catch (ManagementException e)
            {
                return WmiError(e);
            }
            catch (COMException e)
            {
                return HResultError(e.ErrorCode);
            }
            catch (UnauthorizedAccessException)
            {
                return Win32.ERROR_ACCESS_DENIED;
            }
        }

        // -- services (System.ServiceProcess.ServiceController) ---------------------------------------

        /// <summary>The service (its key name, whether it runs, its process id from QueryServiceStatusEx); null when the
        /// host has none. Any other refusal of the Service Control Manager is an AgentFailure naming its Win32 error.</summary>
        public ServiceInfo Service(string name)
        {
            if (String.IsNullOrEmpty(name))
                return null;
            try
            {
                using (ServiceController sc = new ServiceController(name))
                {
                    ServiceControllerStatus status = sc.Status;   // throws for a service that does not exist
                    ServiceInfo info = new ServiceInfo();
                    info.ServiceName = sc.ServiceName;
                    info.Running = status == ServiceControllerStatus.Running;
                    info.ProcessId = ServiceProcessId(sc.ServiceName);
                    return info;
                }
            }
            catch (ArgumentException)
            {
                return null;   // not a valid service name: no service has it
            }
            catch (InvalidOperationException e)
            {
                int err = ServiceError(e);
                if (err == Win32.ERROR_SERVICE_DOES_NOT_EXIST)
                    return null;
                throw new AgentFailure(Err.InvalidOption,
                    String.Format("service {0}: the Service Control Manager refused to report it (Win32 error {1})", name, err),
                    "Check instance.owner_service, and that the agent runs as an Administrator.");
            }
        }

        /// <summary>ServiceController.Stop, then WaitForStatus(Stopped, 60 s); 0 also for a service already stopped,
        /// ERROR_SERVICE_REQUEST_TIMEOUT (1053) when it did not stop in time, ERROR_DEPENDENT_SERVICES_RUNNING (1051)
        /// when other running services depend on it.</summary>
        public int StopService(string name)
        {
            return ServiceControl(delegate
            {
                using (ServiceController sc = new ServiceController(name))
                {
                    if (sc.Status == ServiceControllerStatus.Stopped)
                        return Win32.ERROR_SUCCESS;
                    // ServiceController.Stop would stop the running dependents first, and StartService starts only
                    // this service: they would stay down (docs/dev/safety-rules.md rule 14). Refuse as the SCM's own
                    // ControlService(SERVICE_CONTROL_STOP) does.
                    foreach (ServiceController dependent in sc.DependentServices)
                    {
                        using (dependent)
                        {
                            if (dependent.Status != ServiceControllerStatus.Stopped)
                                return Win32.ERROR_DEPENDENT_SERVICES_RUNNING;
                        }
                    }
                    if (sc.Status != ServiceControllerStatus.StopPending)
                        sc.Stop();
                    sc.WaitForStatus(ServiceControllerStatus.Stopped, ServiceWait);
                    return Win32.ERROR_SUCCESS;
                }
            }, 1062);   // ERROR_SERVICE_NOT_ACTIVE: it stopped meanwhile
        }

        /// <summary>ServiceController.Start, then WaitForStatus(Running, 60 s); 0 also for a service already running.</summary>
        public int StartService(string name)
        {
            return ServiceControl(delegate
            {
                using (ServiceController sc = new ServiceController(name))
                {
                    if (sc.Status == ServiceControllerStatus.Running)
                        return Win32.ERROR_SUCCESS;
                    if (sc.Status != ServiceControllerStatus.StartPending)
                        sc.Start();
                    sc.WaitForStatus(ServiceControllerStatus.Running, ServiceWait);
                    return Win32.ERROR_SUCCESS;
                }
            }, 1056);   // ERROR_SERVICE_ALREADY_RUNNING: it started meanwhile
        }

        /// <summary>One SCM action with its failures as Win32 errors; doneMeanwhile (the service reached the state
        /// meanwhile) counts as success.</summary>
        private static int ServiceControl(Func<int> action, int doneMeanwhile)
        {
            try
            {
                return action();
            }
            catch (System.ServiceProcess.TimeoutException)
            {
                return Win32.ERROR_SERVICE_REQUEST_TIMEOUT;
            }
            catch (ArgumentException)
            {
                return Win32.ERROR_INVALID_NAME;
            }
            catch (InvalidOperationException e)
            {
                int err = ServiceError(e);
                return err == doneMeanwhile ? Win32.ERROR_SUCCESS : err;
            }
        }

        // -- what only the simulation has -------------------------------------------------------------

        /// <summary>Always null: the demo workload, the store's ledger and page checks exist only in the simulation.</summary>
        public JsonObject SimOnly(string what, JsonObject args)
        {
            return null;
        }
    }
}
