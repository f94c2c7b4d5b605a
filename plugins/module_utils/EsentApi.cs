// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Thin wrappers over the esent.dll imports: one per call; each converts its arguments, calls the
// import, and passes the result to Check(), which throws the one JetException type (code + API)
// for errors and hands warnings back. Engine-allocated arrays are copied, then freed once.
// C# 5 only, no `unsafe`.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
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

    /// <summary>The header facts of JET_DBINFOMISC4, decoded by offset (windows-host.md 3.8).</summary>
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
