// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The esent.dll P/Invoke table of the esent.backup agent: structures and imports only, no logic.
// C# 5 (Windows PowerShell 5.1 Add-Type), no `unsafe`. Windows widths: JET_ERR and `long` are
// int, JET_GRBIT and `unsigned long` are uint, JET_INSTANCE/JET_SESID/JET_OSSNAPID/JET_HANDLE
// and JET_API_PTR are IntPtr. Strings are UTF-16 (W entry points only, CharSet.Unicode).
// Under mono the same source binds to esesim's native face of the simulated engine through a
// dllmap; on Windows it binds to esent.dll. The Windows binding is unproven until
// docs/windows-validation.md has been run on a real host.
using System;
using System.Runtime.InteropServices;
using System.Security;

namespace ansible_collections.esent.backup.plugins.module_utils.EsentNative
{
    /// <summary>Structures and constants of jethdr.w that the agent passes to esent.dll.</summary>
    public static class NativeHelpers
    {
        // JET_INSTANCE_INFO_W: six pointer-sized fields (48 bytes on x64, 24 on x86).
        // cDatabases is JET_API_PTR, pointer-sized: declaring it 32-bit is the classic bug.
        [StructLayout(LayoutKind.Sequential)]
        public struct JET_INSTANCE_INFO_W
        {
            public IntPtr hInstanceId;
            public IntPtr szInstanceName;
            public IntPtr cDatabases;
            public IntPtr szDatabaseFileName;
            public IntPtr szDatabaseDisplayName;
            public IntPtr szDatabaseSLVFileName_Obsolete;
        }

        // JET_LGPOS, packed 1 (8 bytes).
        [StructLayout(LayoutKind.Sequential, Pack = 1)]
        public struct JET_LGPOS
        {
            public ushort ib;
            public ushort isec;
            public int lGeneration;
        }

        // JET_LOGTIME / JET_BKLOGTIME, packed 1 (8 bytes); bit 0 of bFiller2 is fOSSnapshot in a BKLOGTIME.
        [StructLayout(LayoutKind.Sequential, Pack = 1)]
        public struct JET_LOGTIME
        {
            public byte bSeconds;
            public byte bMinutes;
            public byte bHours;
            public byte bDay;
            public byte bMonth;
            public byte bYear;
            public byte bFiller1;
            public byte bFiller2;
        }

        // JET_SIGNATURE, packed 1 (28 bytes): szComputerName is ANSI, JET_MAX_COMPUTERNAME_LENGTH + 1.
        [StructLayout(LayoutKind.Sequential, Pack = 1)]
        public struct JET_SIGNATURE
        {
            public uint ulRandom;
            public JET_LOGTIME logtimeCreate;
            [MarshalAs(UnmanagedType.ByValArray, SizeConst = 16)]
            public byte[] szComputerName;
        }

        // JET_BKINFO, packed 1 (24 bytes).
        [StructLayout(LayoutKind.Sequential, Pack = 1)]
        public struct JET_BKINFO
        {
            public JET_LGPOS lgposMark;
            public JET_LOGTIME logtimeMark;
            public uint genLow;
            public uint genHigh;
        }

        public const int JET_BASE_NAME_LENGTH = 3;

        // JET_LOGINFO_W: cbSize must equal the struct size (20 bytes).
        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        public struct JET_LOGINFO_W
        {
            public uint cbSize;
            public uint ulGenLow;
            public uint ulGenHigh;
            [MarshalAs(UnmanagedType.ByValTStr, SizeConst = JET_BASE_NAME_LENGTH + 1)]
            public string szBaseName;
        }

        // JET_SNPROG: what JET_PFNSTATUS's pv points at during restore (12 bytes, cunitTotal = 100).
        [StructLayout(LayoutKind.Sequential)]
        public struct JET_SNPROG
        {
            public uint cbStruct;
            public uint cunitDone;
            public uint cunitTotal;
        }

