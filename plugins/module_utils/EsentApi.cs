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
        /// <summary>signDb as esentutl prints it (FormatSignature).</summary>
        public string Signature;
        /// <summary>signLog as esentutl prints it; null for a database that never had logs (an empty slot).</summary>
        public string LogSignature;

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
            info.Signature = FormatSignatureFields(misc, NativeHelpers.DbInfoMiscOffsetSignDb);
            info.LogSignature = FormatSignature(misc, NativeHelpers.DbInfoMiscOffsetSignLog);
            return info;
        }

        /// <summary>A JET_SIGNATURE (28 bytes at offset at) as esentutl prints it, or null when all 28 bytes are zero (no signature).</summary>
        /// <remarks>"Create time:MM/DD/YYYY hh:mm:ss Rand:N Computer:NAME", the text the Python agent's manifests carry.</remarks>
        public static string FormatSignature(byte[] b, int at)
        {
            if (b == null || at < 0 || b.Length < at + NativeHelpers.SignatureSize)
                throw new ArgumentException("a JET_SIGNATURE is 28 bytes", "b");
            bool empty = true;
            for (int i = 0; i < NativeHelpers.SignatureSize; i++)
                empty &= b[at + i] == 0;
            return empty ? null : FormatSignatureFields(b, at);
        }

        // ulRandom (4), logtimeCreate (8: seconds, minutes, hours, day, month, year - 1900, fillers), then the ANSI name.
        private static string FormatSignatureFields(byte[] b, int at)
        {
            uint random = BitConverter.ToUInt32(b, at);
            int t = at + 4;
            int nameAt = at + 12;
            int nameLength = 0;
            while (nameLength < 16 && b[nameAt + nameLength] != 0)
                nameLength++;
            return String.Format("Create time:{0:00}/{1:00}/{2:0000} {3:00}:{4:00}:{5:00} Rand:{6} Computer:{7}",
                b[t + 4], b[t + 3], b[t + 5] + 1900, b[t + 2], b[t + 1], b[t], random, Encoding.ASCII.GetString(b, nameAt, nameLength));
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

    /// <summary>JET_CHECKPOINTINFO of a running instance: the generation the checkpoint points at, and the current one.</summary>
    public sealed class CheckpointInfo
    {
        public uint GenMin;
        public uint GenMax;

        /// <summary>Decode JET_CHECKPOINTINFO (at least 16 bytes: genMin, genMax, logtimeGenMaxCreate).</summary>
        public static CheckpointInfo Decode(byte[] raw)
        {
            if (raw == null || raw.Length < NativeHelpers.CheckpointInfoSize)
                throw new ArgumentException("a JET_CHECKPOINTINFO is 16 bytes", "raw");
            CheckpointInfo info = new CheckpointInfo();
            info.GenMin = BitConverter.ToUInt32(raw, 0);
            info.GenMax = BitConverter.ToUInt32(raw, 4);
            return info;
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

    /// <summary>Read sizes JetReadFileInstance accepts (docs/dev/ese-facts.md P13).</summary>
    public static class BackupReads
    {
        /// <summary>The read size nearest preferredBytes that ESE accepts for every read of a file.</summary>
        /// <remarks>A multiple of the database page size (rounded down), and at least 3 pages, so the first
        /// read of a database (3 pages) and of a log (2) pass too: a 64 KiB buffer is 2 pages of a 32 KiB-page
        /// store, which ESE refuses with -1003; this gives 96 KiB there.</remarks>
        public static int ReadSize(int preferredBytes, uint pageSize)
        {
            if (pageSize == 0 || (pageSize & (pageSize - 1)) != 0 || pageSize > 65536)
                throw new ArgumentOutOfRangeException("pageSize", "a database page size is a power of two up to 64 KiB");
            if (preferredBytes <= 0)
                throw new ArgumentOutOfRangeException("preferredBytes", "at least one byte");
            long pages = Math.Max(preferredBytes / pageSize, NativeHelpers.MinFirstReadPagesDatabase);
            return checked((int)(pages * pageSize));
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

        /// <summary>An integer parameter of an instance; value must fit JET_API_PTR (32 bits in an x86 process).</summary>
        public static void SetParameter(ref IntPtr instance, uint paramid, long value)
        {
            Check(NativeMethods.JetSetSystemParameterW(ref instance, IntPtr.Zero, paramid, ToApiPtr(value), null), "JetSetSystemParameterW");
        }

        public static void SetParameter(ref IntPtr instance, uint paramid, string value)
        {
            Check(NativeMethods.JetSetSystemParameterW(ref instance, IntPtr.Zero, paramid, IntPtr.Zero, value), "JetSetSystemParameterW");
        }

        public static void SetGlobalParameter(uint paramid, long value)
        {
            Check(NativeMethods.JetSetSystemParameterGlobalW(IntPtr.Zero, IntPtr.Zero, paramid, ToApiPtr(value), null), "JetSetSystemParameterW");
        }

        /// <summary>JET_paramOSSnapshotTimeout (global): how long ESE keeps a freeze before it thaws by itself.</summary>
        /// <remarks>The parameter is in milliseconds (a lease in seconds passed as is would expire a thousand
        /// times too early); rounded up to a whole millisecond, at most 0x7FFFFFFF ms (about 24.8 days).</remarks>
        public static void SetSnapshotTimeout(TimeSpan timeout)
        {
            double ms = Math.Ceiling(timeout.TotalMilliseconds);
            if (ms < 0 || ms > Int32.MaxValue)
                throw new ArgumentOutOfRangeException("timeout", "between 0 and 0x7FFFFFFF milliseconds");
            SetGlobalParameter(NativeHelpers.JET_paramOSSnapshotTimeout, (long)ms);
        }

        /// <summary>An integer parameter (instance IntPtr.Zero: a global one, such as the page size).</summary>
        public static long GetParameterLong(IntPtr instance, uint paramid)
        {
            IntPtr value = IntPtr.Zero;
            Check(NativeMethods.JetGetSystemParameterW(instance, IntPtr.Zero, paramid, ref value, null, 0), "JetGetSystemParameterW");
            return FromApiPtr(value);
        }

        /// <summary>A string parameter (paths, the base name); a longer value is read again with a bigger buffer.</summary>
        public static string GetParameterString(IntPtr instance, uint paramid)
        {
            for (int chars = 1024; ; chars *= 2)
            {
                byte[] buffer = new byte[chars * 2];
                IntPtr unused = IntPtr.Zero;
                int err = NativeMethods.JetGetSystemParameterW(instance, IntPtr.Zero, paramid, ref unused, buffer, checked((uint)buffer.Length));
                if (err == NativeHelpers.JET_errBufferTooSmall && chars < 32768)
                    continue;  // the engine copied a truncated value: 32767 characters is the longest Windows path
                Check(err, "JetGetSystemParameterW");
                string all = Encoding.Unicode.GetString(buffer);
                int end = all.IndexOf('\0');
                return end < 0 ? all : all.Substring(0, end);
            }
        }

        // JET_API_PTR is ULONG_PTR: 64 bits in an x64 process, 32 in an x86 one, where values up to
        // 0xFFFFFFFF are passed by their bits (new IntPtr(long) would throw above 0x7FFFFFFF there).
        private static IntPtr ToApiPtr(long value)
        {
            if (IntPtr.Size == 8)
                return new IntPtr(value);
            if (value < Int32.MinValue || value > UInt32.MaxValue)
                throw new ArgumentOutOfRangeException("value", "JET_API_PTR is 32 bits in an x86 process");
            return new IntPtr(unchecked((int)value));
        }

        // The reverse: unsigned in an x86 process (ULONG_PTR), as is in an x64 one.
        private static long FromApiPtr(IntPtr value)
        {
            return IntPtr.Size == 8 ? value.ToInt64() : unchecked((uint)value.ToInt32());
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

        /// <summary>The running instances of this process and their databases (JetGetInstanceInfoW).</summary>
        public static InstanceInfo[] GetInstanceInfo()
        {
            uint count;
            IntPtr array;
            Check(NativeMethods.JetGetInstanceInfoW(out count, out array), "JetGetInstanceInfoW");
            return ConsumeInstanceInfo(count, array);
        }

        /// <summary>The signature of the instance's log stream as esentutl prints it; null when it has none (all zero).</summary>
        public static string GetInstanceLogSignature(IntPtr instance)
        {
            byte[] buffer = new byte[NativeHelpers.SignatureSize];
            Check(NativeMethods.JetGetInstanceMiscInfo(instance, buffer, checked((uint)buffer.Length), NativeHelpers.JET_InstanceMiscInfoLogSignature),
                "JetGetInstanceMiscInfo");
            return DatabaseInfo.FormatSignature(buffer, 0);
        }

        /// <summary>The checkpoint's generation and the current one (JET_InstanceMiscInfoCheckpoint: outside the public esent.h).</summary>
        public static CheckpointInfo GetInstanceCheckpointInfo(IntPtr instance)
        {
            byte[] buffer = new byte[NativeHelpers.CheckpointInfoSize];
            Check(NativeMethods.JetGetInstanceMiscInfo(instance, buffer, checked((uint)buffer.Length), NativeHelpers.JET_InstanceMiscInfoCheckpoint),
                "JetGetInstanceMiscInfo");
            return CheckpointInfo.Decode(buffer);
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

        /// <summary>The dbid of a database attached to the session's instance (JetOpenDatabaseW).</summary>
        /// <remarks>JET_DBID is a 32-bit `unsigned long`; it travels as an IntPtr with the other handles and
        /// GetOpenDatabaseInfo takes its low 32 bits back.</remarks>
        public static IntPtr OpenDatabase(IntPtr sesid, string path)
        {
            if (String.IsNullOrEmpty(path))
                throw new ArgumentException("a database path is required", "path");
            uint dbid;
            Check(NativeMethods.JetOpenDatabaseW(sesid, path, null, out dbid, 0), "JetOpenDatabaseW");
            return new IntPtr(unchecked((int)dbid));
        }

        /// <summary>The header of a database open in the session, as the engine holds it (readable while attached).</summary>
        public static DatabaseInfo GetOpenDatabaseInfo(IntPtr sesid, IntPtr dbid)
        {
            byte[] buffer = new byte[NativeHelpers.DbInfoMisc4Size];
            Check(NativeMethods.JetGetDatabaseInfoW(sesid, unchecked((uint)dbid.ToInt64()), buffer, checked((uint)buffer.Length), NativeHelpers.JET_DbInfoMisc),
                "JetGetDatabaseInfoW");
            return DatabaseInfo.Decode(buffer);
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

        /// <summary>Freeze every instance of the session (JetOSSnapshotFreezeW's grbit is reserved: always 0).</summary>
        public static InstanceInfo[] OSSnapshotFreeze(IntPtr snapId)
        {
            uint count;
            IntPtr array;
            Check(NativeMethods.JetOSSnapshotFreezeW(snapId, out count, out array, 0), "JetOSSnapshotFreezeW");
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

        /// <summary>Delete the logs the snapshot made unnecessary, for every instance of the session.</summary>
        /// <remarks>Always with JET_bitAllDatabasesSnapshot: with 0 ESE succeeds and deletes nothing.</remarks>
        public static void OSSnapshotTruncateLog(IntPtr snapId)
        {
            Check(NativeMethods.JetOSSnapshotTruncateLog(snapId, NativeHelpers.JET_bitAllDatabasesSnapshot), "JetOSSnapshotTruncateLog");
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

        /// <summary>StreamFile with the engine's page size (JET_paramDatabasePageSize, global).</summary>
        public static long StreamFile(IntPtr instance, string path, Stream destination, int bufferBytes)
        {
            return StreamFile(instance, path, destination, bufferBytes,
                checked((uint)GetParameterLong(IntPtr.Zero, NativeHelpers.JET_paramDatabasePageSize)));
        }

        /// <summary>Open, read to the end through a page-aligned buffer, write to destination, close (always).</summary>
        /// <param name="bufferBytes">The preferred read size; BackupReads.ReadSize makes it one ESE accepts.</param>
        /// <param name="pageSize">The database page size of the engine (JET_paramDatabasePageSize).</param>
        /// <returns>The bytes copied (the size JetOpenFileInstanceW reported).</returns>
        public static long StreamFile(IntPtr instance, string path, Stream destination, int bufferBytes, uint pageSize)
        {
            if (destination == null)
                throw new ArgumentNullException("destination");
            int chunk = BackupReads.ReadSize(bufferBytes, pageSize);
            BackupFile file = OpenFile(instance, path);
            long copied = 0;
            bool completed = false;
            try
            {
                using (IAlignedBuffer buffer = AlignedBuffer.Allocate(chunk))
                {
                    byte[] managed = new byte[chunk];
                    while (true)
                    {
                        int n = ReadFile(instance, file.Handle, buffer, chunk);
                        if (n == 0)
                            break;
                        Marshal.Copy(buffer.Pointer, managed, 0, n);
                        destination.Write(managed, 0, n);
                        copied += n;
                    }
                }
                completed = true;
            }
            finally
            {
                // ESE has one backup file slot: a file left open makes every later JetOpenFileInstanceW
                // fail with -1011. After an earlier error the close result must not hide that error.
                int closed = NativeMethods.JetCloseFileInstance(instance, file.Handle);
                if (completed)
                    Check(closed, "JetCloseFileInstance");
            }
            if (copied != file.Size)
                throw new IOException(String.Format("{0}: read {1} bytes, JetOpenFileInstanceW reported {2}", path, copied, file.Size));
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
