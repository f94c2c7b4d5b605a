// Test driver (do not use directly): runs a script of esent.dll calls through the helper's C#
// P/Invoke layer (EsentNative.cs + EsentApi.cs) against whatever library "esent.dll" maps to, and
// prints one JSON object per step. tests/unit/native/test_native_face.py runs the same script
// directly against the Python engine and compares. C# 5 (mcs -langversion:5).
//
//   mono FaceDriver.exe layouts          struct layouts as Marshal sees them, and as the C side does
//   mono FaceDriver.exe run SCRIPT       execute SCRIPT (one tab-separated step per line)
using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;

public static class FaceDriver
{
    // TEST-ONLY export of the native face (not in esent.dll): layouts, live blocks, the clock.
    [DllImport(NativeMethods.EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
    private static extern int EsesimFaceQueryW(string request, StringBuilder response, uint cchMax, out uint cchActual);

    private static readonly Dictionary<string, IntPtr> Vars = new Dictionary<string, IntPtr>();

    public static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "layouts")
        {
            Console.WriteLine(Layouts());
            Console.WriteLine(Query("{\"op\": \"layouts\"}"));
            return 0;
        }
        if (args.Length == 2 && args[0] == "run")
        {
            int n = 0;
            foreach (string line in File.ReadAllLines(args[1]))
            {
                if (line.Trim().Length == 0 || line.StartsWith("#"))
                    continue;
                Console.WriteLine(Step(n++, line.Split('\t')));
            }
            Console.WriteLine("{\"face\": \"blocks\", \"answer\": " + Query("{\"op\": \"blocks\"}") + "}");
            Console.WriteLine("{\"face\": \"errors\", \"answer\": " + Query("{\"op\": \"errors\"}") + "}");
            return 0;
        }
        Console.Error.WriteLine("usage: FaceDriver layouts | run SCRIPT");
        return 2;
    }

    private static string Query(string request)
    {
        uint needed;
        StringBuilder buffer = new StringBuilder(1);
        int err = EsesimFaceQueryW(request, buffer, 1, out needed);
        if (err != -1038)
            throw new InvalidOperationException("EsesimFaceQueryW probe returned " + err);
        buffer = new StringBuilder(checked((int)needed));
        err = EsesimFaceQueryW(request, buffer, needed, out needed);
        if (err != 0)
            throw new InvalidOperationException("EsesimFaceQueryW returned " + err);
        return buffer.ToString();
    }

    // -- one step --------------------------------------------------------------------------------

    private static IntPtr Handle(string token)
    {
        if (token.StartsWith("$"))
            return Vars[token];
        return new IntPtr(token.StartsWith("0x") ? Convert.ToInt64(token.Substring(2), 16) : Convert.ToInt64(token));
    }

    private static uint U(string token)
    {
        return token.StartsWith("0x") ? Convert.ToUInt32(token.Substring(2), 16) : Convert.ToUInt32(token);
    }

    private static string Step(int n, string[] t)
    {
        Json j = new Json();
        j.Add("step", n).Add("op", t[0]);
        try
        {
            Run(t, j);
            if (!j.Has("err"))
                j.Add("err", 0);
        }
        catch (JetException ex)
        {
            j.Add("err", ex.Code).Add("api", ex.Api).Add("name", ex.Info.Name).Add("message", ex.Message);
        }
        return j.ToString();
    }

