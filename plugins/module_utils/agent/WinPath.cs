// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Windows paths as Windows reads them: the part of plugins/plugin_utils/_winpath.py the agent's
// destination check uses (normalise, folded, parent, overlaps, store_folders, check_dest), ported
// call for call with the same messages, so a path the controller accepts is the path the agent checks.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace EsentBackup.Agent
{
    /// <summary>A path or name the collection refuses; the message names the option and the fix.</summary>
    public sealed class WindowsPathError : Exception
    {
        public readonly string Option;

        public WindowsPathError(string option, string message)
            : base(option + ": " + message)
        {
            Option = option;
        }
    }

    public static class WinPath
    {
        public const int MaxPath = 260;
        public const string AgentDir = "C:\\ProgramData\\esent.backup";
        private static readonly HashSet<string> ReservedNames = MakeReserved();
        private const string InvalidChars = "<>:\"|?*";
        private static readonly Regex Drive = new Regex("^([A-Za-z]):[\\\\/]");
        /// <summary>Folders no backup set belongs in, on any drive.</summary>
        public static readonly string[] SystemFolders = { "Windows", "Program Files", "Program Files (x86)", AgentDir.Substring(3) };

        private static HashSet<string> MakeReserved()
        {
            HashSet<string> names = new HashSet<string>(StringComparer.Ordinal) { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$" };
            foreach (string dev in new[] { "COM", "LPT" })
                foreach (string n in new[] { "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3" })
                    names.Add(dev + n);
            return names;
        }

        private static int ControlChar(string value)
        {
            for (int i = 0; i < value.Length; i++)
                if (value[i] < 0x20 || value[i] == 0x7f)
                    return i;
            return -1;
        }

        private static string PyTypeName(object value)
        {
            return value == null ? "NoneType" : Json.TypeName(value);
        }

        /// <summary>Whether a file or folder name is a reserved device name (CON, nul.txt, "COM1 ").</summary>
        public static bool ReservedName(string segment)
        {
            string stem = segment.Split(new[] { '.' }, 2)[0].TrimEnd(' ');
            return ReservedNames.Contains(stem.ToUpperInvariant());
        }

        private static string SegmentProblem(string segment)
        {
            if (segment == "..")
                return "contains a '..' segment; give the folder itself, without '..'";
            if (ReservedName(segment))
                return "segment " + Manifest.Repr(segment) + " is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9); rename it";
            List<char> bad = segment.Where(c => InvalidChars.IndexOf(c) >= 0).Distinct().OrderBy(c => c).ToList();
            if (bad.Count > 0)
                return "segment " + Manifest.Repr(segment) + " holds " + Manifest.Repr(new string(bad.ToArray())) + ", which Windows does not allow in names";
            if (segment.EndsWith(".", StringComparison.Ordinal) || segment.EndsWith(" ", StringComparison.Ordinal))
                return "segment " + Manifest.Repr(segment) + " ends in a dot or a space, which Windows drops (two spellings would name one folder)";
            return "";
        }

        /// <summary>A Windows absolute path as Windows resolves it (X:\seg\seg), or WindowsPathError naming the option.</summary>
        public static string Normalise(string option, object value)
        {
            string s = value as string;
            if (s == null)
                throw new WindowsPathError(option, "must be a string path, got " + PyTypeName(value) + " " + Manifest.Repr(value));
            if (s.Length == 0)
                throw new WindowsPathError(option, "must not be empty; give an absolute path such as E:\\EseBackups");
            int pos = ControlChar(s);
            if (pos >= 0)
                throw new WindowsPathError(option, "holds the control character " + Manifest.Repr(s[pos].ToString()) + " at position " + pos + "; remove it");
            string head = s.Length >= 2 ? s.Substring(0, 2) : s;
            if (head == "\\\\" || head == "//" || head == "\\/" || head == "/\\")
                throw new WindowsPathError(option, "UNC shares and device paths (" + s + ") are not supported in v1: the agent's network logon "
                                                   + "has no credentials for shares. Use a local absolute path such as E:\\EseBackups.");
            Match match = Drive.Match(s);
            if (!match.Success)
                throw new WindowsPathError(option, "must be an absolute Windows path with a drive letter, such as E:\\EseBackups; got " + Manifest.Repr(s));
            List<string> segments = new List<string>();
            foreach (string segment in s.Substring(3).Split('\\', '/'))
            {
                if (segment == "" || segment == ".")
                    continue;
                string problem = SegmentProblem(segment);
                if (problem.Length > 0)
                    throw new WindowsPathError(option, problem + " (in " + Manifest.Repr(s) + ")");
                segments.Add(segment);
            }
            string path = match.Groups[1].Value.ToUpperInvariant() + ":\\" + String.Join("\\", segments);
            if (Manifest.CodePointLength(path) >= MaxPath)
                throw new WindowsPathError(option, "is " + Manifest.CodePointLength(path) + " characters; Windows paths must stay under " + MaxPath);
            return path;
        }

        /// <summary>A normalised path in the form used to compare (case-insensitive, with a trailing separator).</summary>
        public static string Folded(string path)
        {
            return path.ToLowerInvariant().TrimEnd('\\') + "\\";
        }

        /// <summary>The folder of a normalised path (X:\ stays X:\).</summary>
        public static string Parent(string path)
        {
            int cut = path.LastIndexOf('\\');
            string head = cut >= 0 ? path.Substring(0, cut) : path;
            return head.EndsWith(":", StringComparison.Ordinal) ? head + "\\" : head;
        }

        /// <summary>Whether two normalised folders are the same, or one holds the other.</summary>
        public static bool Overlaps(string a, string b)
        {
            string fa = Folded(a), fb = Folded(b);
            return fa.StartsWith(fb, StringComparison.Ordinal) || fb.StartsWith(fa, StringComparison.Ordinal);
        }

        /// <summary>The live store's folders as (option, normalised folder): log, system and each database's folder.</summary>
        public static List<KeyValuePair<string, string>> StoreFolders(JsonObject instance)
        {
            List<KeyValuePair<string, string>> folders = new List<KeyValuePair<string, string>>();
            if (instance == null)
                return folders;
            if (instance["log_path"] != null)
                folders.Add(new KeyValuePair<string, string>("instance.log_path", Normalise("instance.log_path", instance["log_path"])));
            if (instance["system_path"] != null)
                folders.Add(new KeyValuePair<string, string>("instance.system_path", Normalise("instance.system_path", instance["system_path"])));
            List<object> dbs = instance["databases"] as List<object>;
            if (dbs != null)
                foreach (object db in dbs)
                    folders.Add(new KeyValuePair<string, string>("instance.databases", Parent(Normalise("instance.databases", db))));
            return folders;
        }

        /// <summary>A backup destination, normalised, or WindowsPathError: an invalid path, a system folder, or one that overlaps the store's folders.</summary>
        public static string CheckDest(object value, JsonObject instance = null, string option = "dest")
        {
            string dest = Normalise(option, value);
            foreach (string system in SystemFolders)
                if (Folded(dest).StartsWith(Folded(dest.Substring(0, 3) + system), StringComparison.Ordinal))
                    throw new WindowsPathError(option, dest + " is inside the system folder " + dest.Substring(0, 3) + system + "; pick a backup folder such as E:\\EseBackups");
            foreach (KeyValuePair<string, string> kv in StoreFolders(instance))
            {
                if (Overlaps(dest, kv.Value))
                {
                    string where = Folded(dest).StartsWith(Folded(kv.Value), StringComparison.Ordinal) ? "inside" : "above";
                    throw new WindowsPathError(option, dest + " (given as " + Manifest.Repr(value) + ") is " + where + " the live store's folder " + kv.Value
                                                       + " (" + kv.Key + "); pick a folder outside the store's folders, such as E:\\EseBackups");
                }
            }
            return dest;
        }
    }
}
