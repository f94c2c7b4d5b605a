// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Every Win32 import and every WMI class, method and property the Windows platform uses, in one
// table (Win32), so each can be checked against its documented prototype: the comment above each
// import is the C prototype from the Windows SDK headers / Microsoft Learn, the comment above each
// WMI helper the MOF signature. esent.dll's own imports stay in EsentNative.cs. Windows only:
// nothing here runs in the simulation (the test platform reaches the simulated host instead).
// Conventions (docs/dev/house-rules.md rule 7): W entry points only, CharSet.Unicode,
// SetLastError = true, DWORD -> uint, BOOL -> bool (4-byte), handles as SafeHandle types where
// the caller owns them (as ManagedEsent and pinvoke.net declare them).
// C# 5 only, no `unsafe`.
using System;
using System.Management;
using System.Runtime.ConstrainedExecution;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using FILETIME = System.Runtime.InteropServices.ComTypes.FILETIME;

namespace EsentBackup.Agent
{
    [SuppressUnmanagedCodeSecurity]
    public static class Win32
    {
        // -- Win32 error codes the platform names ----------------------------------------------------

        public const int ERROR_SUCCESS = 0;
        public const int ERROR_FILE_NOT_FOUND = 2;
        public const int ERROR_PATH_NOT_FOUND = 3;
        public const int ERROR_ACCESS_DENIED = 5;
        public const int ERROR_NOT_SUPPORTED = 50;
        public const int ERROR_INVALID_PARAMETER = 87;
        public const int ERROR_INVALID_NAME = 123;
        public const int ERROR_DISK_FULL = 112;
        public const int ERROR_BUSY = 170;
        public const int ERROR_HANDLE_EOF = 38;
        public const int ERROR_MORE_DATA = 234;
        public const int ERROR_OPERATION_ABORTED = 995;
        public const int ERROR_DEPENDENT_SERVICES_RUNNING = 1051;
        public const int ERROR_SERVICE_REQUEST_TIMEOUT = 1053;
        public const int ERROR_SERVICE_DOES_NOT_EXIST = 1060;
        public const int ERROR_CANCELLED = 1223;
        public const int ERROR_INTERNAL_ERROR = 1359;
        public const int ERROR_NO_SYSTEM_RESOURCES = 1450;

        // -- files (kernel32) ------------------------------------------------------------------------

        public const uint GENERIC_READ = 0x80000000;
        public const uint GENERIC_WRITE = 0x40000000;
        public const uint FILE_FLAG_BACKUP_SEMANTICS = 0x02000000;   // open a folder (to flush its entries)
        public const uint MOVEFILE_REPLACE_EXISTING = 0x1;
        public const uint MOVEFILE_WRITE_THROUGH = 0x8;
        public const uint FILE_READ_ATTRIBUTES = 0x0080;
        public const uint FILE_SHARE_READ = 0x1;
        public const uint FILE_SHARE_WRITE = 0x2;
        public const uint FILE_SHARE_DELETE = 0x4;
        public const uint OPEN_EXISTING = 3;
        public const uint FILE_ATTRIBUTE_NORMAL = 0x80;

        // BOOL CopyFileW(LPCWSTR lpExistingFileName, LPCWSTR lpNewFileName, BOOL bFailIfExists);
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool CopyFileW(string lpExistingFileName, string lpNewFileName,
            [MarshalAs(UnmanagedType.Bool)] bool bFailIfExists);

        // BOOL GetDiskFreeSpaceExW(LPCWSTR lpDirectoryName, PULARGE_INTEGER lpFreeBytesAvailableToCaller,
        //                          PULARGE_INTEGER lpTotalNumberOfBytes, PULARGE_INTEGER lpTotalNumberOfFreeBytes);
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool GetDiskFreeSpaceExW(string lpDirectoryName, out ulong lpFreeBytesAvailableToCaller,
            out ulong lpTotalNumberOfBytes, out ulong lpTotalNumberOfFreeBytes);

        // DWORD GetLogicalDrives(void);
        // Bit 0 is A:, bit 25 is Z:; 0 on failure.
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern uint GetLogicalDrives();

        // HANDLE CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
        //                    LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
        //                    DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
        // Opens files below a shadow copy's device path (\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN\...),
        // which FileStream's path checks refuse on .NET Framework before 4.6.2.
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern SafeFileHandle CreateFileW(string lpFileName, uint dwDesiredAccess, uint dwShareMode,
            IntPtr lpSecurityAttributes, uint dwCreationDisposition, uint dwFlagsAndAttributes, IntPtr hTemplateFile);

        // BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
        //               LPOVERLAPPED lpOverlapped);
        // With an OVERLAPPED on a synchronous handle: a positional read (Offset/OffsetHigh), no shared
        // file pointer, so parallel copies of one file never race; at the end: FALSE, ERROR_HANDLE_EOF.
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool ReadFile(SafeFileHandle hFile, [Out] byte[] lpBuffer, uint nNumberOfBytesToRead,
            out uint lpNumberOfBytesRead, ref NativeOverlapped lpOverlapped);

        // BOOL GetFileSizeEx(HANDLE hFile, PLARGE_INTEGER lpFileSize);
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool GetFileSizeEx(SafeFileHandle hFile, out long lpFileSize);

        // BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
        // lpOverlapped NULL: every pending I/O on the handle, from any thread (Vista and later).
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool CancelIoEx(SafeHandle hFile, IntPtr lpOverlapped);

        // BOOL FlushFileBuffers(HANDLE hFile);
        // On a folder handle (FILE_FLAG_BACKUP_SEMANTICS): flushes its entries (new names, renames).
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool FlushFileBuffers(SafeFileHandle hFile);

        // BOOL MoveFileExW(LPCWSTR lpExistingFileName, LPCWSTR lpNewFileName, DWORD dwFlags);
        // MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH: Python's os.replace, returning after the rename is on disk.
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool MoveFileExW(string lpExistingFileName, string lpNewFileName, uint dwFlags);

        // -- processes (kernel32) --------------------------------------------------------------------

        public const uint PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;

        // HANDLE OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId);
        // NULL (not INVALID_HANDLE_VALUE) on failure.
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern SafeKernelHandle OpenProcess(uint dwDesiredAccess, [MarshalAs(UnmanagedType.Bool)] bool bInheritHandle,
            uint dwProcessId);

        // BOOL QueryFullProcessImageNameW(HANDLE hProcess, DWORD dwFlags, LPWSTR lpExeName, PDWORD lpdwSize);
        // dwFlags 0: the Win32 path form; lpdwSize in characters, in and out.
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool QueryFullProcessImageNameW(SafeKernelHandle hProcess, uint dwFlags, StringBuilder lpExeName,
            ref uint lpdwSize);

