// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Windows paths and names as Windows reads them: the agent's copy of the one normaliser of the
// controller (plugins/plugin_utils/_winpath.py), ported call for call with the same messages, so a
// path the controller accepts is the path the agent checks.
//
// Windows resolves "." and ".." segments and repeated separators before it opens anything, and
// treats a segment named like a device (CON, NUL, COM1...) as that device. So every path is
// normalised first, and anything whose meaning is not plain is refused rather than rewritten:
// a drive-letter absolute path only (no UNC shares, no device paths); "/" is a separator, repeated
// separators and "." segments collapse, ".." is refused; a reserved device name, a segment holding
// <>:"|?* or a control character, or one ending in a dot or a space is refused; the normalised path
// stays under MAX_PATH (260).
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ansible_collections.esent.backup.plugins.module_utils.ProtocolSchema;

namespace EsentBackup.Agent
{
    /// <summary>A path or name the collection refuses; the message names the option and the fix (_winpath.WindowsPathError).</summary>
    public sealed class WindowsPathError : ArgumentException
    {
        public readonly string Option;
        public readonly string Problem;

        public WindowsPathError(string option, string problem)
            : base(option + ": " + problem)
        {
            Option = option;
            Problem = problem;
        }
    }

    public static class WinPath
    {
        public const int MaxPath = 260;

        /// <summary>The agent's folder on the host (_bootstrap.AGENT_DIR, generated into ProtocolSchema.cs).</summary>
        public const string AgentDir = ProtocolSpec.AgentDir;

        private static readonly HashSet<string> ReservedNames = MakeReserved();
        private const string InvalidChars = "<>:\"|?*";
        private static readonly Regex Drive = new Regex(@"^([A-Za-z]):[\\/]", RegexOptions.CultureInvariant);
        private static readonly Regex Separators = new Regex(@"[\\/]", RegexOptions.CultureInvariant);
        // ESE's JET_paramBaseName: exactly three characters (letters and digits, as ESE's own stores use).
        private static readonly Regex BaseName = new Regex(@"^[A-Za-z0-9]{3}\z", RegexOptions.CultureInvariant);

        /// <summary>Folders no backup set belongs in, on any drive: Windows itself, installed programs and the agent's own.</summary>
        public static readonly string[] SystemFolders = { "Windows", "Program Files", "Program Files (x86)", ProtocolSpec.AgentDir.Substring(3) };

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
            for (int pos = 0; pos < value.Length; pos++)
                if (value[pos] < 0x20 || value[pos] == 0x7f)
                    return pos;
            return -1;
        }

        /// <summary>Whether a file or folder name is a reserved device name (CON, nul.txt, "COM1 ").</summary>
        public static bool ReservedName(string segment)
        {
            int dot = segment.IndexOf('.');
            string stem = (dot >= 0 ? segment.Substring(0, dot) : segment).TrimEnd(' ');
            return ReservedNames.Contains(stem.ToUpperInvariant());
        }

        private static string SegmentProblem(string segment)
        {
            if (segment == "..")
                return "contains a '..' segment; give the folder itself, without '..'";
            if (ReservedName(segment))
                return "segment " + Py.Repr(segment) + " is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9); rename it";
            SortedSet<char> bad = new SortedSet<char>();
            foreach (char c in segment)
                if (InvalidChars.IndexOf(c) >= 0)
                    bad.Add(c);
            if (bad.Count > 0)
                return "segment " + Py.Repr(segment) + " holds " + Py.Repr(new string(new List<char>(bad).ToArray())) +
                       ", which Windows does not allow in names";
            if (segment.EndsWith(".", StringComparison.Ordinal) || segment.EndsWith(" ", StringComparison.Ordinal))
                return "segment " + Py.Repr(segment) + " ends in a dot or a space, which Windows drops (two spellings would name one folder)";
            return "";
        }

