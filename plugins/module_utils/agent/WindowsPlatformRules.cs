// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The second half of WindowsPlatform (WindowsPlatform.cs): the rules it applies without calling
// Windows (log names as esesim/engine/lognames.py gives them, path forms as esesim/engine/volumes.py
// normalises them, the long form every file call gets, the set folders' DACL, Win32 error mappings),
// and its private helpers. The log-name and path rules are checked against the Python functions
// under mono (tests/unit/csharp/test_windows_platform.py); the long form and the folder DACL by
// tests/unit/csharp/test_windows_security.py.
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

namespace EsentBackup.Agent
{
    public sealed partial class WindowsPlatform
    {
        // -- log names (esesim/engine/lognames.py) ----------------------------------------------------

        /// <summary>".log" with JET_bitESE98FileNames (0x1), else ".jtx".</summary>
        public static string LogExtension(int legacy)
        {
            return (legacy & JET_bitESE98FileNames) != 0 ? ".log" : ".jtx";
        }

        /// <summary>".chk" with JET_bitESE98FileNames (0x1), else ".jcp".</summary>
        public static string CheckpointExtension(int legacy)
        {
            return (legacy & JET_bitESE98FileNames) != 0 ? ".chk" : ".jcp";
        }

        /// <summary>5 hex digits with JET_bitEightDotThreeSoftCompat (0x2) while gen &lt;= 0xFFFFF, else 8.</summary>
        public static int GenerationDigits(long gen, int legacy)
        {
            return (legacy & JET_bitEightDotThreeSoftCompat) != 0 && gen <= FiveDigitGenMax ? 5 : 8;
        }

        /// <summary>The generation of an archived log name under this naming style (lognames.parse_log_file_name): the base
        /// name and extension in any case, upper-case hex digits, exactly the width the style gives that generation.</summary>
        public static bool TryParseLogFileName(string name, string baseName, int legacy, out int gen)
        {
            gen = 0;
            string ext = LogExtension(legacy);
            if (name == null || baseName == null || name.Length < baseName.Length + ext.Length)
                return false;
            if (!name.StartsWith(baseName, StringComparison.OrdinalIgnoreCase) || !name.EndsWith(ext, StringComparison.OrdinalIgnoreCase))
                return false;
            string digits = name.Substring(baseName.Length, name.Length - baseName.Length - ext.Length);
            if (digits.Length != 5 && digits.Length != 8)
                return false;
            foreach (char c in digits)
                if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
                    return false;
            long value = Convert.ToInt64(digits, 16);
            // Beyond Int32.MaxValue: not a generation ESE writes (LGPOS.lGeneration is a signed 32-bit LONG).
            if (value == 0 || value > Int32.MaxValue || digits.Length != GenerationDigits(value, legacy))
                return false;
            gen = (int)value;
            return true;
        }

        /// <summary>The JET_paramLegacyFileNames values (0x0..0x3, ascending) whose log or checkpoint names appear among the names.</summary>
        public static List<int> DetectStyles(IList<string> names, string baseName)
        {
            List<int> found = new List<int>();
            for (int legacy = 0; legacy <= 3; legacy++)
            {
                string current = baseName + LogExtension(legacy);
                string checkpoint = baseName + CheckpointExtension(legacy);
                foreach (string n in names)
                {
                    int gen;
                    if (String.Equals(n, current, StringComparison.OrdinalIgnoreCase) || String.Equals(n, checkpoint, StringComparison.OrdinalIgnoreCase)
                        || TryParseLogFileName(n, baseName, legacy, out gen))
                    {
                        found.Add(legacy);
                        break;
                    }
                }
            }
            return found;
        }

        // -- helpers ----------------------------------------------------------------------------------

        /// <summary>esesim's volumes.normalize: backslashes, upper-case drive, no "." or ".." parts; not a drive path: as given.</summary>
        public static string Normalise(string path)
        {
            string p = (path ?? "").Replace('/', '\\');
            if (p.Length < 2 || p[1] != ':')
                return p;
            List<string> parts = new List<string>();
            foreach (string part in p.Substring(2).Split('\\'))
            {
                if (part.Length == 0 || part == ".")
                    continue;
                if (part == "..")
                {
                    if (parts.Count > 0)
                        parts.RemoveAt(parts.Count - 1);
                    continue;
                }
                parts.Add(part);
            }
            return Char.ToUpperInvariant(p[0]) + ":\\" + String.Join("\\", parts.ToArray());
        }

