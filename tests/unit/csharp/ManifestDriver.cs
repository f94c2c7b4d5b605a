// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Test driver of the C# agent's sets code (Manifest.cs, BackupSets.cs, Verify.cs, Copier.cs,
// Copies.cs) for tests/unit/csharp/test_csharp_manifest.py: reads a JSON list of commands on stdin,
// runs each, and writes a JSON list of results on stdout, so the test compares them with what the
// Python reference gives for the same folders. Test-only code.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using EsentBackup.Agent;

/// <summary>The platform members the copy path uses: shadow reads from local files, one full volume, Windows names as given.</summary>
public sealed class FakePlatform : IHostPlatform
{
    public readonly Dictionary<string, string> ShadowFiles = new Dictionary<string, string>(); // Windows path -> local file
    public string FullPath = "";                                                                // VolumeFull is true for this Windows path
    public readonly List<string> VolumeAsked = new List<string>();

    public int ProcessId { get { return 1; } }
    public string ComputerName { get { return "HOSTA"; } }
    public double Time() { return 0; }
    public double Monotonic() { return 0; }
    public bool ProcessAlive(int pid) { throw new NotSupportedException(); }
    public string ProcessName(int pid) { throw new NotSupportedException(); }
    public int[] Holders(string path) { throw new NotSupportedException(); }
    public string ServiceOfPid(int pid) { throw new NotSupportedException(); }
    public bool IsAgentPid(int pid) { throw new NotSupportedException(); }
    public string RealPath(string winPath, string option) { throw new NotSupportedException(); }
    public string DestFolder(string dest, string option) { throw new NotSupportedException(); }
    public string WindowsText(string text) { return text; }
    public string[] ListDir(string folder) { throw new NotSupportedException(); }
    public int[] LogGenerations(string logPath, string baseName, int legacy) { throw new NotSupportedException(); }
    public long FileSize(string path) { throw new NotSupportedException(); }

    public bool VolumeFull(string path)
    {
        lock (VolumeAsked)
            VolumeAsked.Add(path);
        return path == FullPath;
    }

    public int ReadShared(string path, out byte[] data) { throw new NotSupportedException(); }
    public int CopyFile(string source, string destination, bool overwrite) { throw new NotSupportedException(); }
    public int CreateDirectory(string folder) { throw new NotSupportedException(); }
    public StoreFacts ReadStoreFacts(string logPath, string systemPath, string baseName) { throw new NotSupportedException(); }
    public IAlignedBuffer AllocateAligned(int length) { throw new NotSupportedException(); }
    public int CreateShadow(string volume, string tag, out string shadowId) { throw new NotSupportedException(); }
    public bool ShadowExists(string shadowId) { return true; }
    public long ShadowFileSize(string shadowId, string path) { return new FileInfo(ShadowFiles[path]).Length; }

    public int ReadShadow(string shadowId, string path, long offset, byte[] buffer, int count, out int read)
    {
        read = 0;
        string local;
        if (!ShadowFiles.TryGetValue(path, out local))
            return 2;
        using (FileStream fs = new FileStream(local, FileMode.Open, FileAccess.Read))
        {
            fs.Seek(offset, SeekOrigin.Begin);
            while (read < count)
            {
                int n = fs.Read(buffer, read, count - read);
                if (n == 0)
                    break;
                read += n;
            }
        }
        return 0;
    }

    public int DeleteShadow(string shadowId) { throw new NotSupportedException(); }
    public ServiceInfo Service(string name) { throw new NotSupportedException(); }
    public int StopService(string name) { throw new NotSupportedException(); }
    public int StartService(string name) { throw new NotSupportedException(); }
    public JsonObject SimOnly(string what, JsonObject args) { return null; }
    public void ProtectFolder(string path) { }
}

public static class ManifestDriver
{
    public static int Main()
    {
        string input = Console.In.ReadToEnd();
        List<object> commands = (List<object>)Json.Parse(input);
        List<object> results = new List<object>();
        foreach (JsonObject cmd in commands)
        {
            try
            {
                results.Add(Run(cmd));
            }
            catch (Exception exc)
            {
                results.Add(new JsonObject().Add("exception", exc.GetType().Name).Add("message", exc.Message));
            }
        }
        Stream stdout = Console.OpenStandardOutput();
        byte[] bytes = Encoding.ASCII.GetBytes(Json.Serialize(results));
        stdout.Write(bytes, 0, bytes.Length);
        stdout.Flush();
        return 0;
    }