        // JET_PFNSTATUS: JET_API is __stdcall (Winapi: stdcall on x86, the platform default elsewhere).
        // pv is a JET_SNPROG* for restore; a negative return cancels the operation with that error.
        [UnmanagedFunctionPointer(CallingConvention.Winapi)]
        public delegate int JET_PFNSTATUS(IntPtr sesid, uint snp, uint snt, IntPtr pv);

        // JET_RSTMAP_W: old path as recorded in the logs -> where the restored file now lives.
        [StructLayout(LayoutKind.Sequential)]
        public struct JET_RSTMAP_W
        {
            public IntPtr szDatabaseName;
            public IntPtr szNewDatabaseName;
        }

        // JET_RSTINFO_W: cbStruct = Marshal.SizeOf (48 bytes on x64, 32 on x86). The inner LGPOS and
        // LOGTIME are byte packed, so lgposStop follows crstmap without padding.
        [StructLayout(LayoutKind.Sequential)]
        public struct JET_RSTINFO_W
        {
            public uint cbStruct;
            public IntPtr rgrstmap;
            public int crstmap;
            public JET_LGPOS lgposStop;
            public JET_LOGTIME logtimeStop;
            public IntPtr pfnStatus;
        }

        // JET_CHECKPOINTINFO, packed 1 (16 bytes): what JetGetInstanceMiscInfo returns at
        // JET_InstanceMiscInfoCheckpoint (outside the public esent.h: ESE's jethdr.w, Vista+).
        [StructLayout(LayoutKind.Sequential, Pack = 1)]
        public struct JET_CHECKPOINTINFO
        {
            public uint genMin;
            public uint genMax;
            public JET_LOGTIME logtimeGenMaxCreate;
        }

        // JetGetInstanceMiscInfo levels (jethdr.w) and the sizes it needs (a shorter buffer is -1038).
        public const uint JET_InstanceMiscInfoLogSignature = 0;
        public const uint JET_InstanceMiscInfoCheckpoint = 1;
        public const int SignatureSize = 28;
        public const int CheckpointInfoSize = 16;

        // JET_DBINFOMISC4 is 348 bytes; the agent passes a byte buffer of exactly that size and
        // decodes by offset (the layout is bitness-independent). Offsets: docs/dev/windows-facts.md section 3.8.
        public const int DbInfoMisc4Size = 348;
        public const uint JET_DbInfoMisc = 14;
        public const uint JET_DbInfoPageSize = 17;
        public const int DbInfoMiscOffsetVersion = 0;
        public const int DbInfoMiscOffsetSignDb = 8;
        public const int DbInfoMiscOffsetDbState = 36;
        public const int DbInfoMiscOffsetLgposConsistent = 40;
        public const int DbInfoMiscOffsetLgposAttach = 64;
        public const int DbInfoMiscOffsetLgposDetach = 80;
        public const int DbInfoMiscOffsetSignLog = 88;
        public const int DbInfoMiscOffsetBkinfoFullPrev = 116;
        public const int DbInfoMiscOffsetBkinfoIncPrev = 140;
        public const int DbInfoMiscOffsetBkinfoFullCur = 164;
        public const int DbInfoMiscOffsetPageSize = 212;
        public const int DbInfoMiscOffsetGenMinRequired = 216;
        public const int DbInfoMiscOffsetGenMaxRequired = 220;
        public const int DbInfoMiscOffsetGenCommitted = 296;
        public const int DbInfoMiscOffsetBkinfoCopyPrev = 300;
        public const int DbInfoMiscOffsetBkinfoDiffPrev = 324;

        // JET_dbstate values.
        public const uint JET_dbstateJustCreated = 1;
        public const uint JET_dbstateDirtyShutdown = 2;
        public const uint JET_dbstateCleanShutdown = 3;