        /// <summary>The path without its long prefix ("\\?\D:\x" -> "D:\x", "\\?\UNC\s\x" -> "\\s\x").</summary>
        public static string StripLong(string path)
        {
            if (path == null)
                return null;
            if (path.StartsWith(@"\\?\UNC\", StringComparison.OrdinalIgnoreCase))
                return @"\\" + path.Substring(8);
            if (path.StartsWith(LongPrefix, StringComparison.Ordinal))
                return path.Substring(LongPrefix.Length);
            return path;
        }

        /// <summary>What every file call of the platform opens: the long form, so no path is cut at MAX_PATH (260) or
        /// re-parsed: a drive path normalised ("d:/x/../y" -> "\\?\D:\y"), a UNC path as "\\?\UNC\server\share\..."
        /// (slashes turned round); a path already long ("\\?\..."), a device path ("\\.\...") and a relative path
        /// (which the long form cannot express) as given.</summary>
        public static string FileApiPath(string path)
        {
            if (path == null || path.StartsWith(LongPrefix, StringComparison.Ordinal) || path.StartsWith(@"\\.\", StringComparison.Ordinal))
                return path;
            string p = Normalise(path);
            if (p.Length >= 3 && p[1] == ':' && p[2] == '\\')
                return LongPrefix + p;
            if (p.StartsWith(@"\\", StringComparison.Ordinal) && p.Length > 2 && p[2] != '\\' && p[2] != '?' && p[2] != '.')
                return LongPrefix + @"UNC\" + p.Substring(2);
            return path;
        }

        /// <summary>A set folder's DACL: protected (nothing inherited from the backup root), SYSTEM, Administrators and
        /// the agent's user with full control, each inherited by the files and folders the set holds. The owner stays
        /// whoever created the folder (the agent's user, or Administrators for an elevated one).</summary>
        public static DirectorySecurity FolderSecurity(SecurityIdentifier agentUser)
        {
            if (agentUser == null)
                throw new ArgumentNullException("agentUser");
            DirectorySecurity security = new DirectorySecurity();
            security.SetAccessRuleProtection(true, false);
            InheritanceFlags inherit = InheritanceFlags.ContainerInherit | InheritanceFlags.ObjectInherit;
            foreach (SecurityIdentifier sid in new SecurityIdentifier[] {
                new SecurityIdentifier(WellKnownSidType.LocalSystemSid, null),
                new SecurityIdentifier(WellKnownSidType.BuiltinAdministratorsSid, null),
                agentUser })
                security.AddAccessRule(new FileSystemAccessRule(sid, FileSystemRights.FullControl, inherit, PropagationFlags.None,
                    AccessControlType.Allow));
            return security;
        }

        private static string JoinPath(string folder, string name)
        {
            return (folder ?? "").TrimEnd('\\', '/') + "\\" + name;
        }

        private static bool DriveExists(char letter)
        {
            char up = Char.ToUpperInvariant(letter);
            if (up < 'A' || up > 'Z')
                return false;
            return (Win32.GetLogicalDrives() & (1u << (up - 'A'))) != 0;
        }

        /// <summary>"C:, D:": the drive letters this computer has, as the reference lists its volumes.</summary>
        private static string DriveList()
        {
            uint mask = Win32.GetLogicalDrives();
            List<string> drives = new List<string>();
            for (int i = 0; i < 26; i++)
                if ((mask & (1u << i)) != 0)
                    drives.Add((char)('A' + i) + ":");
            return String.Join(", ", drives.ToArray());
        }

        private static string AgentsFolder()
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), @"esent.backup\agents");
        }

        private static bool IsNumber(object value)
        {
            return value is long || value is double;
        }

        /// <summary>When that process started, in epoch seconds; null when Windows does not say (access, gone).</summary>
        private static double? ProcessStartSeconds(int pid)
        {
            try
            {
                using (Process p = Process.GetProcessById(pid))
                    return (p.StartTime.ToUniversalTime() - Epoch).TotalSeconds;
            }
            catch (ArgumentException)
            {
                return null;
            }
            catch (InvalidOperationException)
            {
                return null;
            }
            catch (Win32Exception)
            {
                return null;
            }
            catch (NotSupportedException)
            {
                return null;
            }
        }

        /// <summary>The process id of a running service (QueryServiceStatusEx); 0 when stopped or unknown.</summary>
        private static int ServiceProcessId(string name)
        {
            using (Win32.SafeServiceHandle scm = Win32.OpenSCManagerW(null, null, Win32.SC_MANAGER_CONNECT))
            {
                if (scm.IsInvalid)
                    return 0;
                using (Win32.SafeServiceHandle svc = Win32.OpenServiceW(scm, name, Win32.SERVICE_QUERY_STATUS))
                {
                    if (svc.IsInvalid)
                        return 0;
                    Win32.SERVICE_STATUS_PROCESS status;
                    uint needed;
                    if (!Win32.QueryServiceStatusEx(svc, Win32.SC_STATUS_PROCESS_INFO, out status,
                        (uint)Marshal.SizeOf(typeof(Win32.SERVICE_STATUS_PROCESS)), out needed))
                        return 0;
                    return (int)status.dwProcessId;
                }
            }
        }

        /// <summary>The Win32 error inside a ServiceController failure (ERROR_INTERNAL_ERROR when it carries none).</summary>
        private static int ServiceError(InvalidOperationException e)
        {
            Win32Exception inner = e.InnerException as Win32Exception;
            return inner != null ? inner.NativeErrorCode : Win32.ERROR_INTERNAL_ERROR;
        }

        /// <summary>The Win32 error behind a System.IO failure: the code of an HRESULT_FROM_WIN32, else by type.</summary>
        private static int ErrorOf(Exception e)
        {
            int hr = e.HResult;
            if ((hr & 0xFFFF0000) == unchecked((int)0x80070000))
                return hr & 0xFFFF;
            if (e is FileNotFoundException)
                return Win32.ERROR_FILE_NOT_FOUND;
            if (e is DirectoryNotFoundException)
                return Win32.ERROR_PATH_NOT_FOUND;
            if (e is UnauthorizedAccessException)
                return Win32.ERROR_ACCESS_DENIED;
            if (e is ArgumentException || e is NotSupportedException)
                return Win32.ERROR_INVALID_NAME;   // a path .NET refused to pass on
            return Win32.ERROR_INTERNAL_ERROR;
        }

        private static int HResultError(int hr)
        {
            if ((hr & 0xFFFF0000) == unchecked((int)0x80070000))
                return hr & 0xFFFF;
            return Win32.ERROR_INTERNAL_ERROR;
        }

        private static int WmiError(ManagementException e)
        {
            if (e.ErrorCode == ManagementStatus.AccessDenied)
                return Win32.ERROR_ACCESS_DENIED;
            if (e.ErrorCode == ManagementStatus.NotFound)
                return Win32.ERROR_FILE_NOT_FOUND;
            return HResultError((int)e.ErrorCode);
        }

        /// <summary>Win32_ShadowCopy.Create's return value as the nearest Win32 error (the documented values 0..13).</summary>
        private static int ShadowCreateError(uint rc)
        {
            switch (rc)
            {
                case 1: return Win32.ERROR_ACCESS_DENIED;          // access denied
                case 2: return Win32.ERROR_INVALID_PARAMETER;      // invalid argument
                case 3: return Win32.ERROR_PATH_NOT_FOUND;         // specified volume not found
                case 4: return Win32.ERROR_NOT_SUPPORTED;          // specified volume not supported
                case 5: return Win32.ERROR_NOT_SUPPORTED;          // unsupported shadow copy context
                case 6: return Win32.ERROR_DISK_FULL;              // insufficient storage
                case 7: return Win32.ERROR_BUSY;                   // volume is in use
                case 8: return Win32.ERROR_NO_SYSTEM_RESOURCES;    // maximum number of shadow copies reached
                case 9: return Win32.ERROR_BUSY;                   // another shadow copy operation is in progress
                case 10: return Win32.ERROR_CANCELLED;             // shadow copy provider vetoed the operation
                case 11: return Win32.ERROR_NOT_SUPPORTED;         // shadow copy provider not registered
                default: return Win32.ERROR_INTERNAL_ERROR;        // 12 provider failure, 13 unknown error
            }
        }

        /// <summary>A braced GUID, the form WMI gives shadow ids in; anything else never reaches the WQL text.</summary>
        private static bool IsShadowId(string shadowId)
        {
            Guid ignored;
            return shadowId != null && Guid.TryParseExact(shadowId, "B", out ignored);
        }

        /// <summary>"&lt;DeviceObject&gt;\db\x.edb" for "D:\db\x.edb"; null when the shadow is unknown.</summary>
        private string ShadowFilePath(string shadowId, string path)
        {
            string device = ShadowDevice(shadowId);
            if (device == null || path == null)
                return null;
            string p = Normalise(StripLong(path));
            string rest = p.Length >= 2 && p[1] == ':' ? p.Substring(2) : p;
            if (!rest.StartsWith("\\", StringComparison.Ordinal))
                rest = "\\" + rest;
            return device.TrimEnd('\\') + rest;
        }

        /// <summary>Win32_ShadowCopy.DeviceObject, asked once per shadow (the copy reads many chunks).</summary>
        private string ShadowDevice(string shadowId)
        {
            if (!IsShadowId(shadowId))
                return null;
            lock (shadowLock)
            {
                string known;
                if (shadowDevices.TryGetValue(shadowId, out known))
                    return known;
            }
            string device;
            try
            {
                using (ManagementObject shadow = Win32.ShadowCopyFind(shadowId))
                {
                    if (shadow == null)
                        return null;
                    device = Win32.ShadowCopyDeviceObject(shadow);
                }
            }
            catch (ManagementException)
            {
                return null;
            }
            catch (COMException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            if (String.IsNullOrEmpty(device))
                return null;
            lock (shadowLock)
                shadowDevices[shadowId] = device;
            return device;
        }

        private void ForgetShadow(string shadowId)
        {
            lock (shadowLock)
                shadowDevices.Remove(shadowId);
        }
    }
}
