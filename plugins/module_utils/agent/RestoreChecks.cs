// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// What the restore op checks before it writes and reports after it (docs/dev/safety-rules.md rule 9).
// Ported from the reference agent's restore_checks.py call for call. OpsRestore.OpRestore calls
// these two hooks: CheckSpace once the chain is planned and before the target is touched (a restore
// that would not fit fails with JET_errClientInsufficientSpace and writes nothing), and Finish once
// the restored store is clean and read back.
//
// Finish removes the chain's logs and checkpoint the restore staged in the target (the hard
// restore already removed its staging folder): their records name each database by its original
// path, so an instance started on the target later, without the restore map, would replay them onto
// the original databases. Soft recovery of a snapshot image leaves the base set's checkpoint as it
// was, so that replay really happens. What stays is what a hard restore leaves: the databases,
// Clean Shutdown, which any instance attaches without logs (docs/dev/ese-facts.md section 5.4). It
// then lists restored_files.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;

namespace EsentBackup.Agent
{
    public static class RestoreChecks
    {
        public static readonly int ErrInsufficientSpace = Err.Code("JET_errClientInsufficientSpace");

        /// <summary>Free space kept beyond the staged files (the copier keeps the same for a backup set): ESE's
        /// restore writes a new checkpoint and log records on top of what is staged.</summary>
        public const long ReserveBytes = 1L << 20;

        /// <summary>Free bytes of the volume holding path (its nearest existing folder): shutil.disk_usage(...).free,
        /// the bytes this caller may use (DriveInfo.AvailableFreeSpace of the volume mounted deepest above it).</summary>
        public static long FreeBytes(string path)
        {
            string full = path;
            if (full.StartsWith("\\\\?\\", StringComparison.Ordinal))
                full = full.Substring(4);
            string candidate = full;
            while (!String.IsNullOrEmpty(candidate) && !Directory.Exists(candidate) && !File.Exists(candidate))
                candidate = Path.GetDirectoryName(candidate);
            if (String.IsNullOrEmpty(candidate))
                candidate = Path.GetPathRoot(full) ?? full;
            full = Path.GetFullPath(candidate);
            bool windows = Path.DirectorySeparatorChar == '\\';
            StringComparison cmp = windows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            DriveInfo best = null;
            int bestLength = -1;
            foreach (DriveInfo drive in DriveInfo.GetDrives())
            {
                string root;
                try
                {
                    if (!drive.IsReady)
                        continue;
                    root = drive.RootDirectory.FullName;
                }
                catch (IOException)
                {
                    continue;
                }
                catch (UnauthorizedAccessException)
                {
                    continue;
                }
                string withSep = root.EndsWith(Path.DirectorySeparatorChar.ToString(), StringComparison.Ordinal) ? root : root + Path.DirectorySeparatorChar;
                bool under = full.Equals(root, cmp) || full.StartsWith(withSep, cmp) || (full + Path.DirectorySeparatorChar).Equals(withSep, cmp);
                if (under && root.Length > bestLength)
                {
                    best = drive;
                    bestLength = root.Length;
                }
            }
            return best != null ? best.AvailableFreeSpace : 0;
        }

        /// <summary>Bytes a restore of chain stages: the base set's databases and checkpoint, and one copy of every log generation.</summary>
        public static long StagedBytes(List<JsonObject> chain)
        {
            Dictionary<long, long> logs = new Dictionary<long, long>();
            foreach (JsonObject doc in chain)
                foreach (JsonObject f in doc.List("files"))
                    if (f.Str("role") == "log")
                        logs[f.Long("generation")] = f.Long("size_bytes");  // a newer set's copy is the one staged
            long baseBytes = 0;
            foreach (JsonObject f in chain[0].List("files"))
                if (f.Str("role") != "log")
                    baseBytes += f.Long("size_bytes");
            foreach (long size in logs.Values)
                baseBytes += size;
            return baseBytes;
        }

        /// <summary>Refuse a restore whose staged files would not fit on the target's volume.
        /// Originals moved aside by overwrite stay on the same volume (a rename), so they free nothing.</summary>
        /// <exception cref="AgentFailure">-10009 naming the target, the bytes needed and the bytes free.</exception>
        public static void CheckSpace(AgentProcess agent, List<JsonObject> chain, string target, string targetReal)
        {
            long need = StagedBytes(chain) + ReserveBytes;
            long free = FreeBytes(targetReal);
            if (free < need)
            {
                List<string> setIds = new List<string>();
                foreach (JsonObject d in chain)
                    setIds.Add(d.Str("set_id"));
                string ids = String.Join(", ", setIds.ToArray());
                throw new AgentFailure(ErrInsufficientSpace, String.Format("target {0}: the restore of {1} stages "
                    + "{2} bytes (and keeps {3} in reserve), {4} are free; nothing was written", target, ids, need - ReserveBytes, ReserveBytes, free),
                    "Free space on the target's volume or restore into a folder on another volume.",
                    new JsonObject().Add("target", target).Add("needed_bytes", need).Add("free_bytes", free));
            }
            agent.Journal.Write("restore_space_checked", new JsonObject().Add("target", target).Add("needed_bytes", need).Add("free_bytes", free));
        }