        // System parameters (sysparamtable).
        public const uint JET_paramSystemPath = 0;
        public const uint JET_paramTempPath = 1;
        public const uint JET_paramLogFilePath = 2;
        public const uint JET_paramBaseName = 3;
        public const uint JET_paramLogFileSize = 11;
        public const uint JET_paramCircularLog = 17;
        public const uint JET_paramDatabasePageSize = 64;
        public const uint JET_paramOSSnapshotTimeout = 82;
        public const uint JET_paramCreatePathIfNotExist = 100;
        public const uint JET_paramLegacyFileNames = 136;

        // Grbits.
        public const uint JET_bitLogStreamMustExist = 0x40;
        public const uint JET_bitTermComplete = 0x1;
        public const uint JET_bitTermAbrupt = 0x2;
        public const uint JET_bitTermStopBackup = 0x4;
        public const uint JET_bitDbReadOnly = 0x1;
        public const uint JET_bitDbExclusive = 0x2;
        public const uint JET_bitForceDetach = 0x1;
        public const uint JET_bitIncrementalSnapshot = 0x1;
        public const uint JET_bitCopySnapshot = 0x2;
        public const uint JET_bitContinueAfterThaw = 0x4;
        public const uint JET_bitExplicitPrepare = 0x8;
        public const uint JET_bitAllDatabasesSnapshot = 0x1;
        public const uint JET_bitAbortSnapshot = 0x1;
        public const uint JET_bitBackupIncremental = 0x1;
        public const uint JET_bitBackupEndNormal = 0x1;
        public const uint JET_bitBackupEndAbort = 0x2;
        public const uint JET_bitBackupTruncateDone = 0x100;

        // JET_PFNSTATUS values (restore progress).
        public const uint JET_snpRestore = 8;
        public const uint JET_sntProgress = 0;
        public const uint JET_sntBegin = 5;
        public const uint JET_sntComplete = 6;

        // JetReadFileInstance wants its buffer aligned to the OS page-commit granularity (4 KiB on
        // x86/x64), which VirtualAlloc guarantees; JetExternalRestore2 takes at most 2 x dbidMax maps.
        public const int BackupBufferAlignment = 4096;
        public const int MaxRestoreMap = 14;

        // JetReadFileInstance sizes: a multiple of the database page size (JET_paramDatabasePageSize,
        // global), the first read of a database at least 3 pages (two header copies and a data page),
        // of a log at least 2; anything else is -1003 (docs/dev/ese-facts.md P13).
        public const int MinFirstReadPagesDatabase = 3;
        public const int MinFirstReadPagesLog = 2;

        // JET_errBufferTooSmall: a caller-sized buffer was short (JetGetSystemParameterW strings).
        public const int JET_errBufferTooSmall = -1038;
    }

    /// <summary>The one table of esent.dll imports (W entry points, exact names, raw JET_ERR).</summary>
    [SuppressUnmanagedCodeSecurity]
    [BestFitMapping(false, ThrowOnUnmappableChar = true)]
    public static class NativeMethods
    {
        public const string EsentDll = "esent.dll";

        #region Init and term

        // Vista+. Instance names must be unique in the process (-1086).
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetCreateInstance2W(out IntPtr instance, string szInstanceName, string szDisplayName, uint grbit);

        // Instance-scope parameter: the address of the instance.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetSetSystemParameterW(ref IntPtr instance, IntPtr sesid, uint paramid, IntPtr lParam, string szParam);

