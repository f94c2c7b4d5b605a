// Test driver (do not use directly): runs a script of esent.dll calls through the helper's C#
// P/Invoke layer (EsentNative.cs + EsentApi.cs) against whatever library "esent.dll" maps to, and
// prints one JSON object per step. tests/unit/native/test_native_face.py runs the same script
// directly against the Python engine and compares. C# 5 (mcs -langversion:5).
//
//   mono FaceDriver.exe layouts          struct layouts as Marshal sees them, and as the C side does
//   mono FaceDriver.exe run SCRIPT       execute SCRIPT (one tab-separated step per line)
//   mono FaceDriver.exe signatures DLL   parameter types of the imports and of chosen wrappers in DLL
//
// Windows paths in copy steps ("C:\\bk\\one.edb") map to the face's volume folders
// (<ESESIM_FACE_ROOT>/vol_C/bk/one.edb), as the engine's Host maps them.
using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.EsentNative;

public static class FaceDriver
{
    // TEST-ONLY export of the native face (not in esent.dll): layouts, live blocks, the clock.
    [DllImport(NativeMethods.EsentDll, CharSet = CharSet.Unicode, ExactSpelling = true)]
    private static extern int EsesimFaceQueryW(string request, StringBuilder response, uint cchMax, out uint cchActual);