        /// <summary>A Windows absolute path as Windows resolves it ("X:\seg\seg", upper-case drive, no "." segments,
        /// no trailing separator; "X:\" for a root), or WindowsPathError naming the option (_winpath.normalise).</summary>
        public static string Normalise(string option, object value)
        {
            string text = value as string;
            if (text == null)
                throw new WindowsPathError(option, "must be a string path, got " + Protocol.PyTypeName(value) + " " + Py.Repr(value));
            if (text.Length == 0)
                throw new WindowsPathError(option, "must not be empty; give an absolute path such as E:\\EseBackups");
            int pos = ControlChar(text);
            if (pos >= 0)
                throw new WindowsPathError(option, "holds the control character " + Py.Repr(text[pos].ToString()) + " at position " + pos + "; remove it");
            string head = text.Length >= 2 ? text.Substring(0, 2) : text;
            if (head == "\\\\" || head == "//" || head == "\\/" || head == "/\\")
                throw new WindowsPathError(option, "UNC shares and device paths (" + text + ") are not supported in v1: the agent's network logon " +
                                                   "has no credentials for shares. Use a local absolute path such as E:\\EseBackups.");
            Match match = Drive.Match(text);
            if (!match.Success)
                throw new WindowsPathError(option, "must be an absolute Windows path with a drive letter, such as E:\\EseBackups; got " + Py.Repr(text));
            List<string> segments = new List<string>();
            foreach (string segment in Separators.Split(text.Substring(3)))
            {
                if (segment.Length == 0 || segment == ".")
                    continue;
                string problem = SegmentProblem(segment);
                if (problem.Length > 0)
                    throw new WindowsPathError(option, problem + " (in " + Py.Repr(text) + ")");
                segments.Add(segment);
            }
            string path = match.Groups[1].Value.ToUpperInvariant() + ":\\" + String.Join("\\", segments.ToArray());
            if (path.Length >= MaxPath)
                throw new WindowsPathError(option, "is " + path.Length + " characters; Windows paths must stay under " + MaxPath);
            return path;
        }

        /// <summary>Python's str.casefold as Windows compares names (ordinal upper-casing; lower-case here, as the reference does).</summary>
        public static string Fold(string text)
        {
            return text.ToLowerInvariant();
        }

        /// <summary>A normalised path in the form used to compare (case-insensitive, with a trailing separator).</summary>
        public static string Folded(string path)
        {
            return Fold(path).TrimEnd('\\') + "\\";
        }

        /// <summary>The folder of a normalised path ("X:\" stays "X:\").</summary>
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

        /// <summary>A single folder name (an instance or host name), or WindowsPathError naming the option.</summary>
        public static string CheckFolderName(string option, object value)
        {
            string text = value as string;
            if (text == null)
                throw new WindowsPathError(option, "must be a string, got " + Protocol.PyTypeName(value) + " " + Py.Repr(value));
            if (text.Length == 0 || text == "." || text == "..")
                throw new WindowsPathError(option, "must be a folder name such as ntds_store, got " + Py.Repr(text));
            int pos = ControlChar(text);
            if (pos >= 0)
                throw new WindowsPathError(option, "holds the control character " + Py.Repr(text[pos].ToString()) + " at position " + pos + "; remove it");
            if (text.IndexOf('\\') >= 0 || text.IndexOf('/') >= 0)
                throw new WindowsPathError(option, "must be one folder name without separators, got " + Py.Repr(text));
            string problem = SegmentProblem(text);
            if (problem.Length > 0)
                throw new WindowsPathError(option, problem);
            if (text.Length > 64)
                throw new WindowsPathError(option, "is " + text.Length + " characters; keep it to 64 or fewer (it names a folder of every set)");
            return text;
        }

        /// <summary>An ESE log base name (JET_paramBaseName), or WindowsPathError naming the option.</summary>
        public static string CheckBaseName(string option, object value)
        {
            string text = value as string;
            if (text == null || !BaseName.IsMatch(text))
                throw new WindowsPathError(option, "must be exactly 3 letters or digits (ESE's JET_paramBaseName, edb by default), got " + Py.Repr(value));
            if (ReservedName(text))
                throw new WindowsPathError(option, Py.Repr(text) + " is a reserved device name on Windows; ESE would name its logs " + text + ".log, " +
                                                   text + "00001.log and " + text + ".chk, which are devices. Use the store's real base name (edb by default)");
            return text;
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

        /// <summary>A backup destination, normalised, or WindowsPathError naming the option: never inside a system folder,
        /// never inside or above a folder of the live store.</summary>
        public static string CheckDest(object value, JsonObject instance = null, string option = "dest")
        {
            string dest = Normalise(option, value);
            foreach (string system in SystemFolders)
                if (Folded(dest).StartsWith(Folded(dest.Substring(0, 3) + system), StringComparison.Ordinal))
                    throw new WindowsPathError(option, dest + " is inside the system folder " + dest.Substring(0, 3) + system +
                                                       "; pick a backup folder such as E:\\EseBackups");
            foreach (KeyValuePair<string, string> kv in StoreFolders(instance))
            {
                if (Overlaps(dest, kv.Value))
                {
                    string where = Folded(dest).StartsWith(Folded(kv.Value), StringComparison.Ordinal) ? "inside" : "above";
                    throw new WindowsPathError(option, dest + " (given as " + Py.Repr(value) + ") is " + where + " the live store's folder " +
                                                       kv.Value + " (" + kv.Key + "); pick a folder outside the store's folders, such as E:\\EseBackups");
                }
            }
            return dest;
        }
    }
}