    private static void Run(string[] t, Json j)
    {
        IntPtr inst;
        switch (t[0])
        {
            case "create":
                Vars[t[1]] = Jet.CreateInstance2(t[2], t[2]);
                j.Add("handle", Vars[t[1]].ToInt64());
                break;
            case "param":
                inst = Vars[t[1]];
                Jet.SetParameter(ref inst, U(t[2]), Convert.ToInt64(t[3]));
                break;
            case "sparam":
                inst = Vars[t[1]];
                Jet.SetParameter(ref inst, U(t[2]), t[3]);
                break;
            case "gparam":
                Jet.SetGlobalParameter(U(t[1]), Convert.ToInt64(t[2]));
                break;
            case "init":
                inst = Handle(t[1]);
                j.Add("err", Jet.Init3(ref inst, U(t[2])));
                break;
            case "initmap":
                inst = Handle(t[1]);
                Dictionary<string, string> map = new Dictionary<string, string>();
                for (int i = 3; i + 1 < t.Length; i += 2)
                    map[t[i]] = t[i + 1];
                j.Add("err", Jet.Init3(ref inst, map, U(t[2])));
                break;
            case "term":
                Jet.Term2(Handle(t[1]), U(t[2]));
                break;
            case "begin":
                Vars[t[1]] = Jet.BeginSession(Handle(t[2]));
                j.Add("handle", Vars[t[1]].ToInt64());
                break;
            case "endses":
                Jet.EndSession(Handle(t[1]));
                break;
            case "attach":
                j.Add("err", Jet.AttachDatabase2(Handle(t[1]), t[2], U(t[3])));
                break;
            case "detach":
                Jet.DetachDatabase2(Handle(t[1]), t[2] == "-" ? null : t[2], U(t[3]));
                break;
            case "dbinfo":
                DatabaseInfo(Jet.GetDatabaseInfo(t[1]), j);
                break;
            case "pagesize":
                j.Add("page_size", Jet.GetDatabasePageSize(t[1]));
                break;
            case "prepare":
                Vars[t[1]] = Jet.OSSnapshotPrepare(U(t[2]));
                j.Add("snapid", Vars[t[1]].ToInt64());
                break;
            case "prepinst":
                Jet.OSSnapshotPrepareInstance(Handle(t[1]), Handle(t[2]));
                break;
            case "freeze":
                Instances(Jet.OSSnapshotFreeze(Handle(t[1]), U(t[2])), j);
                break;
            case "freezeinfo":
                Instances(Jet.OSSnapshotGetFreezeInfo(Handle(t[1])), j);
                break;
            case "thaw":
                Jet.OSSnapshotThaw(Handle(t[1]));
                break;
            case "trunc":
                Jet.OSSnapshotTruncateLog(Handle(t[1]), U(t[2]));
                break;
            case "truncinst":
                Jet.OSSnapshotTruncateLogInstance(Handle(t[1]), Handle(t[2]), U(t[3]));
                break;
            case "end":
                Jet.OSSnapshotEnd(Handle(t[1]), U(t[2]));
                break;
            case "abort":
                Jet.OSSnapshotAbort(Handle(t[1]));
                break;
            // Raw imports: grbits the wrappers pin to 0, and JetFreeBuffer of a pointer the engine never returned.
            case "rawthaw":
                j.Add("err", Jet.Check(NativeMethods.JetOSSnapshotThaw(Handle(t[1]), U(t[2])), "JetOSSnapshotThaw"));
                break;
            case "rawabort":
                j.Add("err", Jet.Check(NativeMethods.JetOSSnapshotAbort(Handle(t[1]), U(t[2])), "JetOSSnapshotAbort"));
                break;
            case "rawprepinst":
                j.Add("err", Jet.Check(NativeMethods.JetOSSnapshotPrepareInstance(Handle(t[1]), Handle(t[2]), U(t[3])), "JetOSSnapshotPrepareInstance"));
                break;
            case "rawfreezeinfo":
                uint count;
                IntPtr array;
                Jet.Check(NativeMethods.JetOSSnapshotGetFreezeInfoW(Handle(t[1]), out count, out array, U(t[2])), "JetOSSnapshotGetFreezeInfoW");
                Instances(Jet.ConsumeInstanceInfo(count, array), j);
                break;
            case "badfree":
                j.Add("err", NativeMethods.JetFreeBuffer(Handle(t[1])));
                break;
            case "advance":
                Query("{\"op\": \"advance\", \"seconds\": " + t[1] + "}");
                break;
            default:
                throw new ArgumentException("unknown step " + t[0]);
        }
    }

    private static void Instances(InstanceInfo[] infos, Json j)
    {
        List<string> items = new List<string>();
        foreach (InstanceInfo info in infos)
            items.Add(new Json().Add("handle", info.Instance.ToInt64()).Add("name", info.Name).Add("databases", info.Databases).ToString());
        j.Raw("instances", "[" + String.Join(", ", items.ToArray()) + "]");
    }