        // Global parameter: pass IntPtr.Zero for the instance pointer (no `unsafe` IntPtr*).
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true, EntryPoint = "JetSetSystemParameterW")]
        public static extern int JetSetSystemParameterGlobalW(IntPtr pinstance, IntPtr sesid, uint paramid, IntPtr lParam, string szParam);

        // Vista+. prstInfo: IntPtr.Zero for plain soft recovery, else a marshalled JET_RSTINFO_W.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetInit3W(ref IntPtr instance, IntPtr prstInfo, uint grbit);

        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetTerm2(IntPtr instance, uint grbit);

        // Vista+ (W). instance by value (IntPtr.Zero: a global parameter). *plParam is JET_API_PTR,
        // pointer-sized (ref IntPtr, never long); an integer parameter needs it (else -1003). A string
        // parameter needs szParam (cbMax in bytes, else -1003); a short buffer is -1038.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetGetSystemParameterW(IntPtr instance, IntPtr sesid, uint paramid, ref IntPtr plParam, [Out] byte[] szParam, uint cbMax);

        // Vista+ (W). The running instances of this process; same buffer rules as JetOSSnapshotFreezeW
        // (one engine allocation, one JetFreeBuffer; a count of 0 may come with NULL).
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetGetInstanceInfoW(out uint pcInstanceInfo, out IntPtr paInstanceInfo);

        // Vista+. pvResult: JET_SIGNATURE (level 0, 28 bytes) or JET_CHECKPOINTINFO (level 1, 16 bytes),
        // decoded by offset; another level is -1003, a shorter buffer -1038.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetGetInstanceMiscInfo(IntPtr instance, [Out] byte[] pvResult, uint cbMax, uint InfoLevel);

        #endregion

        #region Sessions and databases

        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetBeginSessionW(IntPtr instance, out IntPtr sesid, string szUserName, string szPassword);

        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetEndSession(IntPtr sesid, uint grbit);

        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetAttachDatabase2W(IntPtr sesid, string szFilename, uint cpgDatabaseSizeMax, uint grbit);

        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetDetachDatabase2W(IntPtr sesid, string szFilename, uint grbit);

        // Vista+ (W). JET_DBID is `unsigned long`: uint on every platform (not pointer-sized).
        // szConnect is unused by ESE (null); -1203 for a database not attached to the instance.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetOpenDatabaseW(IntPtr sesid, string szFilename, string szConnect, out uint dbid, uint grbit);

        // Vista+ (W). The header ESE holds in memory for a database open in the session (readable while
        // attached, unlike JetGetDatabaseFileInfoW); JET_DbInfoMisc with a 348-byte buffer decodes by offset.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetGetDatabaseInfoW(IntPtr sesid, uint dbid, [Out] byte[] pvResult, uint cbMax, uint InfoLevel);

        // Needs no instance: reads the header from disk. [Out]: the engine fills the caller's buffer.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetGetDatabaseFileInfoW(string szDatabaseName, [Out] byte[] pvResult, uint cbMax, uint InfoLevel);

        #endregion

        #region Snapshot backup (JetOSSnapshot*)

        // XP+.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotPrepare(out IntPtr snapId, uint grbit);

        // Vista+; meaningful only with JET_bitExplicitPrepare.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotPrepareInstance(IntPtr snapId, IntPtr instance, uint grbit);

        // W since Vista. The array comes back as one engine allocation freed by one JetFreeBuffer;
        // the count is `unsigned long`, so uint (never ulong).
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotFreezeW(IntPtr snapId, out uint pcInstanceInfo, out IntPtr paInstanceInfo, uint grbit);

        // Vista+. Same buffer rules as JetOSSnapshotFreezeW.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotGetFreezeInfoW(IntPtr snapId, out uint pcInstanceInfo, out IntPtr paInstanceInfo, uint grbit);

        // XP+.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotThaw(IntPtr snapId, uint grbit);

        // Vista+.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotTruncateLog(IntPtr snapId, uint grbit);

        // Vista+.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotTruncateLogInstance(IntPtr snapId, IntPtr instance, uint grbit);

        // Vista+.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotEnd(IntPtr snapId, uint grbit);

        // Server 2003+.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetOSSnapshotAbort(IntPtr snapId, uint grbit);

        #endregion

        #region Streaming backup (JetBeginExternalBackupInstance ... JetEndExternalBackupInstance2)

        // XP+. grbit: 0 (full) or JET_bitBackupIncremental; anything else is -900.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetBeginExternalBackupInstance(IntPtr instance, uint grbit);

        // szz: a UTF-16 double-NUL list, sizes in bytes; null asks the size. *pcbActual is the full size
        // even when the copy was silently truncated to cbMax.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetGetAttachInfoInstanceW(IntPtr instance, [Out] byte[] szz, uint cbMax, out uint pcbActual);

        // The handle is always 0 (a one-slot table): 0 is valid, never a failure marker.
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetOpenFileInstanceW(IntPtr instance, string szFileName, out IntPtr phfFile, out uint pulFileSizeLow, out uint pulFileSizeHigh);

        // pv must be page aligned (VirtualAlloc on Windows), so it is a raw pointer, not a byte[].
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetReadFileInstance(IntPtr instance, IntPtr hfFile, IntPtr pv, uint cb, out uint pcbActual);

        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetCloseFileInstance(IntPtr instance, IntPtr hfFile);

        // With a buffer *pcbActual is the bytes copied, min(cbMax, full) (unlike GetAttachInfo).
        // pLogInfo.cbSize must be 20 (retail esent.dll only asserts it on this W path).
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetGetLogInfoInstance2W(IntPtr instance, [Out] byte[] szz, uint cbMax, out uint pcbActual, ref NativeHelpers.JET_LOGINFO_W pLogInfo);

        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetGetTruncateLogInfoInstanceW(IntPtr instance, [Out] byte[] szz, uint cbMax, out uint pcbActual);

        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetTruncateLogInstance(IntPtr instance);

        // = JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal).
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetEndExternalBackupInstance(IntPtr instance);

        // Exactly one of EndNormal/EndAbort, else -1003; 0 in every other case (a normal end may be
        // recorded as an abort).
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetEndExternalBackupInstance2(IntPtr instance, uint grbit);

        // Always 0 for a valid instance; later backup calls on it get -801.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetStopBackupInstance(IntPtr instance);

        #endregion

        #region Restore

        // Vista+ (W). rgrstmap: a hand-marshalled JET_RSTMAP_W array (IntPtr.Zero with crstfilemap 0);
        // crstfilemap is C `long`, so int. pLogInfo.cbSize must be 20 (-1003). The delegate must stay
        // alive for the whole call (the engine calls it before returning).
        [DllImport(EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
        public static extern int JetExternalRestore2W(
            string szCheckpointFilePath,
            string szLogPath,
            IntPtr rgrstmap,
            int crstfilemap,
            string szBackupLogPath,
            ref NativeHelpers.JET_LOGINFO_W pLogInfo,
            string szTargetInstanceName,
            string szTargetInstanceLogPath,
            string szTargetInstanceCheckpointPath,
            NativeHelpers.JET_PFNSTATUS pfn);

        #endregion

        #region Memory

        // Always returns JET_errSuccess.
        [DllImport(EsentDll, ExactSpelling = true)]
        public static extern int JetFreeBuffer(IntPtr pbBuf);

        #endregion
    }

    /// <summary>kernel32 imports: the page-aligned buffer JetReadFileInstance needs (Windows only).</summary>
    [SuppressUnmanagedCodeSecurity]
    public static class Kernel32NativeMethods
    {
        public const uint MEM_COMMIT = 0x1000;
        public const uint MEM_RESERVE = 0x2000;
        public const uint MEM_RELEASE = 0x8000;
        public const uint PAGE_READWRITE = 0x04;

        // LPVOID VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType, DWORD flProtect);
        [DllImport("kernel32.dll", SetLastError = true, ExactSpelling = true)]
        public static extern IntPtr VirtualAlloc(IntPtr lpAddress, UIntPtr dwSize, uint flAllocationType, uint flProtect);

        // BOOL VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);
        // dwSize must be 0 with MEM_RELEASE.
        [DllImport("kernel32.dll", SetLastError = true, ExactSpelling = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        public static extern bool VirtualFree(IntPtr lpAddress, UIntPtr dwSize, uint dwFreeType);
    }
}
