// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Thin wrappers over the esent.dll imports: one per call; each converts its arguments, calls the
// import, and passes the result to Check(), which throws the one JetException type (code + API)
// for errors and hands warnings back. Engine-allocated arrays are copied, then freed once.
// Streaming reads go through a page-aligned buffer behind IAlignedBuffer (VirtualAlloc on Windows,
// an over-allocated HGlobal aligned by offset elsewhere), always freed in finally.
// C# 5 only, no `unsafe`.
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace ansible_collections.esent.backup.plugins.module_utils.EsentApi
{
    /// <summary>An esent.dll call returned a negative JET_ERR.</summary>
    public sealed class JetException : Exception
    {
        public readonly int Code;
        public readonly string Api;
        public readonly JetErrorInfo Info;

        public JetException(int code, string api)
            : base(Describe(code, api))
        {
            Code = code;
            Api = api;
            Info = JetErrorCatalogue.Lookup(code);
        }

        private static string Describe(int code, string api)
        {
            JetErrorInfo info = JetErrorCatalogue.Lookup(code);
            string name = info.Name.Length > 0 ? info.Name : "unknown";
            return String.Format("{0} failed with {1} ({2}): {3}", api, code, name, info.Text);
        }
    }

    /// <summary>One instance as JetOSSnapshotFreeze/GetFreezeInfo report it.</summary>
    public sealed class InstanceInfo
    {
        public IntPtr Instance;
        public string Name;
        public string[] Databases;
    }

    /// <summary>One JET_BKINFO slot of a database header (null when the slot is empty).</summary>
    public sealed class BackupInfo
    {
        public uint GenLow;
        public uint GenHigh;
        public int MarkGeneration;
        public ushort MarkSector;
        public ushort MarkByte;
        /// <summary>The mark time as year, month, day, hour, minute, second, millisecond.</summary>
        public int[] MarkTime;
        /// <summary>bklogtimeMark.fOSSnapshot: the backup was an OS (VSS) snapshot.</summary>
        public bool OSSnapshot;
    }

    /// <summary>The header facts of JET_DBINFOMISC4, decoded by offset (docs/dev/windows-facts.md section 3.8).</summary>
    public sealed class DatabaseInfo
    {
        public uint Version;
        public uint SignatureRandom;
        public string ComputerName;
        public uint DbState;
        public uint PageSize;
        public uint GenMinRequired;
        public uint GenMaxRequired;
        public uint GenCommitted;
        public int[] LgposConsistent;
        public int[] LgposAttach;
        public int[] LgposDetach;
        public BackupInfo FullPrev;
        public BackupInfo IncrementalPrev;
        public BackupInfo FullCurrent;
        public BackupInfo CopyPrev;
        public BackupInfo DifferentialPrev;

        /// <summary>Decode a JET_DBINFOMISC4 buffer (at least 348 bytes, little-endian as on Windows).</summary>
        public static DatabaseInfo Decode(byte[] misc)
        {
            if (misc == null || misc.Length < NativeHelpers.DbInfoMisc4Size)
                throw new ArgumentException("a JET_DBINFOMISC4 buffer is 348 bytes", "misc");
            DatabaseInfo info = new DatabaseInfo();
            info.Version = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetVersion);
            info.SignatureRandom = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetSignDb);
            // JET_SIGNATURE: ulRandom (4), logtimeCreate (8), then the NUL-terminated ANSI name.
            int nameAt = NativeHelpers.DbInfoMiscOffsetSignDb + 12;
            int nameLength = 0;
            while (nameLength < 16 && misc[nameAt + nameLength] != 0)
                nameLength++;
            info.ComputerName = System.Text.Encoding.ASCII.GetString(misc, nameAt, nameLength);
            info.DbState = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetDbState);
            info.PageSize = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetPageSize);
            info.GenMinRequired = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetGenMinRequired);
            info.GenMaxRequired = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetGenMaxRequired);
            info.GenCommitted = BitConverter.ToUInt32(misc, NativeHelpers.DbInfoMiscOffsetGenCommitted);
            info.LgposConsistent = Lgpos(misc, NativeHelpers.DbInfoMiscOffsetLgposConsistent);
            info.LgposAttach = Lgpos(misc, NativeHelpers.DbInfoMiscOffsetLgposAttach);
            info.LgposDetach = Lgpos(misc, NativeHelpers.DbInfoMiscOffsetLgposDetach);
            info.FullPrev = Bkinfo(misc, NativeHelpers.DbInfoMiscOffsetBkinfoFullPrev);
            info.IncrementalPrev = Bkinfo(misc, NativeHelpers.DbInfoMiscOffsetBkinfoIncPrev);
            info.FullCurrent = Bkinfo(misc, NativeHelpers.DbInfoMiscOffsetBkinfoFullCur);
            info.CopyPrev = Bkinfo(misc, NativeHelpers.DbInfoMiscOffsetBkinfoCopyPrev);
            info.DifferentialPrev = Bkinfo(misc, NativeHelpers.DbInfoMiscOffsetBkinfoDiffPrev);
            return info;
        }

        // JET_LGPOS: ib (u16), isec (u16), lGeneration (i32); returned as generation, sector, byte.
        private static int[] Lgpos(byte[] b, int at)
        {
            return new int[] { BitConverter.ToInt32(b, at + 4), BitConverter.ToUInt16(b, at + 2), BitConverter.ToUInt16(b, at) };
        }

        // JET_BKINFO: lgposMark (8), bklogtimeMark (8), genLow, genHigh. An all-zero slot is empty.
        private static BackupInfo Bkinfo(byte[] b, int at)
        {
            bool empty = true;
            for (int i = 0; i < 24; i++)
                empty &= b[at + i] == 0;
            if (empty)
                return null;
            BackupInfo bk = new BackupInfo();
            int[] mark = Lgpos(b, at);
            bk.MarkGeneration = mark[0];
            bk.MarkSector = (ushort)mark[1];
            bk.MarkByte = (ushort)mark[2];
            int t = at + 8;
            // bFiller1 = fTimeIsUTC:1 | bMillisecondsLow:7; bFiller2 = fOSSnapshot:1 | bMillisecondsHigh:3.
            int ms = (b[t + 6] >> 1) | (((b[t + 7] >> 1) & 0x7) << 7);
            bk.MarkTime = new int[] { b[t + 5] + 1900, b[t + 4], b[t + 3], b[t + 2], b[t + 1], b[t], ms };
            bk.OSSnapshot = (b[t + 7] & 0x1) != 0;
            bk.GenLow = BitConverter.ToUInt32(b, at + 16);
            bk.GenHigh = BitConverter.ToUInt32(b, at + 20);
            return bk;
        }
    }

    /// <summary>The log range of a streaming backup (JET_LOGINFO_W): what JetExternalRestore2W replays.</summary>
    public sealed class LogInfo
    {
        public uint GenLow;
        public uint GenHigh;
        public string BaseName;

        public NativeHelpers.JET_LOGINFO_W ToNative()
        {
            NativeHelpers.JET_LOGINFO_W native = new NativeHelpers.JET_LOGINFO_W();
            native.cbSize = checked((uint)Marshal.SizeOf(typeof(NativeHelpers.JET_LOGINFO_W)));
            native.ulGenLow = GenLow;
            native.ulGenHigh = GenHigh;
            native.szBaseName = BaseName;
            return native;
        }

        public static LogInfo FromNative(NativeHelpers.JET_LOGINFO_W native)
        {
            LogInfo info = new LogInfo();
            info.GenLow = native.ulGenLow;
            info.GenHigh = native.ulGenHigh;
            info.BaseName = native.szBaseName;
            return info;
        }
    }

    /// <summary>The one file JetOpenFileInstanceW opened: its handle (0 is valid) and reported size.</summary>
    public sealed class BackupFile
    {
        public IntPtr Handle;
        public long Size;
    }

    /// <summary>One JET_PFNSTATUS call during a restore, as the engine reported it.</summary>
    public delegate int RestoreStatus(uint snp, uint snt, uint done, uint total);

    /// <summary>Native memory aligned to NativeHelpers.BackupBufferAlignment, for JetReadFileInstance.</summary>
    public interface IAlignedBuffer : IDisposable
    {
        /// <summary>The aligned start address handed to the engine.</summary>
        IntPtr Pointer { get; }

        /// <summary>Usable bytes from Pointer.</summary>
        int Length { get; }
    }

    /// <summary>The platform seam: VirtualAlloc where it exists (Windows), an aligned HGlobal elsewhere (mono on Linux).</summary>
    public static class AlignedBuffer
    {
        public static IAlignedBuffer Allocate(int length)
        {
            if (length <= 0)
                throw new ArgumentOutOfRangeException("length", "an aligned buffer needs at least one byte");
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
                return new VirtualAllocBuffer(length);
            return new HGlobalAlignedBuffer(length, NativeHelpers.BackupBufferAlignment);
        }
    }

    /// <summary>VirtualAlloc memory: committed whole pages, so page aligned by construction.</summary>
    public sealed class VirtualAllocBuffer : IAlignedBuffer
    {
        private IntPtr memory;
        private readonly int length;

        public VirtualAllocBuffer(int length)
        {
            this.length = length;
            memory = Kernel32NativeMethods.VirtualAlloc(IntPtr.Zero, new UIntPtr(checked((uint)length)),
                Kernel32NativeMethods.MEM_COMMIT | Kernel32NativeMethods.MEM_RESERVE, Kernel32NativeMethods.PAGE_READWRITE);
            if (memory == IntPtr.Zero)
                throw new System.ComponentModel.Win32Exception(Marshal.GetLastWin32Error());
        }

        public IntPtr Pointer { get { return memory; } }

        public int Length { get { return length; } }

        public void Dispose()
        {
            if (memory != IntPtr.Zero)
            {
                // A failed release leaks the block; throwing from Dispose would hide the caller's own error.
                Kernel32NativeMethods.VirtualFree(memory, UIntPtr.Zero, Kernel32NativeMethods.MEM_RELEASE);
                memory = IntPtr.Zero;
            }
        }
    }

    /// <summary>AllocHGlobal of length + alignment - 1 bytes, used from the first aligned address in it.</summary>
    public sealed class HGlobalAlignedBuffer : IAlignedBuffer
    {
        private IntPtr block;
        private readonly IntPtr aligned;
        private readonly int length;

        public HGlobalAlignedBuffer(int length, int alignment)
        {
            if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
                throw new ArgumentException("the alignment must be a power of two", "alignment");
            this.length = length;
            block = Marshal.AllocHGlobal(checked(length + alignment - 1));
            long address = block.ToInt64();
            long mask = alignment - 1;
            aligned = new IntPtr(checked((address + mask) & ~mask));
        }

        public IntPtr Pointer { get { return aligned; } }

        public int Length { get { return length; } }

        public void Dispose()
        {
            if (block != IntPtr.Zero)
            {
                Marshal.FreeHGlobal(block);
                block = IntPtr.Zero;
            }
        }
    }

    /// <summary>The esent.dll calls the agent makes, checked.</summary>
    public static class Jet
    {
        /// <summary>Throws JetException for an error; returns the code (0 or a warning) otherwise.</summary>
        public static int Check(int err, string api)
        {
            if (err < 0)
                throw new JetException(err, api);
            return err;
        }

        public static IntPtr CreateInstance2(string name, string displayName)
        {
            if (String.IsNullOrEmpty(name))
                throw new ArgumentException("an instance name is required", "name");
            IntPtr instance;
            Check(NativeMethods.JetCreateInstance2W(out instance, name, displayName, 0), "JetCreateInstance2W");
            return instance;
        }

        public static void SetParameter(ref IntPtr instance, uint paramid, long value)
        {
            Check(NativeMethods.JetSetSystemParameterW(ref instance, IntPtr.Zero, paramid, new IntPtr(value), null), "JetSetSystemParameterW");
        }

        public static void SetParameter(ref IntPtr instance, uint paramid, string value)
        {
            Check(NativeMethods.JetSetSystemParameterW(ref instance, IntPtr.Zero, paramid, IntPtr.Zero, value), "JetSetSystemParameterW");
        }

        public static void SetGlobalParameter(uint paramid, long value)
        {
            Check(NativeMethods.JetSetSystemParameterGlobalW(IntPtr.Zero, IntPtr.Zero, paramid, new IntPtr(value), null), "JetSetSystemParameterW");
        }

        public static int Init3(ref IntPtr instance, uint grbit)
        {
            return Check(NativeMethods.JetInit3W(ref instance, IntPtr.Zero, grbit), "JetInit3W");
        }

        /// <summary>JetInit3W with a JET_RSTINFO_W whose map says where databases recorded in the logs now live.</summary>
        public static int Init3(ref IntPtr instance, IDictionary<string, string> restoreMap, uint grbit)
        {
            if (restoreMap == null)
                throw new ArgumentNullException("restoreMap");
            int mapStride = Marshal.SizeOf(typeof(NativeHelpers.JET_RSTMAP_W));
            List<IntPtr> strings = new List<IntPtr>();
            IntPtr map = IntPtr.Zero;
            IntPtr info = IntPtr.Zero;
            try
            {
                map = Marshal.AllocHGlobal(Math.Max(1, checked(restoreMap.Count * mapStride)));
                int n = 0;
                foreach (KeyValuePair<string, string> entry in restoreMap)
                {
                    NativeHelpers.JET_RSTMAP_W item = new NativeHelpers.JET_RSTMAP_W();
                    item.szDatabaseName = Marshal.StringToHGlobalUni(entry.Key);
                    strings.Add(item.szDatabaseName);
                    item.szNewDatabaseName = Marshal.StringToHGlobalUni(entry.Value);
                    strings.Add(item.szNewDatabaseName);
                    Marshal.StructureToPtr(item, new IntPtr(map.ToInt64() + checked((long)n * mapStride)), false);
                    n++;
                }
                NativeHelpers.JET_RSTINFO_W rst = new NativeHelpers.JET_RSTINFO_W();
                rst.cbStruct = checked((uint)Marshal.SizeOf(typeof(NativeHelpers.JET_RSTINFO_W)));
                rst.rgrstmap = map;
                rst.crstmap = n;
                info = Marshal.AllocHGlobal(Marshal.SizeOf(typeof(NativeHelpers.JET_RSTINFO_W)));
                Marshal.StructureToPtr(rst, info, false);
                return Check(NativeMethods.JetInit3W(ref instance, info, grbit), "JetInit3W");
            }
            finally
            {
                foreach (IntPtr s in strings)
                    Marshal.FreeHGlobal(s);
                if (map != IntPtr.Zero)
                    Marshal.FreeHGlobal(map);
                if (info != IntPtr.Zero)
                    Marshal.FreeHGlobal(info);
            }
        }

        public static void Term2(IntPtr instance, uint grbit)
        {
            Check(NativeMethods.JetTerm2(instance, grbit), "JetTerm2");
        }

        public static IntPtr BeginSession(IntPtr instance)
        {
            IntPtr sesid;
            Check(NativeMethods.JetBeginSessionW(instance, out sesid, null, null), "JetBeginSessionW");
            return sesid;
        }

        public static void EndSession(IntPtr sesid)
        {
            Check(NativeMethods.JetEndSession(sesid, 0), "JetEndSession");
        }

        public static int AttachDatabase2(IntPtr sesid, string path, uint grbit)
        {
            return Check(NativeMethods.JetAttachDatabase2W(sesid, path, 0, grbit), "JetAttachDatabase2W");
        }

        public static void DetachDatabase2(IntPtr sesid, string path, uint grbit)
        {
            Check(NativeMethods.JetDetachDatabase2W(sesid, path, grbit), "JetDetachDatabase2W");
        }

        /// <summary>The header facts of a database file on disk (needs no instance).</summary>
        public static DatabaseInfo GetDatabaseInfo(string path)
        {
            return DatabaseInfo.Decode(GetDatabaseInfoMisc(path));
        }

        /// <summary>The page size recorded in a database file's header (JET_DbInfoPageSize).</summary>
        public static uint GetDatabasePageSize(string path)
        {
            byte[] buffer = new byte[4];
            Check(NativeMethods.JetGetDatabaseFileInfoW(path, buffer, checked((uint)buffer.Length), NativeHelpers.JET_DbInfoPageSize),
                "JetGetDatabaseFileInfoW");
            return BitConverter.ToUInt32(buffer, 0);
        }

        /// <summary>JET_DBINFOMISC4 of a database file on disk, as raw bytes (decode by offset).</summary>
        public static byte[] GetDatabaseInfoMisc(string path)
        {
            byte[] buffer = new byte[NativeHelpers.DbInfoMisc4Size];
            Check(NativeMethods.JetGetDatabaseFileInfoW(path, buffer, checked((uint)buffer.Length), NativeHelpers.JET_DbInfoMisc),
                "JetGetDatabaseFileInfoW");
            return buffer;
        }

        public static IntPtr OSSnapshotPrepare(uint grbit)
        {
            IntPtr snapId;
            Check(NativeMethods.JetOSSnapshotPrepare(out snapId, grbit), "JetOSSnapshotPrepare");
            return snapId;
        }

        public static void OSSnapshotPrepareInstance(IntPtr snapId, IntPtr instance)
        {
            Check(NativeMethods.JetOSSnapshotPrepareInstance(snapId, instance, 0), "JetOSSnapshotPrepareInstance");
        }

        public static InstanceInfo[] OSSnapshotFreeze(IntPtr snapId, uint grbit)
        {
            uint count;
            IntPtr array;
            Check(NativeMethods.JetOSSnapshotFreezeW(snapId, out count, out array, grbit), "JetOSSnapshotFreezeW");
            return ConsumeInstanceInfo(count, array);
        }

        public static InstanceInfo[] OSSnapshotGetFreezeInfo(IntPtr snapId)
        {
            uint count;
            IntPtr array;
            Check(NativeMethods.JetOSSnapshotGetFreezeInfoW(snapId, out count, out array, 0), "JetOSSnapshotGetFreezeInfoW");
            return ConsumeInstanceInfo(count, array);
        }

        public static void OSSnapshotThaw(IntPtr snapId)
        {
            Check(NativeMethods.JetOSSnapshotThaw(snapId, 0), "JetOSSnapshotThaw");
        }

        public static void OSSnapshotTruncateLog(IntPtr snapId, uint grbit)
        {
            Check(NativeMethods.JetOSSnapshotTruncateLog(snapId, grbit), "JetOSSnapshotTruncateLog");
        }

        public static void OSSnapshotTruncateLogInstance(IntPtr snapId, IntPtr instance, uint grbit)
        {
            Check(NativeMethods.JetOSSnapshotTruncateLogInstance(snapId, instance, grbit), "JetOSSnapshotTruncateLogInstance");
        }

        public static void OSSnapshotEnd(IntPtr snapId, uint grbit)
        {
            Check(NativeMethods.JetOSSnapshotEnd(snapId, grbit), "JetOSSnapshotEnd");
        }

        public static void OSSnapshotAbort(IntPtr snapId)
        {
            Check(NativeMethods.JetOSSnapshotAbort(snapId, 0), "JetOSSnapshotAbort");
        }

        // -- streaming backup --------------------------------------------------------------------

        public static void BeginExternalBackup(IntPtr instance, uint grbit)
        {
            Check(NativeMethods.JetBeginExternalBackupInstance(instance, grbit), "JetBeginExternalBackupInstance");
        }

        /// <summary>The databases of a full backup (JetGetAttachInfoInstanceW: size query, then the list).</summary>
        public static string[] GetAttachInfo(IntPtr instance)
        {
            uint needed;
            Check(NativeMethods.JetGetAttachInfoInstanceW(instance, null, 0, out needed), "JetGetAttachInfoInstanceW");
            while (true)
            {
                byte[] buffer = new byte[needed];
                uint actual;
                Check(NativeMethods.JetGetAttachInfoInstanceW(instance, buffer, checked((uint)buffer.Length), out actual), "JetGetAttachInfoInstanceW");
                // *pcbActual is the full size even when the copy was silently truncated: retry bigger.
                if (actual <= buffer.Length)
                    return ParseMultiString(buffer, actual);
                needed = actual;
            }
        }

        public static BackupFile OpenFile(IntPtr instance, string path)
        {
            if (String.IsNullOrEmpty(path))
                throw new ArgumentException("a file name is required", "path");
            IntPtr handle;
            uint low, high;
            Check(NativeMethods.JetOpenFileInstanceW(instance, path, out handle, out low, out high), "JetOpenFileInstanceW");
            BackupFile file = new BackupFile();
            file.Handle = handle;  // 0 is the valid handle of the one file slot
            file.Size = checked((long)(((ulong)high << 32) | low));
            return file;
        }

        /// <summary>One JetReadFileInstance into an aligned buffer; 0 at the end of the file.</summary>
        public static int ReadFile(IntPtr instance, IntPtr handle, IAlignedBuffer buffer, int count)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (count <= 0 || count > buffer.Length)
                throw new ArgumentOutOfRangeException("count", "between 1 and the buffer length");
            uint actual;
            Check(NativeMethods.JetReadFileInstance(instance, handle, buffer.Pointer, checked((uint)count), out actual), "JetReadFileInstance");
            return checked((int)actual);
        }

        public static void CloseFile(IntPtr instance, IntPtr handle)
        {
            Check(NativeMethods.JetCloseFileInstance(instance, handle), "JetCloseFileInstance");
        }

        /// <summary>Open, read to the end through a page-aligned buffer of bufferBytes, write to destination, close.</summary>
        /// <returns>The bytes copied (the size JetOpenFileInstanceW reported).</returns>
        public static long StreamFile(IntPtr instance, string path, Stream destination, int bufferBytes)
        {
            if (destination == null)
                throw new ArgumentNullException("destination");
            BackupFile file = OpenFile(instance, path);
            long copied = 0;
            using (IAlignedBuffer buffer = AlignedBuffer.Allocate(bufferBytes))
            {
                byte[] managed = new byte[bufferBytes];
                while (true)
                {
                    int n = ReadFile(instance, file.Handle, buffer, bufferBytes);
                    if (n == 0)
                        break;
                    Marshal.Copy(buffer.Pointer, managed, 0, n);
                    destination.Write(managed, 0, n);
                    copied += n;
                }
            }
            if (copied != file.Size)
                throw new IOException(String.Format("{0}: read {1} bytes, JetOpenFileInstanceW reported {2}", path, copied, file.Size));
            CloseFile(instance, file.Handle);
            return copied;
        }

        /// <summary>The logs to copy and their range (JetGetLogInfoInstance2W; the first call rolls the log).</summary>
        public static string[] GetLogInfo(IntPtr instance, out LogInfo info)
        {
            NativeHelpers.JET_LOGINFO_W native = new LogInfo().ToNative();
            uint needed;
            Check(NativeMethods.JetGetLogInfoInstance2W(instance, null, 0, out needed, ref native), "JetGetLogInfoInstance2W");
            byte[] buffer = new byte[needed];
            uint actual;
            // With a buffer *pcbActual is min(cbMax, full): the list is fixed once the log has rolled.
            Check(NativeMethods.JetGetLogInfoInstance2W(instance, buffer, checked((uint)buffer.Length), out actual, ref native), "JetGetLogInfoInstance2W");
            info = LogInfo.FromNative(native);
            return ParseMultiString(buffer, actual);
        }

        /// <summary>The logs JetTruncateLogInstance would delete.</summary>
        public static string[] GetTruncateLogInfo(IntPtr instance)
        {
            uint needed;
            Check(NativeMethods.JetGetTruncateLogInfoInstanceW(instance, null, 0, out needed), "JetGetTruncateLogInfoInstanceW");
            byte[] buffer = new byte[needed];
            uint actual;
            Check(NativeMethods.JetGetTruncateLogInfoInstanceW(instance, buffer, checked((uint)buffer.Length), out actual), "JetGetTruncateLogInfoInstanceW");
            return ParseMultiString(buffer, actual);
        }

        public static void TruncateLog(IntPtr instance)
        {
            Check(NativeMethods.JetTruncateLogInstance(instance), "JetTruncateLogInstance");
        }

        /// <summary>JetEndExternalBackupInstance: a normal end.</summary>
        public static void EndExternalBackup(IntPtr instance)
        {
            Check(NativeMethods.JetEndExternalBackupInstance(instance), "JetEndExternalBackupInstance");
        }

        public static void EndExternalBackup(IntPtr instance, uint grbit)
        {
            Check(NativeMethods.JetEndExternalBackupInstance2(instance, grbit), "JetEndExternalBackupInstance2");
        }

        public static void StopBackup(IntPtr instance)
        {
            Check(NativeMethods.JetStopBackupInstance(instance), "JetStopBackupInstance");
        }

        /// <summary>A UTF-16 double-NUL list of cb bytes (W functions count bytes) as strings.</summary>
        public static string[] ParseMultiString(byte[] szz, uint cb)
        {
            int bytes = checked((int)Math.Min(cb, (uint)szz.Length));
            string all = Encoding.Unicode.GetString(szz, 0, bytes - bytes % 2);
            List<string> names = new List<string>();
            foreach (string name in all.Split('\0'))
            {
                if (name.Length == 0)
                    break;  // the extra NUL (or a silently truncated tail) ends the list
                names.Add(name);
            }
            return names.ToArray();
        }

        // -- restore -----------------------------------------------------------------------------

        /// <summary>JetExternalRestore2W: hard recovery of a streamed set (0, or 578 when a running target was named).</summary>
        public static int ExternalRestore2(string checkpointPath, string logPath, IList<KeyValuePair<string, string>> restoreMap,
            string backupLogPath, LogInfo info, string targetInstanceName, string targetLogPath, string targetCheckpointPath,
            RestoreStatus status)
        {
            if (info == null)
                throw new ArgumentNullException("info");
            if (restoreMap == null)
                throw new ArgumentNullException("restoreMap");
            if (restoreMap.Count > NativeHelpers.MaxRestoreMap)
                throw new ArgumentException("at most 14 restore map entries", "restoreMap");
            int stride = Marshal.SizeOf(typeof(NativeHelpers.JET_RSTMAP_W));
            List<IntPtr> strings = new List<IntPtr>();
            IntPtr map = IntPtr.Zero;
            NativeHelpers.JET_PFNSTATUS callback = null;
            if (status != null)
            {
                callback = delegate(IntPtr sesid, uint snp, uint snt, IntPtr pv)
                {
                    NativeHelpers.JET_SNPROG prog = new NativeHelpers.JET_SNPROG();
                    if (pv != IntPtr.Zero)
                        prog = (NativeHelpers.JET_SNPROG)Marshal.PtrToStructure(pv, typeof(NativeHelpers.JET_SNPROG));
                    return status(snp, snt, prog.cunitDone, prog.cunitTotal);
                };
            }
            try
            {
                if (restoreMap.Count > 0)
                {
                    map = Marshal.AllocHGlobal(checked(restoreMap.Count * stride));
                    for (int n = 0; n < restoreMap.Count; n++)
                    {
                        NativeHelpers.JET_RSTMAP_W item = new NativeHelpers.JET_RSTMAP_W();
                        item.szDatabaseName = Marshal.StringToHGlobalUni(restoreMap[n].Key);
                        strings.Add(item.szDatabaseName);
                        item.szNewDatabaseName = Marshal.StringToHGlobalUni(restoreMap[n].Value);
                        strings.Add(item.szNewDatabaseName);
                        Marshal.StructureToPtr(item, new IntPtr(map.ToInt64() + checked((long)n * stride)), false);
                    }
                }
                NativeHelpers.JET_LOGINFO_W native = info.ToNative();
                int err = NativeMethods.JetExternalRestore2W(checkpointPath, logPath, map, restoreMap.Count, backupLogPath, ref native,
                    targetInstanceName, targetLogPath, targetCheckpointPath, callback);
                return Check(err, "JetExternalRestore2W");
            }
            finally
            {
                // The engine may call back until it returns: the delegate must not be collected before.
                GC.KeepAlive(callback);
                foreach (IntPtr s in strings)
                    Marshal.FreeHGlobal(s);
                if (map != IntPtr.Zero)
                    Marshal.FreeHGlobal(map);
            }
        }

        /// <summary>Copy an engine-allocated JET_INSTANCE_INFO_W array, then free it with one JetFreeBuffer.</summary>
        public static InstanceInfo[] ConsumeInstanceInfo(uint count, IntPtr array)
        {
            if (array == IntPtr.Zero)
                return new InstanceInfo[0];  // a count of 0 comes with NULL: nothing to free
            try
            {
                int stride = Marshal.SizeOf(typeof(NativeHelpers.JET_INSTANCE_INFO_W));
                List<InstanceInfo> result = new List<InstanceInfo>();
                for (uint i = 0; i < count; i++)
                {
                    IntPtr item = new IntPtr(array.ToInt64() + checked((long)i * stride));
                    NativeHelpers.JET_INSTANCE_INFO_W raw = (NativeHelpers.JET_INSTANCE_INFO_W)Marshal.PtrToStructure(
                        item, typeof(NativeHelpers.JET_INSTANCE_INFO_W));
                    long databases = raw.cDatabases.ToInt64();
                    string[] names = new string[checked((int)databases)];
                    for (int d = 0; d < names.Length; d++)
                        names[d] = Marshal.PtrToStringUni(Marshal.ReadIntPtr(raw.szDatabaseFileName, d * IntPtr.Size));
                    InstanceInfo info = new InstanceInfo();
                    info.Instance = raw.hInstanceId;
                    info.Name = raw.szInstanceName == IntPtr.Zero ? null : Marshal.PtrToStringUni(raw.szInstanceName);
                    info.Databases = names;
                    result.Add(info);
                }
                return result.ToArray();
            }
            finally
            {
                // Once, on the array pointer: strings and pointer arrays live in the same block.
                // JetFreeBuffer always succeeds, and a throw here would hide the copy's own error.
                NativeMethods.JetFreeBuffer(array);
            }
        }
    }
}