        /// <summary>Remove the staged logs (from &lt;target&gt;\logs) and the staged checkpoint, then set output["restored_files"].</summary>
        public static void Finish(AgentProcess agent, string target, JsonObject output, List<string> stagedLogs, string checkpoint)
        {
            string root = agent.Platform.RealPath(target, null);
            string logs = agent.Platform.RealPath(output.Str("log_path"), null);
            List<string> paths = new List<string>();
            foreach (string name in stagedLogs)
                paths.Add(Path.Combine(logs, name));
            if (!String.IsNullOrEmpty(checkpoint))
                paths.Add(Path.Combine(root, checkpoint));
            List<object> removed = new List<object>();
            foreach (string path in paths)
            {
                if (File.Exists(path) && !IsLink(path))
                {
                    File.Delete(path);
                    removed.Add(Path.GetFileName(path));
                }
            }
            agent.Journal.Write("restore_staging_removed", new JsonObject().Add("target", target).Add("files", removed));
            List<string> databases = new List<string>();
            foreach (KeyValuePair<string, object> kv in output.Obj("restore_map"))
                databases.Add((string)kv.Value);
            output["restored_files"] = RestoredFiles(agent, target, databases);
        }

        /// <summary>A symlink or other reparse point (never followed, never deleted through).</summary>
        internal static bool IsLink(string path)
        {
            try
            {
                return (File.GetAttributes(path) & FileAttributes.ReparsePoint) != 0;
            }
            catch (IOException)
            {
                return false;
            }
        }

        /// <summary>Every regular file under root as its relative parts, without descending into a link (Path.rglob("*")
        /// with is_file() and not is_symlink()), sorted as Python sorts the paths (part by part, ordinal).</summary>
        internal static List<string[]> FilesUnder(string root, bool keepLinks = false)
        {
            List<string[]> found = new List<string[]>();
            Walk(root, new List<string>(), found, keepLinks);
            found.Sort(CompareParts);
            return found;
        }

        private static void Walk(string folder, List<string> prefix, List<string[]> found, bool keepLinks)
        {
            string[] entries;
            try
            {
                entries = Directory.GetFileSystemEntries(folder);
            }
            catch (IOException)
            {
                return;
            }
            catch (UnauthorizedAccessException)
            {
                return;
            }
            foreach (string entry in entries)
            {
                string name = Path.GetFileName(entry);
                List<string> parts = new List<string>(prefix);
                parts.Add(name);
                bool link = IsLink(entry);
                if (Directory.Exists(entry))
                {
                    if (!link)
                        Walk(entry, parts, found, keepLinks);
                }
                else if (File.Exists(entry) && (keepLinks || !link))
                {
                    found.Add(parts.ToArray());
                }
            }
        }

        private static int CompareParts(string[] a, string[] b)
        {
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                int c = String.CompareOrdinal(a[i], b[i]);
                if (c != 0)
                    return c;
            }
            return a.Length.CompareTo(b.Length);
        }

        /// <summary>The files the restore left in target: path (Windows), size and role (database, checkpoint, log, other).</summary>
        public static List<object> RestoredFiles(AgentProcess agent, string target, List<string> databases)
        {
            string root = agent.Platform.RealPath(target, null);
            Dictionary<string, bool> wanted = new Dictionary<string, bool>();
            foreach (string d in databases)
                wanted[d.ToLowerInvariant()] = true;
            List<object> output = new List<object>();
            foreach (string[] parts in FilesUnder(root))
            {
                string real = Path.Combine(root, String.Join(Path.DirectorySeparatorChar.ToString(), parts));
                string win = target.TrimEnd('\\') + "\\" + String.Join("\\", parts);
                string suffix = Suffix(parts[parts.Length - 1]);
                string role = wanted.ContainsKey(win.ToLowerInvariant()) ? "database" : suffix == ".chk" ? "checkpoint"
                    : suffix == ".log" || suffix == ".jrs" ? "log" : "other";
                output.Add(new JsonObject().Add("path", win).Add("size_bytes", new FileInfo(real).Length).Add("role", role));
            }
            return output;
        }

        /// <summary>pathlib's PurePath.suffix, lower case: the last dot's part of the name ("" for none, or a name that ends with a dot).</summary>
        internal static string Suffix(string name)
        {
            int dot = name.LastIndexOf('.');
            if (dot <= 0 || dot == name.Length - 1)
                return "";
            return name.Substring(dot).ToLowerInvariant();
        }
    }
}