    private static void DatabaseInfo(DatabaseInfo d, Json j)
    {
        j.Add("version", d.Version).Add("sign_random", d.SignatureRandom).Add("computer", d.ComputerName).Add("dbstate", d.DbState);
        j.Add("page_size", d.PageSize).Add("gen_min_required", d.GenMinRequired).Add("gen_max_required", d.GenMaxRequired);
        j.Add("gen_committed", d.GenCommitted).Add("lgpos_consistent", d.LgposConsistent).Add("lgpos_attach", d.LgposAttach);
        j.Add("lgpos_detach", d.LgposDetach);
        Backup(j, "bkinfo_full_prev", d.FullPrev);
        Backup(j, "bkinfo_inc_prev", d.IncrementalPrev);
        Backup(j, "bkinfo_full_cur", d.FullCurrent);
        Backup(j, "bkinfo_copy_prev", d.CopyPrev);
        Backup(j, "bkinfo_diff_prev", d.DifferentialPrev);
    }

    private static void Backup(Json j, string key, BackupInfo b)
    {
        if (b == null)
        {
            j.Raw(key, "null");
            return;
        }
        Json o = new Json().Add("gen_low", b.GenLow).Add("gen_high", b.GenHigh);
        o.Add("lgpos_mark", new int[] { b.MarkGeneration, b.MarkSector, b.MarkByte }).Add("time", b.MarkTime).Add("os_snapshot", b.OSSnapshot);
        j.Raw(key, o.ToString());
    }

    // -- layouts -------------------------------------------------------------------------------

    private static string Layouts()
    {
        Json all = new Json().Add("pointer", IntPtr.Size);
        foreach (Type type in typeof(NativeHelpers).GetNestedTypes())
        {
            if (!type.IsValueType)
                continue;
            Json fields = new Json();
            foreach (FieldInfo f in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
                fields.Add(f.Name, new int[] { Marshal.OffsetOf(type, f.Name).ToInt32(), FieldSize(f) });
            all.Raw(type.Name, new Json().Add("size", Marshal.SizeOf(type)).Raw("fields", fields.ToString()).ToString());
        }
        Json misc = new Json();
        foreach (FieldInfo f in typeof(NativeHelpers).GetFields(BindingFlags.Public | BindingFlags.Static))
            if (f.Name.StartsWith("DbInfoMisc"))
                misc.Add(f.Name, (int)f.GetValue(null));
        all.Raw("DbInfoMisc", misc.ToString());
        return all.ToString();
    }

    private static int FieldSize(FieldInfo f)
    {
        MarshalAsAttribute ma = (MarshalAsAttribute)Attribute.GetCustomAttribute(f, typeof(MarshalAsAttribute));
        if (ma != null && ma.Value == UnmanagedType.ByValTStr)
            return ma.SizeConst * 2;  // the structs holding strings are CharSet.Unicode
        if (ma != null && ma.Value == UnmanagedType.ByValArray)
            return ma.SizeConst * Marshal.SizeOf(f.FieldType.GetElementType());
        return Marshal.SizeOf(f.FieldType);
    }

    // -- a very small JSON writer (C# 5 on mono has no serializer we can rely on) --------------

    private sealed class Json
    {
        private readonly List<string> parts = new List<string>();
        private readonly HashSet<string> keys = new HashSet<string>();

        public bool Has(string key)
        {
            return keys.Contains(key);
        }

        public Json Raw(string key, string value)
        {
            keys.Add(key);
            parts.Add(Quote(key) + ": " + value);
            return this;
        }

        public Json Add(string key, long value)
        {
            return Raw(key, value.ToString());
        }

        public Json Add(string key, bool value)
        {
            return Raw(key, value ? "true" : "false");
        }

        public Json Add(string key, string value)
        {
            return Raw(key, value == null ? "null" : Quote(value));
        }

        public Json Add(string key, int[] values)
        {
            List<string> items = new List<string>();
            foreach (int v in values)
                items.Add(v.ToString());
            return Raw(key, "[" + String.Join(", ", items.ToArray()) + "]");
        }

        public Json Add(string key, string[] values)
        {
            List<string> items = new List<string>();
            foreach (string v in values)
                items.Add(v == null ? "null" : Quote(v));
            return Raw(key, "[" + String.Join(", ", items.ToArray()) + "]");
        }

        public override string ToString()
        {
            return "{" + String.Join(", ", parts.ToArray()) + "}";
        }

        private static string Quote(string s)
        {
            StringBuilder b = new StringBuilder("\"");
            foreach (char c in s)
            {
                if (c == '"' || c == '\\')
                    b.Append('\\').Append(c);
                else if (c < 0x20 || c > 0x7e)
                    b.Append("\\u").Append(((int)c).ToString("x4"));
                else
                    b.Append(c);
            }
            return b.Append('"').ToString();
        }
    }
}
