// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The set catalogue at a destination: listing, latest, chains, the incremental guard and prune.
// Ported call for call from esesim/agent/backupsets.py. Sets live in
// <dest>\<host>\<instance>\<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>\. A folder counts as a set only
// when it holds a valid manifest.json of this collection (format, checksum, and host/instance/set
// id matching where it lies); everything else is reported as skipped with the reason and is never
// touched. The format and the chain rules are in Manifest.cs; this file does the file-system side
// on the local paths Platform.RealPath gives.
//
// Safety (docs/dev/safety-rules.md rules 8 and 10): the incremental guard compares the database
// header's last full backup with the newest complete full manifest; prune never follows a symlink,
// junction or other reparse point (FileAttributes.ReparsePoint: it neither descends into one nor
// deletes through one), deletes only folders holding a valid manifest, and re-marks a complete set
// failed before deleting its files so an interrupted prune never leaves a "complete" set with files missing.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    /// <summary>A destination that v1 refuses (relative, UNC share); carries a hint for the operator.</summary>
    public sealed class DestError : Exception
    {
        public readonly string Hint;

        public DestError(string message, string hint)
            : base(message)
        {
            Hint = hint;
        }
    }

    /// <summary>One folder under the instance root: a valid set (Manifest set) or a skipped entry (Reason set).</summary>
    public sealed class SetEntry
    {
        public string Name;
        public string Path;
        public JsonObject Manifest;
        public string Reason = "";

        public SetEntry(string name, string path, JsonObject manifest = null, string reason = "")
        {
            Name = name;
            Path = path;
            Manifest = manifest;
            Reason = reason ?? "";
        }

        public JsonObject ToDict()
        {
            JsonObject o = new JsonObject().Add("name", Name).Add("path", Path);
            if (Manifest != null)
                o.Add("set_id", Manifest["set_id"]).Add("backup_type", Manifest["backup_type"]).Add("status", Manifest["status"]);
            if (Reason.Length > 0)
                o["reason"] = Reason;
            return o;
        }
    }

    /// <summary>The sets of one host and instance at a destination, with what the rules need.</summary>
    public sealed class Catalogue
    {
        public string Root;
        public List<SetEntry> Sets = new List<SetEntry>();
        public List<SetEntry> Skipped = new List<SetEntry>();

        public Catalogue(string root)
        {
            Root = root;
        }

        /// <summary>Valid manifests, oldest first by lgposMark.</summary>
        public List<JsonObject> Manifests
        {
            get { return EsentBackup.Agent.Manifest.SortByOrder(Sets.Where(e => e.Manifest != null).Select(e => e.Manifest)); }
        }

        /// <summary>The entry of a set id, or null.</summary>
        public SetEntry Entry(string setId)
        {
            return Sets.FirstOrDefault(e => e.Name == setId);
        }

        /// <summary>The newest complete set by lgposMark (of the given chain types), or null.</summary>
        public JsonObject Latest(IEnumerable<string> chainTypes = null)
        {
            return EsentBackup.Agent.Manifest.Latest(Manifests, chainTypes);
        }

        /// <summary>The newest complete full set (what an incremental must build on), or null.</summary>
        public JsonObject NewestFull()
        {
            return EsentBackup.Agent.Manifest.Latest(Manifests, new[] { "full" });
        }

        /// <summary>The sets a restore applies, oldest first (see Manifest.RestoreChain).</summary>
        public List<JsonObject> RestoreChain(string setId = null)
        {
            return EsentBackup.Agent.Manifest.RestoreChain(Manifests, setId);
        }

        /// <summary>The parent of a new set (see Manifest.ChooseParent).</summary>
        public JsonObject ChooseParent(string backupType, JsonObject logRange)
        {
            return EsentBackup.Agent.Manifest.ChooseParent(Manifests, backupType, logRange);
        }
    }

    /// <summary>What the incremental guard decided: ok, take a full instead, or fail (with the error and its hint).</summary>
    public sealed class GuardResult
    {
        public string Decision;
        public string BackupType;
        public string Reason = "";
        public JsonObject Error;
        public string FullSetId;

        public GuardResult(string decision, string backupType, string reason = "", JsonObject error = null, string fullSetId = null)
        {
            Decision = decision;
            BackupType = backupType;
            Reason = reason;
            Error = error;
            FullSetId = fullSetId;
        }

        public JsonObject ToDict()
        {
            return new JsonObject().Add("decision", Decision).Add("backup_type", BackupType).Add("reason", Reason)
                .Add("error", Error != null ? new JsonObject(Error) : null).Add("full_set_id", FullSetId);
        }
    }

    /// <summary>What prune deleted (or would delete), kept and skipped, each with its reason.</summary>
    public sealed class PruneReport
    {
        public bool DryRun;
        public long KeepFull;
        public List<JsonObject> Deleted = new List<JsonObject>();
        public List<JsonObject> Kept = new List<JsonObject>();
        public List<JsonObject> Skipped = new List<JsonObject>();
        public List<JsonObject> Errors = new List<JsonObject>();

        public PruneReport(bool dryRun, long keepFull)
        {
            DryRun = dryRun;
            KeepFull = keepFull;
        }

        public bool Changed { get { return Deleted.Count > 0 && !DryRun; } }

        /// <summary>The prune op result.</summary>
        public JsonObject ToDict()
        {
            return new JsonObject().Add("changed", Changed).Add("dry_run", DryRun).Add("keep_full", KeepFull)
                .Add("deleted", Deleted.Cast<object>().ToList()).Add("kept", Kept.Cast<object>().ToList())
                .Add("skipped", Skipped.Cast<object>().ToList()).Add("errors", Errors.Cast<object>().ToList());
        }
    }

    public static class BackupSets
    {
        private const string TmpSuffix = ".tmp";
        public const string GuardOk = "ok";
        public const string GuardFallbackFull = "fallback_full";
        public const string GuardFail = "fail";

        /// <summary>Check the dest argument as the agent receives it, with the controller's own rules (WinPath.CheckDest):
        /// normalised as Windows reads it; a destination inside or above a folder of the live store is refused.</summary>
        /// <exception cref="DestError">a UNC share, no drive, a '..' or reserved segment, a control character, or a folder of the live store.</exception>
        public static string CheckDest(object dest, JsonObject instance = null)
        {
            try
            {
                return WinPath.CheckDest(dest, instance);
            }
            catch (WindowsPathError exc)
            {
                string hint = exc.Message.Contains("UNC") ? "v1 writes only to local folders (the agent's network logon has no credentials)."
                                                          : "Give a local absolute folder outside the store's folders, such as E:\\backups.";
                throw new DestError(exc.Message, hint);
            }
        }

        /// <summary>&lt;destRoot&gt;/&lt;host&gt;/&lt;instance&gt; after checking both names as folder names.</summary>
        /// <exception cref="ManifestError">naming host or instance.</exception>
        public static string InstanceRoot(string destRoot, string host, string instance)
        {
            return Path.Combine(destRoot, Manifest.CheckComponent(host, "host"), Manifest.CheckComponent(instance, "instance"));
        }

        /// <summary>Create a new, empty set folder with a fresh name and its ACL (applyAcl sets the protected DACL
        /// on Windows; by default nothing, the manifest records Manifest.SetAcl).</summary>
        /// <exception cref="IOException">the name is taken (a pinned suffix reused).</exception>
        public static string CreateSetFolder(string destRoot, string host, string instance, string backupType, DateTime? when = null,
                                             string suffix = null, Action<string, string[]> applyAcl = null)
        {
            string root = InstanceRoot(destRoot, host, instance);
            Directory.CreateDirectory(root);
            string folder = Path.Combine(root, Manifest.NewSetName(backupType, when, suffix));
            if (Verify.Lstat(folder) != null)
                throw new IOException("File exists: " + Py.Repr(folder));
            Directory.CreateDirectory(folder);
            if (applyAcl != null)
                applyAcl(folder, Manifest.SetAcl);
            Copier.FsyncDir(root);
            return folder;
        }

        // -- manifests on disk ------------------------------------------------------------------------

        /// <summary>Write manifest.json atomically: validated, flushed, renamed into place, folder flushed; returns its path.</summary>
        /// <exception cref="ManifestError">the document is not valid (nothing is written).</exception>
        public static string WriteManifest(string setDir, JsonObject doc)
        {
            Manifest.Validate(doc);
            string path = Path.Combine(setDir, Manifest.ManifestName);
            string tmp = path + TmpSuffix;
            FileAttributes? st = Verify.Lstat(tmp);
            if (st != null && Verify.IsReparsePoint(st.Value))
                throw new IOException("Too many levels of symbolic links: " + Py.Repr(tmp)); // O_NOFOLLOW: never write through a link
            byte[] data = Manifest.Dumps(doc);
            using (FileStream fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fs.Write(data, 0, data.Length);
                Copier.FsyncFile(fs);
            }
            Copier.Replace(tmp, path);
            Copier.FsyncDir(setDir);
            return path;
        }

        /// <summary>Read and validate manifest.json without following a link.</summary>
        /// <exception cref="ManifestError">missing (field manifest), a link, or invalid.</exception>
        public static JsonObject ReadManifest(string setDir)
        {
            string path = Path.Combine(setDir, Manifest.ManifestName);
            FileAttributes? st = Verify.Lstat(path);
            if (st == null)
                throw new ManifestError("manifest", "manifest.json is missing");
            if (Verify.IsReparsePoint(st.Value) || !Verify.IsRegular(st.Value))
                throw new ManifestError("manifest", "manifest.json is not a regular file");
            return Manifest.Loads(File.ReadAllBytes(path));
        }

        /// <summary>Finalise the set's pending-end manifest after End (see Manifest.Finalise) and write it.
        /// parent: Manifest.KeepParent, null, or the new parent reference.</summary>
        public static JsonObject FinaliseSet(string setDir, string recordedAs, JsonObject mark, object parent, DateTime? when = null)
        {
            JsonObject doc = Manifest.Finalise(ReadManifest(setDir), recordedAs, mark, parent, when);
            WriteManifest(setDir, doc);
            return doc;
        }

        private static JsonObject ErrorFields(JsonObject error)
        {
            return new JsonObject().Add("jet", error["jet"]).Add("name", error["name"]).Add("message", error["message"]);
        }

        /// <summary>Mark the set's manifest failed with error ({jet, name, message}) and write it.</summary>
        /// <exception cref="ManifestError">the manifest is missing, invalid or complete.</exception>
        public static JsonObject FailSet(string setDir, JsonObject error, DateTime? when = null)
        {
            JsonObject doc = Manifest.Fail(ReadManifest(setDir), ErrorFields(error), when);
            WriteManifest(setDir, doc);
            return doc;
        }

        /// <summary>Mark the set's pending-end manifest aborted with error and write it; a failed or aborted set
        /// stays as it is. Returns the manifest now on disk.</summary>
        /// <exception cref="ManifestError">the manifest is missing, invalid or complete.</exception>
        public static JsonObject AbortSet(string setDir, JsonObject error, DateTime? when = null)
        {
            JsonObject doc = ReadManifest(setDir);
            string status = (string)doc["status"];
            if (status == Manifest.StatusFailed || status == Manifest.StatusAborted)
                return doc;
            doc = Manifest.Abort(doc, ErrorFields(error), when);
            WriteManifest(setDir, doc);
            return doc;
        }

        // -- header facts -----------------------------------------------------------------------------

        private static string LogtimeUtc(int[] lt)
        {
            if (lt == null || lt.Length == 0 || lt[0] == 0)
                return null;
            return String.Format(CultureInfo.InvariantCulture, "{0:D4}-{1:D2}-{2:D2}T{3:D2}:{4:D2}:{5:D2}Z", lt[0], lt[1], lt[2], lt[3], lt[4], lt[5]);
        }

        /// <summary>The manifest's header.databases entry for one database header (docs/dev/ese-facts.md section 4.6).
        /// signature and logSignature are signDb and signLog as text (Python's DatabaseInfo.signature and .log_signature;
        /// EsentApi.cs's DatabaseInfo does not decode them yet).</summary>
        public static JsonObject HeaderFacts(string path, DatabaseInfo header)
        {
            return HeaderFacts(path, header, header.Signature, header.LogSignature);
        }

        /// <summary>HeaderFacts with the two signatures given as text.</summary>
        public static JsonObject HeaderFacts(string path, DatabaseInfo header, string signature, string logSignature)
        {
            return new JsonObject()
                .Add("path", path)
                .Add("page_size", (long)header.PageSize)
                .Add("dbstate", (long)header.DbState)
                .Add("db_signature", signature)
                .Add("log_signature", logSignature)
                .Add("gen_min_required", (long)header.GenMinRequired)
                .Add("gen_max_required", (long)header.GenMaxRequired)
                .Add("gen_max_committed", (long)header.GenCommitted);
        }

        /// <summary>The lgpos mark of a header backup-info record as the manifests write it: generation, sector, byte.</summary>
        public static List<object> LgposMark(BackupInfo bkinfo)
        {
            return new List<object> { (long)bkinfo.MarkGeneration, (long)bkinfo.MarkSector, (long)bkinfo.MarkByte };
        }

        /// <summary>The manifest mark for a header backup-info record (after End, from the header).</summary>
        public static JsonObject MarkOf(BackupInfo bkinfo)
        {
            return new JsonObject().Add("lgpos_mark", LgposMark(bkinfo)).Add("gen_low", (long)bkinfo.GenLow).Add("gen_high", (long)bkinfo.GenHigh)
                .Add("snapshot", bkinfo.OSSnapshot).Add("time_utc", LogtimeUtc(bkinfo.MarkTime));
        }

        // -- catalogue --------------------------------------------------------------------------------

        private static SetEntry Classify(FileSystemInfo entry, string host, string instance)
        {
            string path = entry.FullName;
            FileAttributes st = entry.Attributes;
            if (Verify.IsReparsePoint(st))
                return new SetEntry(entry.Name, path, null, "symlink or reparse point: never followed");
            if (!Verify.IsDirectory(st))
                return new SetEntry(entry.Name, path, null, "not a folder");
            try
            {
                Manifest.ParseSetName(entry.Name, "folder name");
            }
            catch (ManifestError)
            {
                return new SetEntry(entry.Name, path, null, "not a set folder name");
            }
            JsonObject doc;
            try
            {
                doc = ReadManifest(path);
            }
            catch (ManifestError exc)
            {
                return new SetEntry(entry.Name, path, null, "no valid manifest of this collection (" + exc.Message + ")");
            }
            catch (Exception exc)
            {
                if (!Copier.IsOsError(exc))
                    throw;
                return new SetEntry(entry.Name, path, null, "manifest unreadable (" + exc.Message + ")");
            }
            string[][] expected = { new[] { "set_id", entry.Name }, new[] { "host", host }, new[] { "instance", instance } };
            foreach (string[] pair in expected)
            {
                // NTFS names are case-insensitive; a manifest copied into another set's folder is not that set.
                string value = (string)doc[pair[0]];
                if (value.ToLowerInvariant() != pair[1].ToLowerInvariant())
                    return new SetEntry(entry.Name, path, null, "manifest " + pair[0] + " " + Py.Repr(value) + " does not match the folder (" + Py.Repr(pair[1]) + ")");
            }
            return new SetEntry(entry.Name, path, doc);
        }

        /// <summary>Why the instance root must not be used (a link on the way), or "".</summary>
        private static string RootProblem(string destRoot, string host, string instance)
        {
            string current = destRoot;
            foreach (string part in new[] { host, instance })
            {
                current = Path.Combine(current, part);
                FileAttributes? st = Verify.Lstat(current);
                if (st == null)
                    return "";
                if (Verify.IsReparsePoint(st.Value))
                    return current + " is a symlink or reparse point: never followed";
                if (!Verify.IsDirectory(st.Value))
                    return current + " is not a folder";
            }
            return "";
        }

        /// <summary>List the sets under &lt;destRoot&gt;/&lt;host&gt;/&lt;instance&gt;/ and load their manifests. A missing
        /// root gives an empty catalogue, a root reached through a link one skipped entry and no sets.</summary>
        /// <exception cref="ManifestError">a bad host or instance name.</exception>
        public static Catalogue Scan(string destRoot, string host, string instance)
        {
            string root = InstanceRoot(destRoot, host, instance);
            Catalogue cat = new Catalogue(root);
            string problem = RootProblem(destRoot, host, instance);
            if (problem.Length > 0)
            {
                cat.Skipped.Add(new SetEntry(Path.GetFileName(root), root, null, problem));
                return cat;
            }
            if (!Directory.Exists(root))
                return cat;
            List<FileSystemInfo> entries = new DirectoryInfo(root).GetFileSystemInfos().ToList();
            entries.Sort((a, b) => Py.CodePointCompare(a.Name, b.Name));
            foreach (FileSystemInfo entry in entries)
            {
                SetEntry item = Classify(entry, host, instance);
                (item.Manifest != null ? cat.Sets : cat.Skipped).Add(item);
            }
            return cat;
        }

        // -- incremental guard ------------------------------------------------------------------------

        private static string HexOf(long value)
        {
            return value < 0 ? "-0x" + (-value).ToString("x", CultureInfo.InvariantCulture) : "0x" + value.ToString("x", CultureInfo.InvariantCulture);
        }

        private static string Describe(List<long> lgpos, long genLow, long genHigh, bool snapshot)
        {
            return "lgposMark (" + HexOf(lgpos[0]) + "," + lgpos[1] + "," + lgpos[2] + "), generations " + genLow + "-" + genHigh + ", " + (snapshot ? "snapshot" : "streaming");
        }

        /// <summary>Decide whether an incremental (or differential) may start (docs/dev/safety-rules.md rule 8): every database
        /// header's last full backup (DatabaseInfo.FullPrev) must match the newest complete full manifest at the destination.
        /// lastFulls: database path -> its header's FullPrev (null when empty); where: the instance root as the host names it.</summary>
        public static GuardResult IncrementalGuard(Catalogue catalogue, string backupType, IDictionary<string, BackupInfo> lastFulls,
                                                   string incrementalFallback = "none", string where = null)
        {
            if (backupType == "full" || backupType == "copy")
                return new GuardResult(GuardOk, backupType, "a full or copy needs no earlier set");
            JsonObject full = catalogue.NewestFull();
            string reason = "";
            string hint = "";
            if (full == null)
            {
                reason = "no complete full backup at " + (String.IsNullOrEmpty(where) ? catalogue.Root : where);
                hint = "Take a full backup to this dest first, or set incremental_fallback: full.";
            }
            else if (lastFulls == null || lastFulls.Count == 0)
            {
                reason = "the instance has no database header to compare";
                hint = "Check the instance's databases (instance_info).";
            }
            else
            {
                JsonObject mark = full.Obj("mark");
                List<string> paths = lastFulls.Keys.ToList();
                paths.Sort(Py.CodePointCompare);
                foreach (string path in paths)
                {
                    BackupInfo bk = lastFulls[path];
                    if (bk == null)
                    {
                        reason = "the header of " + path + " records no full backup, but " + full["set_id"] + " is at the dest";
                        hint = "The database was re-created or attached to another log stream; take a full backup.";
                        break;
                    }
                    List<long> headerLgpos = LgposMark(bk).Select(v => (long)v).ToList();
                    long headerLow = bk.GenLow, headerHigh = bk.GenHigh;
                    bool headerSnap = bk.OSSnapshot;
                    List<long> destLgpos = mark.List("lgpos_mark").Select(v => J.AsLong(v, "lgpos_mark")).ToList();
                    long destLow = mark.Long("gen_low"), destHigh = mark.Long("gen_high");
                    bool destSnap = mark.Bool("snapshot");
                    bool sameFirst3 = headerLgpos.SequenceEqual(destLgpos) && headerLow == destLow && headerHigh == destHigh;
                    if (!(sameFirst3 && headerSnap == destSnap))
                    {
                        reason = "the last full backup in the header of " + path + " (" + Describe(headerLgpos, headerLow, headerHigh, headerSnap)
                                 + ") is not the newest complete full at the dest, " + full["set_id"] + " (" + Describe(destLgpos, destLow, destHigh, destSnap) + ")";
                        if (headerSnap != destSnap && sameFirst3)
                            hint = "The backup types disagree (snapshot vs streaming); take a full backup with the method you use for incrementals.";
                        else
                            hint = "A full backup was taken elsewhere (another dest or tool) after the one in this dest; take a full backup here.";
                        break;
                    }
                }
            }
            if (reason.Length == 0)
                return new GuardResult(GuardOk, backupType, "header matches " + full["set_id"], null, (string)full["set_id"]);
            if (incrementalFallback == "full")
                return new GuardResult(GuardFallbackFull, "full", reason + "; taking a full backup (incremental_fallback: full)");
            int code = JetErrorCatalogue.CodeOf("JET_errMissingFullBackup");
            string article = backupType == "incremental" ? "an" : "a";
            JsonObject error = new JsonObject().Add("jet", (long)code).Add("name", "JET_errMissingFullBackup")
                .Add("message", "cannot take " + article + " " + backupType + " backup: " + reason)
                .Add("hint", !hint.Contains("incremental_fallback") ? hint + " (or set incremental_fallback: full)" : hint);
            return new GuardResult(GuardFail, backupType, reason, error);
        }

        // -- prune ------------------------------------------------------------------------------------

        /// <summary>A link appeared inside a set being deleted.</summary>
        private sealed class ReparseFound : Exception
        {
            public ReparseFound(string path) : base(path) { }
        }

        /// <summary>The first link or reparse point under folder (relative name), or ""; never follows one.</summary>
        private static string FindReparse(string folder)
        {
            Stack<string> stack = new Stack<string>();
            stack.Push(folder);
            string prefix = folder.TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar);
            while (stack.Count > 0)
            {
                string current = stack.Pop();
                foreach (FileSystemInfo entry in new DirectoryInfo(current).GetFileSystemInfos())
                {
                    FileAttributes st = entry.Attributes;
                    if (Verify.IsReparsePoint(st))
                    {
                        string full = System.IO.Path.Combine(current, entry.Name);
                        return full.StartsWith(prefix, StringComparison.Ordinal) ? full.Substring(prefix.Length + 1) : full;
                    }
                    if (Verify.IsDirectory(st))
                        stack.Push(System.IO.Path.Combine(current, entry.Name));
                }
            }
            return "";
        }

        /// <summary>Delete a set folder bottom-up with file and empty-folder deletes only; stop at any link (never deletes through one).</summary>
        private static void DeleteTree(string folder)
        {
            // the manifest goes last
            List<FileSystemInfo> entries = new DirectoryInfo(folder).GetFileSystemInfos().OrderBy(e => e.Name == Manifest.ManifestName).ToList();
            foreach (FileSystemInfo entry in entries)
            {
                string path = System.IO.Path.Combine(folder, entry.Name);
                FileAttributes st = entry.Attributes;
                if (Verify.IsReparsePoint(st))
                    throw new ReparseFound(path);
                if (Verify.IsDirectory(st))
                    DeleteTree(path);
                else
                    File.Delete(path);
            }
            Directory.Delete(folder, false);
        }

        private static string ChainRoot(JsonObject doc, Dictionary<string, JsonObject> byId)
        {
            HashSet<string> seen = new HashSet<string>();
            while (Manifest.ChainType(doc) != "full" && Manifest.ChainType(doc) != "copy")
            {
                JsonObject reference = doc["parent"] as JsonObject;
                if (reference == null)
                    return null;
                string id = (string)reference["set_id"];
                if (seen.Contains(id) || !byId.ContainsKey(id))
                    return null;
                seen.Add(id);
                doc = byId[id];
            }
            return Manifest.ChainType(doc) == "full" ? (string)doc["set_id"] : null;
        }

        private static bool OlderThan(JsonObject doc, JsonObject boundary)
        {
            if (doc["mark"] != null)
                return Manifest.CompareOrder(doc, boundary) < 0;
            // Without a mark (a pending-end or failed streaming set) only the folder times compare.
            return Py.CodePointCompare((string)doc["created_utc"], (string)boundary["created_utc"]) < 0;
        }

        /// <summary>The manifest written before deleting: failed, so an interrupted prune leaves no usable-looking set.</summary>
        private static JsonObject Tombstone(JsonObject doc)
        {
            if ((string)doc["status"] == Manifest.StatusFailed)
                return doc;
            JsonObject dead = new JsonObject(doc);
            dead["status"] = Manifest.StatusFailed;
            dead["recorded_as"] = null;
            dead["finalised_utc"] = Manifest.UtcText();
            dead["error"] = new JsonObject().Add("jet", (long)JetErrorCatalogue.CodeOf("JET_errDeleteBackupFileFail")).Add("name", "JET_errDeleteBackupFileFail")
                .Add("message", "prune is deleting this set; never restore it");
            return Manifest.Seal(dead);
        }

        private static JsonObject With(JsonObject item, string reason)
        {
            return new JsonObject(item).Add("reason", reason);
        }

        /// <summary>Delete whole chains older than the newest keepFull complete full chains. Kept: every set of the newest
        /// keepFull chains and every set not older (by lgposMark) than the oldest kept full. Deleted: valid sets older than it.
        /// Skipped and never touched: links and reparse points (at any depth), folders without a valid manifest of this
        /// collection, manifests naming another host, instance or folder. With fewer than keepFull complete fulls nothing is deleted.</summary>
        /// <exception cref="ArgumentException">keepFull below 1.</exception>
        /// <exception cref="ManifestError">a bad host or instance name.</exception>
        public static PruneReport Prune(string destRoot, string host, string instance, long keepFull, bool dryRun = false)
        {
            if (keepFull < 1)
                throw new ArgumentException("keep_full must be at least 1, got " + keepFull);
            PruneReport report = new PruneReport(dryRun, keepFull);
            Catalogue cat = Scan(destRoot, host, instance);
            report.Skipped = cat.Skipped.Select(e => e.ToDict()).ToList();
            List<JsonObject> docs = cat.Manifests;
            Dictionary<string, JsonObject> byId = new Dictionary<string, JsonObject>();
            foreach (JsonObject d in docs)
                byId[(string)d["set_id"]] = d;
            List<JsonObject> fulls = docs.Where(d => Manifest.IsComplete(d) && Manifest.ChainType(d) == "full")
                .OrderByDescending(d => Manifest.OrderKey(d)).ToList();
            List<JsonObject> keptFulls = fulls.Take((int)Math.Min(keepFull, Int32.MaxValue)).ToList();
            HashSet<string> keptIds = new HashSet<string>(keptFulls.Select(d => (string)d["set_id"]));
            // With keepFull complete fulls the window is set, so leftovers older than it (failed or copy sets, a chain
            // whose full an interrupted prune already marked failed) go too; with fewer, nothing does.
            JsonObject boundary = fulls.Count >= keepFull ? keptFulls[keptFulls.Count - 1] : null;
            foreach (JsonObject doc in docs)
            {
                SetEntry entry = cat.Entry((string)doc["set_id"]);
                if (entry == null) // cannot happen: docs come from cat.Sets
                    continue;
                JsonObject item = entry.ToDict();
                string root = Manifest.IsComplete(doc) ? ChainRoot(doc, byId) : null;
                if (boundary == null)
                    report.Kept.Add(With(item, fulls.Count + " complete full chain(s), keep_full is " + keepFull));
                else if (root != null && keptIds.Contains(root))
                    report.Kept.Add(With(item, "in the chain of kept full " + root));
                else if (!OlderThan(doc, boundary))
                    report.Kept.Add(With(item, "not older than the oldest kept full " + boundary["set_id"]));
                else
                {
                    string why = !String.IsNullOrEmpty(root) ? "chain of full " + root + ", beyond the newest " + keepFull
                                                             : doc["status"] + " " + Manifest.ChainType(doc) + " set older than " + boundary["set_id"];
                    DeleteOne(report, entry, doc, With(item, why));
                }
            }
            return report;
        }

        private static void DeleteOne(PruneReport report, SetEntry entry, JsonObject doc, JsonObject item)
        {
            string link;
            try
            {
                link = FindReparse(entry.Path);
            }
            catch (Exception exc)
            {
                if (!Copier.IsOsError(exc))
                    throw;
                report.Errors.Add(With(item, "cannot list the set: " + exc.Message));
                return;
            }
            if (link.Length > 0)
            {
                report.Skipped.Add(With(item, "contains a symlink or reparse point (" + link + "); not deleted, check it by hand"));
                return;
            }
            if (report.DryRun)
            {
                report.Deleted.Add(item);
                return;
            }
            try
            {
                WriteManifest(entry.Path, Tombstone(doc));
                DeleteTree(entry.Path);
            }
            catch (ReparseFound exc)
            {
                report.Errors.Add(With(item, "a link appeared during the delete (" + exc.Message + "); stopped, the set is marked failed"));
                return;
            }
            catch (Exception exc)
            {
                if (!Copier.IsOsError(exc))
                    throw;
                report.Errors.Add(With(item, "delete failed: " + exc.Message + "; the set is marked failed"));
                return;
            }
            report.Deleted.Add(item);
            Copier.FsyncDir(System.IO.Path.GetDirectoryName(entry.Path.TrimEnd(System.IO.Path.DirectorySeparatorChar)));
        }
    }
}