    private static readonly Dictionary<string, IntPtr> Vars = new Dictionary<string, IntPtr>();
    private static readonly Dictionary<string, LogInfo> LogInfos = new Dictionary<string, LogInfo>();
    private static string[] lastLogs = new string[0];  // the last loginfo's list: "@logN" names entry N

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
        if (args.Length == 2 && args[0] == "signatures")
        {
            Console.WriteLine(Signatures(args[1]));
            return 0;
        }
        Console.Error.WriteLine("usage: FaceDriver layouts | run SCRIPT | signatures DLL");
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
                Instances(Jet.OSSnapshotFreeze(Handle(t[1])), j);
                break;
            case "freezeinfo":
                Instances(Jet.OSSnapshotGetFreezeInfo(Handle(t[1])), j);
                break;
            case "thaw":
                Jet.OSSnapshotThaw(Handle(t[1]));
                break;
            case "trunc":
                Jet.OSSnapshotTruncateLog(Handle(t[1]));
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
            case "rawtrunc":
                j.Add("err", Jet.Check(NativeMethods.JetOSSnapshotTruncateLog(Handle(t[1]), U(t[2])), "JetOSSnapshotTruncateLog"));
                break;
            case "rawfreeze":
                {
                    uint frozen;
                    IntPtr block;
                    Jet.Check(NativeMethods.JetOSSnapshotFreezeW(Handle(t[1]), out frozen, out block, U(t[2])), "JetOSSnapshotFreezeW");
                    Instances(Jet.ConsumeInstanceInfo(frozen, block), j);
                }
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
            // -- streaming backup ------------------------------------------------------------------
            case "bkbegin":
                Jet.BeginExternalBackup(Handle(t[1]), U(t[2]));
                break;
            case "attachinfo":
                j.Add("databases", Jet.GetAttachInfo(Handle(t[1])));
                break;
            case "attachprobe":
                // Raw: a caller buffer of cbMax bytes (silently truncated, *pcbActual the full size).
                {
                    byte[] szz = new byte[U(t[2])];
                    uint actual;
                    Jet.Check(NativeMethods.JetGetAttachInfoInstanceW(Handle(t[1]), szz, U(t[2]), out actual), "JetGetAttachInfoInstanceW");
                    j.Add("cb_actual", actual).Add("hex", Hex(szz, szz.Length));
                }
                break;
            case "open":
                {
                    BackupFile file = Jet.OpenFile(Handle(t[1]), t[3].StartsWith("@log") ? lastLogs[Convert.ToInt32(t[3].Substring(4))] : t[3]);
                    Vars[t[2]] = file.Handle;
                    j.Add("handle", file.Handle.ToInt64()).Add("size", file.Size);
                }
                break;
            case "read":
                using (IAlignedBuffer buffer = AlignedBuffer.Allocate(checked((int)U(t[3]))))
                {
                    int n = Jet.ReadFile(Handle(t[1]), Handle(t[2]), buffer, buffer.Length);
                    j.Add("n", n).Add("sha", Sha(buffer.Pointer, n)).Add("aligned", buffer.Pointer.ToInt64() % NativeHelpers.BackupBufferAlignment == 0);
                }
                break;
            case "readmis":
                // Raw: the aligned buffer's pointer moved by t[4] bytes (the buffer has room for it).
                using (IAlignedBuffer buffer = AlignedBuffer.Allocate(checked((int)(U(t[3]) + U(t[4])))))
                {
                    uint actual;
                    IntPtr pv = new IntPtr(buffer.Pointer.ToInt64() + U(t[4]));
                    j.Add("err", Jet.Check(NativeMethods.JetReadFileInstance(Handle(t[1]), Handle(t[2]), pv, U(t[3]), out actual), "JetReadFileInstance"));
                }
                break;
            case "readall":
                ReadAll(Handle(t[1]), Handle(t[2]), checked((int)U(t[3])), t[4], j);
                break;
            case "close":
                Jet.CloseFile(Handle(t[1]), Handle(t[2]));
                break;
            case "copy":
                // The wrapper an agent uses: open, aligned reads to the end, close.
                using (FileStream dest = Create(t[3]))
                {
                    j.Add("bytes", Jet.StreamFile(Handle(t[1]), t[2], dest, checked((int)U(t[4]))));
                }
                j.Add("sha", FileSha(t[3]));
                break;
            case "loginfo":
                {
                    LogInfo info;
                    lastLogs = Jet.GetLogInfo(Handle(t[1]), out info);
                    j.Add("logs", lastLogs);
                    LogInfos[t[2]] = info;
                    j.Add("gen_low", info.GenLow).Add("gen_high", info.GenHigh).Add("base_name", info.BaseName);
                }
                break;
            case "copylogs":
                // Every log GetLogInfo lists, through the StreamFile wrapper, into folder t[2].
                {
                    LogInfo unused;
                    List<string> files = new List<string>();
                    foreach (string name in Jet.GetLogInfo(Handle(t[1]), out unused))
                    {
                        string dest = t[2] + "\\" + name.Substring(name.LastIndexOf('\\') + 1);
                        long bytes;
                        using (FileStream f = Create(dest))
                            bytes = Jet.StreamFile(Handle(t[1]), name, f, checked((int)U(t[3])));
                        files.Add(new Json().Add("name", name).Add("bytes", bytes).Add("sha", FileSha(dest)).ToString());
                    }
                    j.Raw("files", "[" + String.Join(", ", files.ToArray()) + "]");
                }
                break;
            case "loginforaw":
                // Raw: JET_LOGINFO_W with the given cbSize; what comes back, cbSize included.
                {
                    NativeHelpers.JET_LOGINFO_W native = new NativeHelpers.JET_LOGINFO_W();
                    native.cbSize = U(t[2]);
                    uint actual;
                    j.Add("err", Jet.Check(NativeMethods.JetGetLogInfoInstance2W(Handle(t[1]), null, 0, out actual, ref native), "JetGetLogInfoInstance2W"));
                    j.Add("cb_actual", actual).Add("cb_size", native.cbSize).Add("gen_low", native.ulGenLow).Add("gen_high", native.ulGenHigh);
                    j.Add("base_name", native.szBaseName);
                }
                break;
            case "trunclist":
                j.Add("logs", Jet.GetTruncateLogInfo(Handle(t[1])));
                break;
            case "trunclog":
                Jet.TruncateLog(Handle(t[1]));
                break;
            case "bkend":
                Jet.EndExternalBackup(Handle(t[1]), U(t[2]));
                break;
            case "bkend1":
                Jet.EndExternalBackup(Handle(t[1]));
                break;
            case "bkstop":
                Jet.StopBackup(Handle(t[1]));
                break;
            case "bkstate":
                {
                    string answer = Query("{\"op\": \"backup_state\", \"instance\": " + Handle(t[1]).ToInt64() + "}");
                    int at = answer.IndexOf("\"state\": \"") + 10;
                    j.Add("state", answer.Substring(at, answer.IndexOf('"', at) - at));
                }
                break;
            case "filesha":
                j.Add("sha", FileSha(t[1]));
                break;
            // -- restore ----------------------------------------------------------------------------
            case "restore":
                Restore(t, j);
                break;
            case "rawrestore":
                // Raw: JET_LOGINFO_W with the given cbSize and a given crstfilemap over a NULL map.
                {
                    NativeHelpers.JET_LOGINFO_W native = LogInfos[t[1]].ToNative();
                    native.cbSize = U(t[2]);
                    int err = NativeMethods.JetExternalRestore2W(t[4], t[5], IntPtr.Zero, Convert.ToInt32(t[3]), t[6], ref native, null, null, null, null);
                    j.Add("err", Jet.Check(err, "JetExternalRestore2W"));
                }
                break;
            case "advance":
                Query("{\"op\": \"advance\", \"seconds\": " + t[1] + "}");
                break;
            // -- parameters, instance facts, open databases (issue 21) ---------------------------------
            case "getparam":
                j.Add("value", Jet.GetParameterLong(Handle(t[1]), U(t[2])));
                break;
            case "getsparam":
                j.Add("value", Jet.GetParameterString(Handle(t[1]), U(t[2])));
                break;
            case "rawgetsparam":
                // Raw: a string parameter into a caller buffer of t[3] bytes (-1038 and a truncated copy when short).
                {
                    byte[] sz = new byte[U(t[3])];
                    IntPtr unused = IntPtr.Zero;
                    j.Add("err", Jet.Check(NativeMethods.JetGetSystemParameterW(Handle(t[1]), IntPtr.Zero, U(t[2]), ref unused, sz, U(t[3])),
                        "JetGetSystemParameterW"));
                }
                break;
            case "snaptimeout":
                // From ticks: TimeSpan.FromSeconds rounds to whole milliseconds, which would hide the wrapper's rounding.
                Jet.SetSnapshotTimeout(TimeSpan.FromTicks((long)Math.Round(
                    Convert.ToDouble(t[1], System.Globalization.CultureInfo.InvariantCulture) * TimeSpan.TicksPerSecond)));
                break;
            case "instinfo":
                Instances(Jet.GetInstanceInfo(), j);
                break;
            case "logsig":
                j.Add("signature", Jet.GetInstanceLogSignature(Handle(t[1])));
                break;
            case "ckpt":
                {
                    CheckpointInfo c = Jet.GetInstanceCheckpointInfo(Handle(t[1]));
                    j.Add("gen_min", c.GenMin).Add("gen_max", c.GenMax);
                }
                break;
            case "rawmisc":
                // Raw: JetGetInstanceMiscInfo with a given level and buffer size.
                {
                    byte[] raw = new byte[Math.Max(1, U(t[3]))];
                    j.Add("err", Jet.Check(NativeMethods.JetGetInstanceMiscInfo(Handle(t[1]), raw, U(t[3]), U(t[2])), "JetGetInstanceMiscInfo"));
                }
                break;
            case "opendb":
                Vars[t[1]] = Jet.OpenDatabase(Handle(t[2]), t[3]);
                j.Add("dbid", Vars[t[1]].ToInt64());
                break;
            case "opendbinfo":
                DatabaseInfo(Jet.GetOpenDatabaseInfo(Handle(t[1]), Handle(t[2])), j);
                break;
            case "ls":
                {
                    List<string> names = new List<string>();
                    foreach (string f in Directory.GetFiles(RealPath(t[1])))
                        names.Add(Path.GetFileName(f));
                    names.Sort(StringComparer.Ordinal);
                    j.Add("files", names.ToArray());
                }
                break;
            // -- wrapper behaviour only (no direct equivalent) -------------------------------------
            case "readsize":
                j.Add("size", BackupReads.ReadSize(checked((int)U(t[1])), U(t[2])));
                break;
            case "copyfail":
                // StreamFile into a destination that throws on write number t[4]: the file must still be closed.
                try
                {
                    Jet.StreamFile(Handle(t[1]), t[2], new FailingStream(checked((int)U(t[4]))), checked((int)U(t[3])));
                    j.Add("thrown", (string)null);
                }
                catch (IOException ex)
                {
                    j.Add("thrown", ex.Message);
                }
                break;
            default:
                throw new ArgumentException("unknown step " + t[0]);
        }
    }

    // -- streaming helpers -------------------------------------------------------------------------

    private static string RealPath(string windowsPath)
    {
        string root = Environment.GetEnvironmentVariable("ESESIM_FACE_ROOT");
        string volume = "vol_" + Char.ToUpperInvariant(windowsPath[0]);
        string rest = windowsPath.Substring(3).Replace('\\', Path.DirectorySeparatorChar);
        return Path.Combine(Path.Combine(root, volume), rest);
    }

    private static FileStream Create(string windowsPath)
    {
        string real = RealPath(windowsPath);
        Directory.CreateDirectory(Path.GetDirectoryName(real));
        return new FileStream(real, FileMode.Create, FileAccess.Write);
    }

    private static string FileSha(string windowsPath)
    {
        using (SHA256 sha = SHA256.Create())
        using (FileStream f = new FileStream(RealPath(windowsPath), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            return Hex(sha.ComputeHash(f), 32);
    }

    private static string Sha(IntPtr p, int n)
    {
        byte[] copy = new byte[n];
        Marshal.Copy(p, copy, 0, n);
        using (SHA256 sha = SHA256.Create())
            return Hex(sha.ComputeHash(copy), 32);
    }

    private static string Hex(byte[] b, int n)
    {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++)
            s.Append(b[i].ToString("x2"));
        return s.ToString();
    }

    // Read the open file to the end through one page-aligned buffer (dest "-": hash only).
    private static void ReadAll(IntPtr instance, IntPtr handle, int chunk, string dest, Json j)
    {
        int reads = 0;
        long total = 0;
        FileStream output = dest == "-" ? null : Create(dest);
        IAlignedBuffer buffer = AlignedBuffer.Allocate(chunk);
        try
        {
            using (SHA256 sha = SHA256.Create())
            {
                byte[] managed = new byte[chunk];
                while (true)
                {
                    int n = Jet.ReadFile(instance, handle, buffer, chunk);
                    reads++;
                    if (n == 0)
                        break;
                    Marshal.Copy(buffer.Pointer, managed, 0, n);
                    sha.TransformBlock(managed, 0, n, null, 0);
                    if (output != null)
                        output.Write(managed, 0, n);
                    total += n;
                }
                sha.TransformFinalBlock(new byte[0], 0, 0);
                j.Add("reads", reads).Add("bytes", total).Add("sha", Hex(sha.Hash, 32));
            }
        }
        finally
        {
            buffer.Dispose();
            if (output != null)
                output.Dispose();
        }
    }

    // restore LI CHK LOG BKLOG TARGET TLOG TCHK [OLD NEW]... ("-" is NULL); records the status calls.
    private static void Restore(string[] t, Json j)
    {
        List<KeyValuePair<string, string>> map = new List<KeyValuePair<string, string>>();
        for (int i = 8; i + 1 < t.Length; i += 2)
            map.Add(new KeyValuePair<string, string>(t[i], t[i + 1]));
        List<string> calls = new List<string>();
        RestoreStatus status = delegate(uint snp, uint snt, uint done, uint total)
        {
            calls.Add("[" + snp + ", " + snt + ", " + done + ", " + total + "]");
            return 0;
        };
        j.Add("err", Jet.ExternalRestore2(t[2], t[3], map, t[4], LogInfos[t[1]], Null(t[5]), Null(t[6]), Null(t[7]), status));
        j.Raw("status", "[" + String.Join(", ", calls.ToArray()) + "]");
    }

    // A destination that fails the way a full disk does, on the given write.
    private sealed class FailingStream : MemoryStream
    {
        private int writesLeft;

        public FailingStream(int failOnWrite)
        {
            writesLeft = failOnWrite;
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (--writesLeft <= 0)
                throw new IOException("simulated: no space left on the destination");
            base.Write(buffer, offset, count);
        }
    }

    // -- signatures (the x86 build's reflection check) ---------------------------------------------

    private static string Signatures(string path)
    {
        Assembly asm = Assembly.LoadFrom(path);
        PortableExecutableKinds kind;
        ImageFileMachine machine;
        asm.ManifestModule.GetPEKind(out kind, out machine);
        Json all = new Json().Add("machine", machine.ToString()).Add("required32", (kind & PortableExecutableKinds.Required32Bit) != 0);
        Json imports = new Json();
        Type native = asm.GetType(typeof(NativeMethods).FullName, true);
        foreach (MethodInfo m in native.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            imports.Add(m.Name, ParameterTypes(m));
        all.Raw("imports", imports.ToString());
        Json wrappers = new Json();
        Type jet = asm.GetType(typeof(Jet).FullName, true);
        foreach (MethodInfo m in jet.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
        {
            string key = m.Name;
            for (int n = 2; wrappers.Has(key); n++)
                key = m.Name + "#" + n;  // overloads
            wrappers.Add(key, ParameterTypes(m));
        }
        all.Raw("wrappers", wrappers.ToString());
        return all.ToString();
    }

    private static string[] ParameterTypes(MethodInfo m)
    {
        List<string> types = new List<string>();
        foreach (ParameterInfo p in m.GetParameters())
            types.Add(p.Name + ":" + p.ParameterType.FullName);
        return types.ToArray();
    }

    private static string Null(string token)
    {
        return token == "-" ? null : token;
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
        j.Add("lgpos_detach", d.LgposDetach).Add("signature", d.Signature).Add("log_signature", d.LogSignature);
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