        // BOOL CloseHandle(HANDLE hObject);
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [ReliabilityContract(Consistency.WillNotCorruptState, Cer.Success)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool CloseHandle(IntPtr hObject);

        /// <summary>A kernel object handle the caller owns (process handles here), closed with CloseHandle.</summary>
        public sealed class SafeKernelHandle : SafeHandleZeroOrMinusOneIsInvalid
        {
            public SafeKernelHandle() : base(true) { }

            [ReliabilityContract(Consistency.WillNotCorruptState, Cer.Success)]
            protected override bool ReleaseHandle()
            {
                return CloseHandle(handle);
            }
        }

        // -- the Restart Manager (rstrtmgr.dll, Vista and later): who holds a file open --------------

        public const int CCH_RM_SESSION_KEY = 32;    // sizeof(GUID) * 2
        public const int CCH_RM_MAX_APP_NAME = 255;
        public const int CCH_RM_MAX_SVC_NAME = 63;

        // typedef struct _RM_UNIQUE_PROCESS { DWORD dwProcessId; FILETIME ProcessStartTime; } RM_UNIQUE_PROCESS;
        [StructLayout(LayoutKind.Sequential)]
        public struct RM_UNIQUE_PROCESS
        {
            public uint dwProcessId;
            public FILETIME ProcessStartTime;
        }

        // typedef struct _RM_PROCESS_INFO {
        //   RM_UNIQUE_PROCESS Process; WCHAR strAppName[CCH_RM_MAX_APP_NAME + 1];
        //   WCHAR strServiceShortName[CCH_RM_MAX_SVC_NAME + 1]; RM_APP_TYPE ApplicationType; ULONG AppStatus;
        //   DWORD TSSessionId; BOOL bRestartable; } RM_PROCESS_INFO;          (668 bytes)
        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        public struct RM_PROCESS_INFO
        {
            public RM_UNIQUE_PROCESS Process;
            [MarshalAs(UnmanagedType.ByValTStr, SizeConst = CCH_RM_MAX_APP_NAME + 1)]
            public string strAppName;
            [MarshalAs(UnmanagedType.ByValTStr, SizeConst = CCH_RM_MAX_SVC_NAME + 1)]
            public string strServiceShortName;
            public int ApplicationType;
            public uint AppStatus;
            public uint TSSessionId;
            [MarshalAs(UnmanagedType.Bool)]
            public bool bRestartable;
        }

        // DWORD RmStartSession(DWORD *pSessionHandle, DWORD dwSessionFlags, WCHAR strSessionKey[]);
        // strSessionKey: a buffer of CCH_RM_SESSION_KEY + 1 characters the call fills. Returns a Win32 error
        // (the Restart Manager returns its errors; it does not set the last error).
        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern int RmStartSession(out uint pSessionHandle, uint dwSessionFlags, StringBuilder strSessionKey);

        // DWORD RmRegisterResources(DWORD dwSessionHandle, UINT nFiles, LPCWSTR rgsFileNames[], UINT nApplications,
        //                           RM_UNIQUE_PROCESS rgApplications[], UINT nServices, LPCWSTR rgsServiceNames[]);
        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern int RmRegisterResources(uint dwSessionHandle, uint nFiles, string[] rgsFileNames, uint nApplications,
            [In] RM_UNIQUE_PROCESS[] rgApplications, uint nServices, string[] rgsServiceNames);

        // DWORD RmGetList(DWORD dwSessionHandle, UINT *pnProcInfoNeeded, UINT *pnProcInfo,
        //                 RM_PROCESS_INFO rgAffectedApps[], LPDWORD lpdwRebootReasons);
        // ERROR_MORE_DATA (234) when rgAffectedApps is too small; *pnProcInfoNeeded says how many.
        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern int RmGetList(uint dwSessionHandle, out uint pnProcInfoNeeded, ref uint pnProcInfo,
            [In, Out] RM_PROCESS_INFO[] rgAffectedApps, out uint lpdwRebootReasons);

        // DWORD RmEndSession(DWORD dwSessionHandle);
        [DllImport("rstrtmgr.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern int RmEndSession(uint dwSessionHandle);

        // -- the Service Control Manager (advapi32) --------------------------------------------------

        public const uint SC_MANAGER_CONNECT = 0x0001;
        public const uint SC_MANAGER_ENUMERATE_SERVICE = 0x0004;
        public const uint SERVICE_QUERY_STATUS = 0x0004;
        public const int SC_ENUM_PROCESS_INFO = 0;
        public const int SC_STATUS_PROCESS_INFO = 0;
        public const uint SERVICE_WIN32 = 0x00000030;
        public const uint SERVICE_ACTIVE = 0x00000001;
        public const uint SERVICE_STOPPED = 0x00000001;
        public const uint SERVICE_RUNNING = 0x00000004;

        // typedef struct _SERVICE_STATUS_PROCESS { DWORD dwServiceType; DWORD dwCurrentState; DWORD dwControlsAccepted;
        //   DWORD dwWin32ExitCode; DWORD dwServiceSpecificExitCode; DWORD dwCheckPoint; DWORD dwWaitHint;
        //   DWORD dwProcessId; DWORD dwServiceFlags; } SERVICE_STATUS_PROCESS;          (36 bytes)
        [StructLayout(LayoutKind.Sequential)]
        public struct SERVICE_STATUS_PROCESS
        {
            public uint dwServiceType;
            public uint dwCurrentState;
            public uint dwControlsAccepted;
            public uint dwWin32ExitCode;
            public uint dwServiceSpecificExitCode;
            public uint dwCheckPoint;
            public uint dwWaitHint;
            public uint dwProcessId;
            public uint dwServiceFlags;
        }

        // typedef struct _ENUM_SERVICE_STATUS_PROCESSW { LPWSTR lpServiceName; LPWSTR lpDisplayName;
        //   SERVICE_STATUS_PROCESS ServiceStatusProcess; } ENUM_SERVICE_STATUS_PROCESSW;
        // The strings point into the same buffer; read them with PtrToStringUni before it is freed.
        [StructLayout(LayoutKind.Sequential)]
        public struct ENUM_SERVICE_STATUS_PROCESSW
        {
            public IntPtr lpServiceName;
            public IntPtr lpDisplayName;
            public SERVICE_STATUS_PROCESS ServiceStatusProcess;
        }

        // SC_HANDLE OpenSCManagerW(LPCWSTR lpMachineName, LPCWSTR lpDatabaseName, DWORD dwDesiredAccess);
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern SafeServiceHandle OpenSCManagerW(string lpMachineName, string lpDatabaseName, uint dwDesiredAccess);

        // SC_HANDLE OpenServiceW(SC_HANDLE hSCManager, LPCWSTR lpServiceName, DWORD dwDesiredAccess);
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        public static extern SafeServiceHandle OpenServiceW(SafeServiceHandle hSCManager, string lpServiceName, uint dwDesiredAccess);

        // BOOL QueryServiceStatusEx(SC_HANDLE hService, SC_STATUS_TYPE InfoLevel, LPBYTE lpBuffer, DWORD cbBufSize,
        //                           LPDWORD pcbBytesNeeded);
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool QueryServiceStatusEx(SafeServiceHandle hService, int InfoLevel, out SERVICE_STATUS_PROCESS lpBuffer,
            uint cbBufSize, out uint pcbBytesNeeded);

        // BOOL EnumServicesStatusExW(SC_HANDLE hSCManager, SC_ENUM_TYPE InfoLevel, DWORD dwServiceType,
        //                            DWORD dwServiceState, LPBYTE lpServices, DWORD cbBufSize, LPDWORD pcbBytesNeeded,
        //                            LPDWORD lpServicesReturned, LPDWORD lpResumeHandle, LPCWSTR pszGroupName);
        // lpServices: ENUM_SERVICE_STATUS_PROCESSW records (SC_ENUM_PROCESS_INFO), at most 256 KB per call.
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool EnumServicesStatusExW(SafeServiceHandle hSCManager, int InfoLevel, uint dwServiceType,
            uint dwServiceState, IntPtr lpServices, uint cbBufSize, out uint pcbBytesNeeded, out uint lpServicesReturned,
            ref uint lpResumeHandle, string pszGroupName);

        // BOOL CloseServiceHandle(SC_HANDLE hSCObject);
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]
        [ReliabilityContract(Consistency.WillNotCorruptState, Cer.Success)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool CloseServiceHandle(IntPtr hSCObject);

        /// <summary>An SC_HANDLE, closed with CloseServiceHandle (ansible.windows' SCManager.cs has the same).</summary>
        public sealed class SafeServiceHandle : SafeHandleZeroOrMinusOneIsInvalid
        {
            public SafeServiceHandle() : base(true) { }

            [ReliabilityContract(Consistency.WillNotCorruptState, Cer.Success)]
            protected override bool ReleaseHandle()
            {
                return CloseServiceHandle(handle);
            }
        }

        // -- WMI (System.Management): Win32_ShadowCopy, root\cimv2 -----------------------------------
        // Run from a 64-bit process on 64-bit Windows (the WOW64 VSS provider refuses); the caller must be
        // an Administrator, a Backup Operator or LocalSystem (docs/dev/windows-facts.md section 2.6).

        public const string WmiScope = @"root\cimv2";
        public const string ShadowCopyClass = "Win32_ShadowCopy";
        public const string ShadowCopyContext = "ClientAccessible";   // persistent, no writers, no auto-release

        /// <summary>Win32_ShadowCopy.Create; returns the method's ReturnValue (0 success ... 13 unknown), not a Win32 error.</summary>
        // uint32 Create([in] string Volume, [in] string Context = "ClientAccessible", [out] string ShadowID);
        // Volume is a root with its backslash ("D:\").
        public static uint ShadowCopyCreate(string volume, string context, out string shadowId)
        {
            shadowId = null;
            using (ManagementClass cls = new ManagementClass(WmiScope, ShadowCopyClass, null))
            using (ManagementBaseObject inParams = cls.GetMethodParameters("Create"))
            {
                inParams["Volume"] = volume;
                inParams["Context"] = context;
                using (ManagementBaseObject outParams = cls.InvokeMethod("Create", inParams, null))
                {
                    uint rc = Convert.ToUInt32(outParams["ReturnValue"]);
                    if (rc == 0)
                        shadowId = (string)outParams["ShadowID"];
                    return rc;
                }
            }
        }

        /// <summary>The Win32_ShadowCopy instance with that ID (a braced GUID), or null. Dispose it.</summary>
        // class Win32_ShadowCopy { string ID; string DeviceObject; string VolumeName; datetime InstallDate; ... };
        // shadowId must already be a braced GUID (checked by the caller): it is quoted into the WQL text.
        public static ManagementObject ShadowCopyFind(string shadowId)
        {
            // SELECT *: a projection may drop __PATH, which Delete() needs.
            string wql = "SELECT * FROM " + ShadowCopyClass + " WHERE ID = '" + shadowId + "'";
            using (ManagementObjectSearcher searcher = new ManagementObjectSearcher(WmiScope, wql))
            using (ManagementObjectCollection found = searcher.Get())
            {
                ManagementObject first = null;
                foreach (ManagementBaseObject o in found)
                {
                    if (first == null)
                        first = (ManagementObject)o;
                    else
                        o.Dispose();
                }
                return first;
            }
        }

        /// <summary>Win32_ShadowCopy.DeviceObject: \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN.</summary>
        // string DeviceObject;
        public static string ShadowCopyDeviceObject(ManagementObject shadow)
        {
            return (string)shadow["DeviceObject"];
        }

        /// <summary>Deletes the instance (SWbemObject.Delete_ in scripting; IWbemServices::DeleteInstance).</summary>
        // void Delete_();  -- System.Management: ManagementObject.Delete()
        public static void ShadowCopyDelete(ManagementObject shadow)
        {
            shadow.Delete();
        }
    }
}