    private static BackupInfo Bk(JsonObject o)
    {
        if (o == null)
            return null;
        BackupInfo bk = new BackupInfo();
        bk.GenLow = (uint)o.Long("gen_low");
        bk.GenHigh = (uint)o.Long("gen_high");
        bk.MarkGeneration = o.Int("mark_generation");
        bk.MarkSector = (ushort)o.Long("mark_sector");
        bk.MarkByte = (ushort)o.Long("mark_byte");
        bk.MarkTime = o.List("mark_time").Select(v => (int)J.AsLong(v, "mark_time")).ToArray();
        bk.OSSnapshot = o.Bool("os_snapshot");
        return bk;
    }

    private static List<object> Entries(IEnumerable<SetEntry> entries)
    {
        return entries.Select(e => (object)e.ToDict()).ToList();
    }

    private static object Run(JsonObject cmd)
    {
        string op = cmd.Str("op");
        switch (op)
        {
            case "checksum":
            {
                // The checksum and file bytes of a manifest Python wrote.
                byte[] data = File.ReadAllBytes(cmd.Str("path"));
                JsonObject doc = (JsonObject)Json.Parse(Encoding.UTF8.GetString(data));
                return new JsonObject().Add("checksum", Manifest.ChecksumOf(doc))
                    .Add("dumps_equal", Manifest.Dumps(doc).SequenceEqual(data))
                    .Add("canonical", Encoding.ASCII.GetString(Manifest.CanonicalBytes(doc)));
            }
            case "validate":
            {
                try
                {
                    Manifest.Validate(cmd["doc"], cmd.Bool("check_checksum", true));
                    return "ok";
                }
                catch (ManifestError exc)
                {
                    return exc.Message;
                }
            }
            case "copy_set":
            {
                // Create a set folder, copy the files with AgentCopy (copier + verify + pending-end manifest), then finalise.
                string dest = cmd.Str("dest");
                string folder = BackupSets.CreateSetFolder(dest, cmd.Str("host"), cmd.Str("instance"), cmd.Str("backup_type"),
                                                           DateTime.SpecifyKind(DateTime.Parse(cmd.Str("when")), DateTimeKind.Utc), cmd.Str("suffix"));
                List<CopySource> sources = new List<CopySource>();
                foreach (JsonObject f in cmd.List("files").Cast<JsonObject>())
                {
                    CopySource src = Copier.FileSource(f.Str("path"), f.Str("name"), f.Str("role"), f.Str("source", ""),
                                                       f["generation"] == null ? (long?)null : f.Long("generation"), 7000);
                    if (f.ContainsKey("announce"))
                        src = new CopySource(src.Name, src.Role, f.Long("announce"), src.OpenChunks, src.Source, src.Generation);
                    sources.Add(src);
                }
                bool verified = false;
                AgentCopy copy = new AgentCopy(sources, folder, cmd.Str("set_win"), true, cmd.Obj("margs"), new object(), ok => verified = ok);
                copy.Start();
                copy.Wait(20);
                JsonObject status = copy.Status();
                JsonObject result = new JsonObject().Add("set_dir", folder).Add("status", status).Add("verified", verified);
                if (copy.State == "done" && cmd["recorded_as"] != null)
                {
                    object parent = cmd.ContainsKey("parent") ? cmd["parent"] : Manifest.KeepParent;
                    result["final"] = BackupSets.FinaliseSet(folder, cmd.Str("recorded_as"), cmd["mark"] as JsonObject, parent,
                                                             DateTime.SpecifyKind(DateTime.Parse(cmd.Str("when")), DateTimeKind.Utc));
                }
                result["listing"] = J.List(Directory.GetFiles(folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
                return result;
            }
            case "agent_copy":
            {
                // AgentCopy over shadow sources (ShadowSource through IHostPlatform.ReadShadow) with the host's disk-full
                // fault (Copier.DestinationFaults -> IHostPlatform.VolumeFull), a throttle and a cancel.
                FakePlatform platform = new FakePlatform();
                platform.FullPath = cmd.Str("full_path", "");
                object hostLock = new object();
                List<CopySource> sources = new List<CopySource>();
                foreach (JsonObject f in cmd.List("files").Cast<JsonObject>())
                {
                    platform.ShadowFiles[f.Str("source")] = f.Str("path");
                    long size = f.ContainsKey("announce") ? f.Long("announce") : new FileInfo(f.Str("path")).Length;
                    sources.Add(Copies.ShadowSource(platform, "{shadow-1}", f.Str("source"), size, f.Str("name"), f.Str("role"), f.Str("source"), hostLock,
                                                    f["generation"] == null ? (long?)null : f.Long("generation")));
                }
                if (cmd["throttle_bps"] != null)
                    Copier.SetThrottle(cmd.Long("throttle_bps"));
                string setWin = cmd.Str("set_win");
                AgentCopy copy = new AgentCopy(sources, cmd.Str("set_real"), setWin, true, cmd.Obj("margs"), hostLock, ok => { }, cmd.Str("copy_id"),
                                               null, Copier.DestinationFaults(platform, setWin), platform);
                Copier.SetThrottle(0);
                JsonObject result = new JsonObject();
                try
                {
                    copy.Start();
                }
                catch (AgentFailure exc)
                {
                    result["start_error"] = exc.ToError();
                }
                if (cmd["cancel_after_ms"] != null)
                {
                    System.Threading.Thread.Sleep(cmd.Int("cancel_after_ms"));
                    result["cancelled"] = copy.Cancel();
                }
                result["finished"] = copy.Wait(20);
                result["status"] = copy.Status();
                result["volume_asked"] = J.List(platform.VolumeAsked);
                result["listing"] = Directory.Exists(cmd.Str("set_real"))
                    ? J.List(Directory.GetFiles(cmd.Str("set_real"), "*", SearchOption.AllDirectories).Select(n => n.Substring(cmd.Str("set_real").Length + 1).Replace('\\', '/')).OrderBy(n => n, StringComparer.Ordinal))
                    : null;
                return result;
            }
            case "copy_job_space":
            {
                // The free-space check comes first: too little fails before the set folder exists.
                CopySource src = Copier.FileSource(cmd.Str("path"), "store.edb", "database");
                long free = cmd.Long("free");
                CopyJob job = new CopyJob(new[] { src }, cmd.Str("set_dir"), "fixedid", freeSpace: p => free);
                try
                {
                    job.Start();
                    return new JsonObject().Add("started", true);
                }
                catch (CopyError exc)
                {
                    return new JsonObject().Add("error", exc.ToError()).Add("state", job.State).Add("exists", Directory.Exists(cmd.Str("set_dir")))
                        .Add("status", job.Status());
                }
            }
            case "free_bytes":
                return Copier.FreeBytes(cmd.Str("path"));
            case "verify_set":
                return Verify.VerifySet(cmd.Str("set_dir"), 4096).ToDict();
            case "scan":
            {
                Catalogue cat = BackupSets.Scan(cmd.Str("dest"), cmd.Str("host"), cmd.Str("instance"));
                JsonObject latest = cat.Latest();
                JsonObject full = cat.NewestFull();
                return new JsonObject().Add("root", cat.Root).Add("sets", Entries(cat.Sets)).Add("skipped", Entries(cat.Skipped))
                    .Add("manifests", J.List(cat.Manifests.Select(m => m["set_id"])))
                    .Add("latest", latest == null ? null : latest["set_id"]).Add("newest_full", full == null ? null : full["set_id"]);
            }
            case "restore_chain":
            {
                Catalogue cat = BackupSets.Scan(cmd.Str("dest"), cmd.Str("host"), cmd.Str("instance"));
                try
                {
                    return J.List(cat.RestoreChain(cmd.Str("set_id")).Select(m => m["set_id"]));
                }
                catch (ChainError exc)
                {
                    return new JsonObject().Add("error", exc.Message).Add("hint", exc.Hint);
                }
            }
            case "choose_parent":
            {
                Catalogue cat = BackupSets.Scan(cmd.Str("dest"), cmd.Str("host"), cmd.Str("instance"));
                try
                {
                    return cat.ChooseParent(cmd.Str("backup_type"), cmd["log_range"] as JsonObject);
                }
                catch (ChainError exc)
                {
                    return new JsonObject().Add("error", exc.Message).Add("hint", exc.Hint);
                }
            }
            case "guard":
            {
                Catalogue cat = BackupSets.Scan(cmd.Str("dest"), cmd.Str("host"), cmd.Str("instance"));
                Dictionary<string, BackupInfo> lastFulls = new Dictionary<string, BackupInfo>();
                foreach (KeyValuePair<string, object> kv in cmd.Obj("last_fulls"))
                    lastFulls[kv.Key] = Bk(kv.Value as JsonObject);
                return BackupSets.IncrementalGuard(cat, cmd.Str("backup_type"), lastFulls, cmd.Str("fallback", "none"), cmd.Str("where")).ToDict();
            }
            case "mark_of":
                return BackupSets.MarkOf(Bk(cmd.Obj("bk")));
            case "prune":
                return BackupSets.Prune(cmd.Str("dest"), cmd.Str("host"), cmd.Str("instance"), cmd.Long("keep_full"), cmd.Bool("dry_run")).ToDict();
            case "check_dest":
            {
                try
                {
                    return BackupSets.CheckDest(cmd["dest"], cmd["instance"] as JsonObject);
                }
                catch (DestError exc)
                {
                    return new JsonObject().Add("error", exc.Message).Add("hint", exc.Hint);
                }
            }
            default:
                throw new ArgumentException("unknown op " + op);
        }
    }
}
