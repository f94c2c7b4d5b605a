// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Verification of a backup set at its destination (docs/dev/safety-rules.md rules 4 and 6), ported
// call for call from esesim/agent/verify.py. Verification re-reads the files in the set folder,
// never the source stream, and compares each size and SHA-256 with the manifest (or with the file
// list a copy job produced, before the manifest exists). A missing file, a file cut short or grown,
// a changed byte, or a name that is a symlink or reparse point fails, naming the file. Log
// truncation is allowed only after a verification of the whole set succeeded.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    /// <summary>The outcome for one file: ok, or the reason with what was expected and found.</summary>
    public sealed class FileCheck
    {
        public string Name;
        public bool Ok;
        public string Reason = "";
        public long ExpectedSize;
        public long? ActualSize;
        public string ExpectedSha256 = "";
        public string ActualSha256;

        public FileCheck(string name, bool ok)
        {
            Name = name;
            Ok = ok;
        }

        public JsonObject ToDict()
        {
            return new JsonObject().Add("name", Name).Add("ok", Ok).Add("reason", Reason).Add("expected_size", ExpectedSize)
                .Add("actual_size", ActualSize.HasValue ? (object)ActualSize.Value : null).Add("expected_sha256", ExpectedSha256)
                .Add("actual_sha256", ActualSha256);
        }
    }

    /// <summary>The outcome for a set: every file checked, the failures, and files the manifest does not list.</summary>
    public sealed class VerifyResult
    {
        public string SetDir;
        public List<FileCheck> Checks = new List<FileCheck>();
        public List<string> Unexpected = new List<string>();
        public long BytesRead;
        public string ManifestProblem = "";

        public VerifyResult(string setDir, string manifestProblem = "")
        {
            SetDir = setDir;
            ManifestProblem = manifestProblem;
        }

        public List<FileCheck> Failures { get { return Checks.Where(c => !c.Ok).ToList(); } }

        /// <summary>True only when the manifest was valid and every listed file matched.</summary>
        public bool Ok { get { return ManifestProblem.Length == 0 && Checks.Count > 0 && Failures.Count == 0; } }

        /// <summary>The protocol error object (JET_errClientVerifyFailed) naming the first bad file, or null.</summary>
        public JsonObject Error()
        {
            if (Ok)
                return null;
            int code = JetErrorCatalogue.CodeOf("JET_errClientVerifyFailed");
            string message, file;
            if (ManifestProblem.Length > 0)
            {
                message = Manifest.ManifestName + ": " + ManifestProblem;
                file = Manifest.ManifestName;
            }
            else if (Checks.Count == 0)
            {
                message = "the set lists no files";
                file = null;
            }
            else
            {
                List<FileCheck> failures = Failures;
                FileCheck first = failures[0];
                int more = failures.Count - 1;
                message = first.Name + ": " + first.Reason + (more > 0 ? " (and " + more + " more file" + (more > 1 ? "s" : "") + ")" : "");
                file = first.Name;
            }
            return new JsonObject().Add("jet", (long)code).Add("name", "JET_errClientVerifyFailed").Add("message", message)
                .Add("hint", JetErrorCatalogue.Lookup(code).Hint).Add("file", file);
        }

        /// <summary>The verify op result.</summary>
        public JsonObject ToDict()
        {
            return new JsonObject().Add("set_dir", SetDir).Add("ok", Ok).Add("files_checked", (long)Checks.Count).Add("bytes_read", BytesRead)
                .Add("failures", Failures.Select(c => (object)c.ToDict()).ToList()).Add("unexpected", Unexpected.Cast<object>().ToList())
                .Add("error", Error());
        }
    }

    /// <summary>Verification was cancelled (the session ended meanwhile); nothing is reported as verified.</summary>
    public sealed class VerifyCancelled : Exception
    {
        public VerifyCancelled(string name) : base(name) { }
    }

    public static class Verify
    {
        public const int DefaultChunkBytes = 1 << 20;

        /// <summary>True for a symlink, or any reparse point such as a junction or mount point (never followed).</summary>
        public static bool IsReparsePoint(FileAttributes attributes)
        {
            return (attributes & FileAttributes.ReparsePoint) != 0;
        }

        /// <summary>The attributes of the name itself, never of what a link points at (Python's os.lstat); null when missing.</summary>
        public static FileAttributes? Lstat(string path)
        {
            try
            {
                // GetFileAttributes reports a link's own attributes (ReparsePoint set) and never follows it.
                return File.GetAttributes(path);
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            catch (DirectoryNotFoundException)
            {
                return null;
            }
        }

        /// <summary>A plain file: not a folder, link, reparse point or device (Python's stat.S_ISREG).</summary>
        public static bool IsRegular(FileAttributes attributes)
        {
            return (attributes & (FileAttributes.Directory | FileAttributes.ReparsePoint | FileAttributes.Device)) == 0;
        }

        /// <summary>A plain folder (Python's stat.S_ISDIR on an lstat result that is no link).</summary>
        public static bool IsDirectory(FileAttributes attributes)
        {
            return (attributes & FileAttributes.Directory) != 0;
        }

        /// <summary>Open set_dir/name for reading without following any link on the way; null with the reason otherwise.</summary>
        private static FileStream OpenNoFollow(string setDir, string name, out string reason)
        {
            reason = "";
            string current = setDir;
            string[] parts = name.Split('/');
            for (int i = 0; i < parts.Length; i++)
            {
                current = Path.Combine(current, parts[i]);
                FileAttributes? st = Lstat(current);
                if (st == null)
                {
                    reason = "missing at the destination";
                    return null;
                }
                if (IsReparsePoint(st.Value))
                {
                    reason = "is a symlink or reparse point at the destination (never followed)";
                    return null;
                }
                bool last = i == parts.Length - 1;
                if (last && !IsRegular(st.Value))
                {
                    reason = "is not a regular file at the destination";
                    return null;
                }
                if (!last && !IsDirectory(st.Value))
                {
                    reason = String.Join("/", parts.Take(i + 1)) + " is not a folder at the destination";
                    return null;
                }
            }
            return new FileStream(current, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, FileOptions.SequentialScan);
        }

        private static FileCheck CheckFile(string setDir, JsonObject entry, int chunkSize, WaitHandle cancel, out long read)
        {
            read = 0;
            FileCheck check = new FileCheck(entry.Str("name"), false);
            check.ExpectedSize = entry.Long("size_bytes");
            check.ExpectedSha256 = entry.Str("sha256", "");
            FileStream fs;
            string reason;
            try
            {
                fs = OpenNoFollow(setDir, check.Name, out reason);
            }
            catch (Exception exc)
            {
                if (!(exc is IOException || exc is UnauthorizedAccessException))
                    throw;
                check.Reason = "cannot be opened: " + exc.Message;
                return check;
            }
            if (fs == null)
            {
                check.Reason = reason;
                return check;
            }
            string hex;
            using (fs)
            using (SHA256 digest = CopyJob.BulkSha256())
            {
                try
                {
                    check.ActualSize = fs.Length;
                    if (check.ActualSize.Value != check.ExpectedSize)
                    {
                        // A size mismatch already fails; hashing a cut-short multi-GB file adds nothing.
                        check.Reason = "size " + check.ActualSize.Value + " bytes, the manifest says " + check.ExpectedSize;
                        return check;
                    }
                    byte[] buffer = new byte[chunkSize];
                    while (true)
                    {
                        if (cancel != null && cancel.WaitOne(0))
                            throw new VerifyCancelled(check.Name);
                        int n = fs.Read(buffer, 0, buffer.Length);
                        if (n == 0)
                            break;
                        digest.TransformBlock(buffer, 0, n, null, 0);
                        read += n;
                    }
                }
                catch (Exception exc)
                {
                    if (!(exc is IOException || exc is UnauthorizedAccessException))
                        throw;
                    check.Reason = "read error: " + exc.Message;
                    return check;
                }
                digest.TransformFinalBlock(new byte[0], 0, 0);
                hex = Manifest.Hex(digest.Hash);
            }
            check.ActualSha256 = hex;
            if (read != check.ExpectedSize)
                check.Reason = "read " + read + " bytes, the manifest says " + check.ExpectedSize + " (the file changed during verification)";
            else if (check.ActualSha256 != check.ExpectedSha256)
                check.Reason = "SHA-256 " + check.ActualSha256 + " differs from the manifest's " + check.ExpectedSha256;
            else
                check.Ok = true;
            return check;
        }

        /// <summary>Every regular file or link under setDir as a '/'-name, walking without following links.</summary>
        private static List<string> ListedFiles(string setDir)
        {
            List<string> names = new List<string>();
            Stack<KeyValuePair<string, string>> stack = new Stack<KeyValuePair<string, string>>();
            stack.Push(new KeyValuePair<string, string>(setDir, ""));
            while (stack.Count > 0)
            {
                KeyValuePair<string, string> top = stack.Pop();
                foreach (FileSystemInfo entry in new DirectoryInfo(top.Key).GetFileSystemInfos())
                {
                    string rel = top.Value + entry.Name;
                    FileAttributes attributes = entry.Attributes;
                    if (IsDirectory(attributes) && !IsReparsePoint(attributes))
                        stack.Push(new KeyValuePair<string, string>(entry.FullName, rel + "/"));
                    else
                        names.Add(rel);
                }
            }
            names.Sort(Py.CodePointCompare);
            return names;
        }

        /// <summary>Re-read every listed file at the destination and compare its size and SHA-256.</summary>
        /// <exception cref="VerifyCancelled">cancel was set; nothing counts as verified.</exception>
        public static VerifyResult VerifyFiles(string setDir, IEnumerable<object> files, int chunkSize = DefaultChunkBytes, WaitHandle cancel = null)
        {
            VerifyResult result = new VerifyResult(setDir);
            List<JsonObject> entries = files.Cast<JsonObject>().ToList();
            foreach (JsonObject entry in entries)
            {
                long read;
                FileCheck check = CheckFile(setDir, entry, chunkSize, cancel, out read);
                result.Checks.Add(check);
                result.BytesRead += read;
            }
            HashSet<string> listed = new HashSet<string>(entries.Select(e => Convert.ToString(e["name"]).ToLowerInvariant()), StringComparer.Ordinal);
            listed.Add(Manifest.ManifestName);
            try
            {
                result.Unexpected = ListedFiles(setDir).Where(n => !listed.Contains(n.ToLowerInvariant())).ToList();
            }
            catch (Exception exc)
            {
                if (!(exc is IOException || exc is UnauthorizedAccessException))
                    throw;
                result.Unexpected = new List<string>();
            }
            return result;
        }

        /// <summary>Load and validate manifest.json (its own checksum included), then verify every file it lists.</summary>
        /// <exception cref="VerifyCancelled">cancel was set.</exception>
        public static VerifyResult VerifySet(string setDir, int chunkSize = DefaultChunkBytes, WaitHandle cancel = null)
        {
            string path = Path.Combine(setDir, Manifest.ManifestName);
            byte[] data;
            try
            {
                FileAttributes? st = Lstat(path);
                if (st == null)
                    return new VerifyResult(setDir, "missing (the set was never completed)");
                if (IsReparsePoint(st.Value) || !IsRegular(st.Value))
                    return new VerifyResult(setDir, "is not a regular file");
                data = File.ReadAllBytes(path);
            }
            catch (FileNotFoundException)
            {
                return new VerifyResult(setDir, "missing (the set was never completed)");
            }
            catch (Exception exc)
            {
                if (!(exc is IOException || exc is UnauthorizedAccessException))
                    throw;
                return new VerifyResult(setDir, "cannot be read: " + exc.Message);
            }
            JsonObject doc;
            try
            {
                doc = Manifest.Loads(data);
            }
            catch (ManifestError exc)
            {
                return new VerifyResult(setDir, "invalid: " + exc.Message);
            }
            return VerifyFiles(setDir, doc.List("files"), chunkSize, cancel);
        }
    }
}
