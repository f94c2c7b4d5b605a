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
                NativeMethods.JetFreeBuffer(array);
            }
        }
    }
}
