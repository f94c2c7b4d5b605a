// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Backup-set manifest format v1, ported call for call from plugins/plugin_utils/_manifest.py (the
// one definition shared by the controller and both agents; docs/manifest.md is the operator's
// view). A backup set is a folder <dest>\<host>\<instance>\<YYYYmmddTHHMMSSZ>-<backup_type>-<suffix>\
// holding the copied files and manifest.json. This file defines the manifest's fields and types,
// its statuses (pending-end -> complete, failed or aborted), its canonical serialisation and its
// own SHA-256 checksum (the very bytes Python's json.dumps(sort_keys=True, separators=(",", ":"),
// ensure_ascii=True) gives), validation that names the bad field, set-folder naming, the order of
// sets (by the header's lgposMark, never by folder name) and the chain rules. It never touches a
// disk: BackupSets.cs does the I/O. Messages are the Python module's, byte for byte (Repr mirrors
// Python's repr() for the values a manifest holds).
// C# 5 only.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    /// <summary>A manifest (or a set name) that breaks format v1; Field names the offending field.</summary>
    public sealed class ManifestError : Exception
    {
        public readonly string Field;
        public readonly string Reason;

        public ManifestError(string field, string reason)
            : base(field + ": " + reason)
        {
            Field = field;
            Reason = reason;
        }
    }

    /// <summary>A chain rule cannot be met (no full to build on, a gap in the logs, a missing parent).</summary>
    public sealed class ChainError : Exception
    {
        public readonly string Hint;

        public ChainError(string message, string hint)
            : base(message)
        {
            Hint = hint;
        }
    }

    /// <summary>The parts of a set folder name.</summary>
    public sealed class SetName
    {
        public DateTime Timestamp;   // UTC
        public string BackupType;
        public string Suffix;
    }

    public static class Manifest
    {
        public const string Format = "esent.backup.manifest";
        public const long FormatVersion = 1;
        public const string ManifestName = "manifest.json";

        public static readonly string[] BackupTypes = { "full", "incremental", "copy", "differential" };
        public static readonly string[] Methods = { "snapshot", "streaming" };
        // pending-end: files copied, hashed and flushed; ESE's End not yet called. complete: End
        // succeeded and recorded_as is known (the only "final" manifest). failed: never used (copy
        // failed, verification failed, ESE recorded an abort). aborted: the session was aborted after
        // the copy, before End; never used either. Prune may delete failed and aborted sets.
        public const string StatusPending = "pending-end";
        public const string StatusComplete = "complete";
        public const string StatusFailed = "failed";
        public const string StatusAborted = "aborted";
        public static readonly string[] Statuses = { StatusPending, StatusComplete, StatusFailed, StatusAborted };
        public static readonly string[] Roles = { "database", "log", "checkpoint" };
        /// <summary>What the agent grants on the set folder (protected DACL).</summary>
        public static readonly string[] SetAcl = { "NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators" };

        /// <summary>Sentinel of Finalise(): keep the pending manifest's parent.</summary>
        public static readonly object KeepParent = new object();

        private static readonly Regex SetNamePattern = new Regex("^(?<stamp>\\d{8}T\\d{6}Z)-(?<type>full|incremental|copy|differential)-(?<suffix>[a-z0-9]{8})$");
        private const string StampFormat = "yyyyMMdd'T'HHmmss'Z'";
        private static readonly Regex UtcPattern = new Regex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$");
        private static readonly Regex Sha256Pattern = new Regex("^[0-9a-f]{64}$");
        private static readonly Regex ChecksumPattern = new Regex("^sha256:[0-9a-f]{64}$");
        private const string SuffixAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        private const string BadNameChars = "<>:\"/\\|?*";
        private static readonly HashSet<string> ReservedNames = MakeReserved();

        private static HashSet<string> MakeReserved()
        {
            HashSet<string> names = new HashSet<string>(StringComparer.Ordinal) { "CON", "PRN", "AUX", "NUL" };
            for (int i = 1; i < 10; i++)
            {
                names.Add("COM" + i);
                names.Add("LPT" + i);
            }
            return names;
        }

        // -- field table ----------------------------------------------------------------------------
        // (name, JSON type, nullable). Types: str, int, bool, list, dict. Floats never appear, which
        // keeps the canonical form reproducible byte for byte.

        private sealed class FieldSpec
        {
            public readonly string Name;
            public readonly string Kind;
            public readonly bool Nullable;

            public FieldSpec(string name, string kind, bool nullable)
            {
                Name = name;
                Kind = kind;
                Nullable = nullable;
            }
        }

        private static FieldSpec F(string name, string kind, bool nullable) { return new FieldSpec(name, kind, nullable); }

        private static readonly FieldSpec[] TopFields =
        {
            F("format", "str", false), F("format_version", "int", false), F("set_id", "str", false), F("host", "str", false),
            F("instance", "str", false), F("backup_type", "str", false), F("method", "str", false), F("status", "str", false),
            F("created_utc", "str", false), F("finalised_utc", "str", true), F("recorded_as", "str", true),
            F("session_id", "str", true), F("agent", "dict", true), F("mark", "dict", true), F("log_range", "dict", true),
            F("header", "dict", false), F("parent", "dict", true), F("files", "list", false), F("acl", "list", false),
            F("verified_utc", "str", true), F("error", "dict", true), F("checksum", "str", false),
        };
        private static readonly FieldSpec[] AgentFields = { F("version", "str", false), F("boot_id", "str", false) };
        private static readonly FieldSpec[] MarkFields =
        {
            F("lgpos_mark", "list", false), F("gen_low", "int", false), F("gen_high", "int", false), F("snapshot", "bool", false),
            F("time_utc", "str", true),
        };
        private static readonly FieldSpec[] LogRangeFields = { F("base_name", "str", false), F("gen_low", "int", false), F("gen_high", "int", false) };
        private static readonly FieldSpec[] HeaderFields = { F("databases", "list", false), F("log_signature", "str", true) };
        private static readonly FieldSpec[] DbFields =
        {
            F("path", "str", false), F("page_size", "int", false), F("dbstate", "int", false), F("db_signature", "str", false),
            F("log_signature", "str", true), F("gen_min_required", "int", false), F("gen_max_required", "int", false),
            F("gen_max_committed", "int", false),
        };
        private static readonly FieldSpec[] ParentFields = { F("set_id", "str", false), F("backup_type", "str", false), F("lgpos_mark", "list", false) };
        private static readonly FieldSpec[] FileFields =
        {
            F("name", "str", false), F("role", "str", false), F("size_bytes", "int", false), F("sha256", "str", false),
            F("source", "str", false), F("generation", "int", true),
        };
        private static readonly FieldSpec[] ErrorFields = { F("jet", "int", false), F("name", "str", false), F("message", "str", false) };

        private static string TypeName(object value)
        {
            return Json.TypeName(value);
        }

        private static bool IsInt(object value)
        {
            return value is long || value is int || value is uint || value is short || value is ushort || value is byte || value is ulong;
        }

        private static long AsLong(object value)
        {
            return Convert.ToInt64(value, CultureInfo.InvariantCulture);
        }

        private static void CheckObject(object obj, FieldSpec[] fields, string where)
        {
            JsonObject o = obj as JsonObject;
            if (o == null)
                throw new ManifestError(where, "must be an object, got " + TypeName(obj));
            foreach (FieldSpec f in fields)
            {
                string path = where.Length > 0 ? where + "." + f.Name : f.Name;
                if (!o.ContainsKey(f.Name))
                    throw new ManifestError(path, "is required");
                object value = o[f.Name];
                if (value == null)
                {
                    if (!f.Nullable)
                        throw new ManifestError(path, "must not be null");
                    continue;
                }
                if (TypeName(value) != f.Kind)
                    throw new ManifestError(path, "must be " + f.Kind + ", got " + TypeName(value));
                if (f.Kind == "int" && AsLong(value) < 0 && path != "error.jet")
                    throw new ManifestError(path, "must not be negative, got " + AsLong(value).ToString(CultureInfo.InvariantCulture));
            }
            List<string> unknown = new List<string>();
            foreach (string key in o.Keys)
                if (!fields.Any(f => f.Name == key))
                    unknown.Add(key);
            if (unknown.Count > 0)
            {
                unknown.Sort(Py.CodePointCompare);
                throw new ManifestError(where.Length > 0 ? where + "." + unknown[0] : unknown[0], "is not a field of manifest v1");
            }
        }

        private static void CheckUtc(object value, string field)
        {
            string s = value as string;
            if (s != null && !UtcPattern.IsMatch(s))
                throw new ManifestError(field, "must be a UTC time like 2026-01-31T23:59:59Z, got " + Py.Repr(s));
        }

        private static void CheckLgpos(List<object> value, string field)
        {
            if (value.Count != 3 || value.Any(v => !IsInt(v) || AsLong(v) < 0))
                throw new ManifestError(field, "must be [generation, sector, byte] of non-negative integers, got " + Py.Repr(value));
        }

        private static string MinBadChar(string s, Func<char, bool> bad)
        {
            char? min = null;
            foreach (char c in s)
                if (bad(c) && (min == null || c < min.Value))
                    min = c;
            return min == null ? null : min.Value.ToString();
        }

        private static bool IsBadNameChar(char c) { return c < 32 || BadNameChars.IndexOf(c) >= 0; }

        /// <summary>Check that a host or instance name is usable as one Windows folder name; returns it.</summary>
        /// <exception cref="ManifestError">empty, too long, reserved, a separator, '..', a refused character, a trailing dot or space.</exception>
        public static string CheckComponent(object name, string field)
        {
            string s = name as string;
            if (s == null || s.Length == 0)
                throw new ManifestError(field, "must be a non-empty string");
            if (Py.CodePointLength(s) > 64)
                throw new ManifestError(field, "must be at most 64 characters, got " + Py.CodePointLength(s));
            string bad = MinBadChar(s, IsBadNameChar);
            if (bad != null)
                throw new ManifestError(field, "must not contain " + Py.Repr(bad) + " (not allowed in a Windows folder name)");
            char last = s[s.Length - 1];
            if (s == "." || s == ".." || last == '.' || last == ' ')
                throw new ManifestError(field, "must not be '.' or '..' or end with a dot or space, got " + Py.Repr(s));
            if (ReservedNames.Contains(s.Split('.')[0].ToUpperInvariant()))
                throw new ManifestError(field, Py.Repr(s) + " is a reserved Windows device name");
            return s;
        }

        /// <summary>Check a file name relative to the set folder ('/'-separated, no '..', not manifest.json); returns it.</summary>
        public static string CheckFileName(object name, string field)
        {
            string s = name as string;
            if (s == null || s.Length == 0)
                throw new ManifestError(field, "must be a non-empty string");
            string[] parts = s.Split('/');
            foreach (string part in parts)
            {
                if (part.Length == 0 || part == "." || part == ".." || MinBadChar(part, IsBadNameChar) != null
                    || part[part.Length - 1] == '.' || part[part.Length - 1] == ' ')
                    throw new ManifestError(field, "must be a relative path of plain names joined by '/', got " + Py.Repr(s));
            }
            string lastLower = parts[parts.Length - 1].ToLowerInvariant();
            if (s.ToLowerInvariant() == ManifestName || lastLower.EndsWith(".partial", StringComparison.Ordinal) || lastLower.EndsWith(".tmp", StringComparison.Ordinal))
                throw new ManifestError(field, Py.Repr(s) + " is reserved for the set's own bookkeeping");
            return s;
        }

        // -- validation -----------------------------------------------------------------------------

        /// <summary>What the set counts as in a chain: ESE's recorded_as once known, else backup_type.</summary>
        public static string ChainType(JsonObject manifest)
        {
            string recorded = manifest["recorded_as"] as string;
            return !String.IsNullOrEmpty(recorded) ? recorded : (string)manifest["backup_type"];
        }

        private static List<object> L(JsonObject o, string key) { return (List<object>)o[key]; }
        private static JsonObject O(JsonObject o, string key) { return (JsonObject)o[key]; }

        private static void CheckFiles(JsonObject manifest)
        {
            HashSet<string> seen = new HashSet<string>(StringComparer.Ordinal);
            List<object> files = L(manifest, "files");
            for (int i = 0; i < files.Count; i++)
            {
                string where = "files[" + i + "]";
                CheckObject(files[i], FileFields, where);
                JsonObject entry = (JsonObject)files[i];
                string name = (string)entry["name"];
                CheckFileName(name, where + ".name");
                if (seen.Contains(name.ToLowerInvariant()))
                    throw new ManifestError(where + ".name", Py.Repr(name) + " appears twice (Windows names are case-insensitive)");
                seen.Add(name.ToLowerInvariant());
                string role = (string)entry["role"];
                if (Array.IndexOf(Roles, role) < 0)
                    throw new ManifestError(where + ".role", "must be one of " + String.Join(", ", Roles) + ", got " + Py.Repr(role));
                if (!Sha256Pattern.IsMatch((string)entry["sha256"]))
                    throw new ManifestError(where + ".sha256", "must be 64 lower-case hex digits");
                if ((role == "log") != (entry["generation"] != null))
                    throw new ManifestError(where + ".generation", "is required for a log and must be null otherwise");
            }
        }

        /// <summary>What a usable set holds: a full or copy has databases, the log range and the checkpoint;
        /// an incremental or differential has the log range and the checkpoint only.</summary>
        private static void CheckContents(JsonObject manifest)
        {
            string kind = (string)manifest["backup_type"];
            List<JsonObject> files = L(manifest, "files").Cast<JsonObject>().ToList();
            JsonObject logRange = manifest["log_range"] as JsonObject;
            if (logRange == null)
                throw new ManifestError("log_range", "is required when status is " + manifest["status"]);
            List<JsonObject> databases = files.Where(f => (string)f["role"] == "database").ToList();
            if ((kind == "full" || kind == "copy") && databases.Count == 0)
                throw new ManifestError("files", "a " + kind + " set must hold at least one database");
            if ((kind == "incremental" || kind == "differential") && databases.Count > 0)
                throw new ManifestError("files", "a " + kind + " set holds logs and the checkpoint only, found database " + Py.Repr(databases[0]["name"]));
            if (files.Count(f => (string)f["role"] == "checkpoint") != 1)
                throw new ManifestError("files", "must hold exactly one checkpoint");
            List<long> gens = files.Where(f => (string)f["role"] == "log").Select(f => AsLong(f["generation"])).OrderBy(g => g).ToList();
            long low = AsLong(logRange["gen_low"]), high = AsLong(logRange["gen_high"]);
            List<long> wanted = new List<long>();
            for (long g = low; g <= high; g++)
                wanted.Add(g);
            if (!gens.SequenceEqual(wanted))
            {
                List<long> missing = wanted.Except(gens).OrderBy(g => g).ToList();
                List<long> extra = gens.Except(wanted).OrderBy(g => g).ToList();
                if (extra.Count == 0)
                    for (int i = 0; i < gens.Count; i++)
                        if (gens.Take(i).Contains(gens[i]))
                            extra.Add(gens[i]);
                string detail = missing.Count > 0 ? "generation " + missing[0] + " is missing" : "generation " + extra[0] + " is outside the range or repeated";
                throw new ManifestError("files", "logs must be exactly generations " + low + "-" + high + ": " + detail);
            }
        }

        private static void CheckParent(JsonObject manifest)
        {
            string kind = ChainType(manifest);
            JsonObject parent = manifest["parent"] as JsonObject;
            if (kind == "full" || kind == "copy")
            {
                if (parent != null)
                    throw new ManifestError("parent", "must be null for a " + kind + " set");
                return;
            }
            if (parent == null)
                throw new ManifestError("parent", "is required for a " + kind + " set");
            string[] allowed = kind == "incremental" ? new[] { "full", "incremental" } : new[] { "full" };
            if (Array.IndexOf(allowed, (string)parent["backup_type"]) < 0)
                throw new ManifestError("parent.backup_type", "a " + kind + " set builds on " + String.Join(" or ", allowed) + ", got " + Py.Repr(parent["backup_type"]));
        }

        private static void CheckChoice(JsonObject manifest, string name, string[] choices)
        {
            if (Array.IndexOf(choices, manifest[name] as string) < 0)
                throw new ManifestError(name, "must be one of " + String.Join(", ", choices) + ", got " + Py.Repr(manifest[name]));
        }

        /// <summary>Check a decoded manifest against format v1; returns the same manifest.</summary>
        /// <exception cref="ManifestError">naming the first field that is missing, badly typed, unknown, or breaks a rule.</exception>
        public static JsonObject Validate(object value, bool checkChecksum = true)
        {
            CheckObject(value, TopFields, "");
            JsonObject manifest = (JsonObject)value;
            if ((string)manifest["format"] != Format)
                throw new ManifestError("format", "must be " + Py.Repr(Format) + " (not a manifest of esent.backup), got " + Py.Repr(manifest["format"]));
            if (AsLong(manifest["format_version"]) != FormatVersion)
                throw new ManifestError("format_version", "version " + AsLong(manifest["format_version"]) + " is not supported; this side reads " + FormatVersion);
            CheckChoice(manifest, "backup_type", BackupTypes);
            CheckChoice(manifest, "method", Methods);
            CheckChoice(manifest, "status", Statuses);
            CheckComponent(manifest["host"], "host");
            CheckComponent(manifest["instance"], "instance");
            SetName parsed = ParseSetName(manifest["set_id"], "set_id");
            if (parsed.BackupType != (string)manifest["backup_type"])
                throw new ManifestError("set_id", "names backup type " + Py.Repr(parsed.BackupType) + " but backup_type is " + Py.Repr(manifest["backup_type"]));
            foreach (string name in new[] { "created_utc", "finalised_utc", "verified_utc" })
                CheckUtc(manifest[name], name);
            if (manifest["recorded_as"] != null && Array.IndexOf(BackupTypes, (string)manifest["recorded_as"]) < 0)
                throw new ManifestError("recorded_as", "must be one of " + String.Join(", ", BackupTypes) + " or null, got " + Py.Repr(manifest["recorded_as"]));
            if (manifest["agent"] != null)
                CheckObject(manifest["agent"], AgentFields, "agent");
            if (manifest["mark"] != null)
            {
                CheckObject(manifest["mark"], MarkFields, "mark");
                CheckLgpos(L(O(manifest, "mark"), "lgpos_mark"), "mark.lgpos_mark");
                CheckUtc(O(manifest, "mark")["time_utc"], "mark.time_utc");
            }
            if (manifest["log_range"] != null)
            {
                CheckObject(manifest["log_range"], LogRangeFields, "log_range");
                JsonObject lr = O(manifest, "log_range");
                if (((string)lr["base_name"]).Length != 3)
                    throw new ManifestError("log_range.base_name", "must be exactly 3 characters");
                if (!(1 <= AsLong(lr["gen_low"]) && AsLong(lr["gen_low"]) <= AsLong(lr["gen_high"])))
                    throw new ManifestError("log_range", "must satisfy 1 <= gen_low <= gen_high");
            }
            CheckObject(manifest["header"], HeaderFields, "header");
            List<object> dbs = L(O(manifest, "header"), "databases");
            for (int i = 0; i < dbs.Count; i++)
                CheckObject(dbs[i], DbFields, "header.databases[" + i + "]");
            if (manifest["parent"] != null)
            {
                CheckObject(manifest["parent"], ParentFields, "parent");
                ParseSetName(O(manifest, "parent")["set_id"], "parent.set_id");
                CheckLgpos(L(O(manifest, "parent"), "lgpos_mark"), "parent.lgpos_mark");
            }
            CheckFiles(manifest);
            if (!L(manifest, "acl").All(a => a is string))
                throw new ManifestError("acl", "must be a list of account names");
            if (manifest["error"] != null)
                CheckObject(manifest["error"], ErrorFields, "error");
            CheckStatusRules(manifest);
            if (!ChecksumPattern.IsMatch((string)manifest["checksum"]))
                throw new ManifestError("checksum", "must be 'sha256:' and 64 lower-case hex digits");
            if (checkChecksum && (string)manifest["checksum"] != ChecksumOf(manifest))
                throw new ManifestError("checksum", "does not match the content: the manifest was edited or damaged after it was written");
            return manifest;
        }

        private static void CheckStatusRules(JsonObject manifest)
        {
            string status = (string)manifest["status"];
            if (status == StatusFailed || status == StatusAborted)
            {
                if (manifest["error"] == null)
                    throw new ManifestError("error", "is required when status is " + status + " (say why the set is unusable)");
                return;
            }
            if (manifest["error"] != null)
                throw new ManifestError("error", "must be null when status is " + status);
            CheckContents(manifest);
            if (status == StatusPending)
            {
                if (manifest["recorded_as"] != null || manifest["finalised_utc"] != null)
                    throw new ManifestError(manifest["recorded_as"] != null ? "recorded_as" : "finalised_utc", "must be null until End (status pending-end)");
            }
            else
            {
                foreach (string name in new[] { "recorded_as", "finalised_utc", "mark" })
                    if (manifest[name] == null)
                        throw new ManifestError(name, "is required when status is complete");
            }
            CheckParent(manifest);
        }

        // -- canonical form and checksum ------------------------------------------------------------

        /// <summary>The canonical serialisation: the checksum field left out, keys sorted, no spaces, ASCII.</summary>
        public static byte[] CanonicalBytes(JsonObject manifest)
        {
            JsonObject body = new JsonObject();
            foreach (KeyValuePair<string, object> kv in manifest)
                if (kv.Key != "checksum")
                    body[kv.Key] = kv.Value;
            StringBuilder sb = new StringBuilder();
            Py.WritePython(sb, body, -1, 0);
            return Encoding.ASCII.GetBytes(sb.ToString());
        }

        /// <summary>"sha256:&lt;hex&gt;" of the canonical bytes (the manifest's own checksum).</summary>
        public static string ChecksumOf(JsonObject manifest)
        {
            return "sha256:" + Hex(Sha256(CanonicalBytes(manifest)));
        }

        /// <summary>Validate the content, set its checksum and return it.</summary>
        public static JsonObject Seal(JsonObject manifest)
        {
            manifest["checksum"] = "sha256:" + new string('0', 64);
            Validate(manifest, false);
            manifest["checksum"] = ChecksumOf(manifest);
            return manifest;
        }

        /// <summary>The file bytes of manifest.json: indented (2) for people, sorted keys, ASCII, final newline.</summary>
        public static byte[] Dumps(JsonObject manifest)
        {
            StringBuilder sb = new StringBuilder();
            Py.WritePython(sb, manifest, 2, 0);
            sb.Append('\n');
            return Encoding.ASCII.GetBytes(sb.ToString());
        }

        /// <summary>Parse and validate manifest.json bytes (checksum included).</summary>
        /// <exception cref="ManifestError">not JSON (field "manifest"), or any validation error.</exception>
        public static JsonObject Loads(byte[] data)
        {
            string text;
            try
            {
                text = new UTF8Encoding(false, true).GetString(data);
            }
            catch (DecoderFallbackException exc)
            {
                throw new ManifestError("manifest", "not JSON: " + exc.Message);
            }
            if (text.Length > 0 && text[0] == '\uFEFF')
                throw new ManifestError("manifest", "not JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)");
            object value;
            try
            {
                value = Json.Parse(text);
            }
            catch (JsonException exc)
            {
                // Python's JSONDecodeError text: "<what>: line L column C (char P)".
                int pos = Math.Max(0, Math.Min(exc.Position, text.Length));
                int line = 1, lineStart = 0;
                for (int i = 0; i < pos; i++)
                    if (text[i] == '\n')
                    {
                        line++;
                        lineStart = i + 1;
                    }
                string what = exc.Message;
                string suffix = " (at character " + exc.Position + ")";
                if (what.EndsWith(suffix, StringComparison.Ordinal))
                    what = what.Substring(0, what.Length - suffix.Length);
                if (what == "extra data after the JSON value")
                    what = "Extra data";
                throw new ManifestError("manifest", "not JSON: " + what + ": line " + line + " column " + (pos - lineStart + 1) + " (char " + pos + ")");
            }
            return Validate(value);
        }

        public static byte[] Sha256(byte[] data)
        {
            using (SHA256 sha = SHA256.Create())
                return sha.ComputeHash(data);
        }

        public static string Hex(byte[] bytes)
        {
            StringBuilder sb = new StringBuilder(bytes.Length * 2);
            foreach (byte b in bytes)
                sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            return sb.ToString();
        }
    
        // -- building and finalising ----------------------------------------------------------------

        /// <summary>A UTC time as YYYY-mm-ddTHH:MM:SSZ (now when null; an unspecified kind means UTC).</summary>
        public static string UtcText(DateTime? when = null)
        {
            DateTime t = when ?? DateTime.UtcNow;
            if (t.Kind == DateTimeKind.Local)
                t = t.ToUniversalTime();
            return t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }

        /// <summary>Build and seal a manifest written before End (pending-end) or for a partial set (failed).</summary>
        /// <exception cref="ManifestError">naming the first bad field; also when status is complete.</exception>
        public static JsonObject NewManifest(string setId, string host, string instance, string method, IEnumerable<object> files, JsonObject header,
                                             JsonObject logRange = null, JsonObject mark = null, JsonObject parent = null, string sessionId = null,
                                             JsonObject agent = null, string verifiedUtc = null, string status = StatusPending, JsonObject error = null,
                                             IEnumerable<string> acl = null)
        {
            if (status == StatusComplete)
                throw new ManifestError("status", "a new manifest starts pending-end (or failed); only finalise() completes it");
            SetName parsed = ParseSetName(setId, "set_id");
            List<object> fileList = new List<object>();
            foreach (object f in files)
                fileList.Add(f is JsonObject ? new JsonObject((JsonObject)f) : f);
            JsonObject manifest = new JsonObject()
                .Add("format", Format)
                .Add("format_version", FormatVersion)
                .Add("set_id", setId)
                .Add("host", host)
                .Add("instance", instance)
                .Add("backup_type", parsed.BackupType)
                .Add("method", method)
                .Add("status", status)
                .Add("created_utc", UtcText(parsed.Timestamp))
                .Add("finalised_utc", status == StatusFailed ? UtcText() : null)
                .Add("recorded_as", null)
                .Add("session_id", sessionId)
                .Add("agent", agent)
                .Add("mark", mark)
                .Add("log_range", logRange)
                .Add("header", header)
                .Add("parent", parent)
                .Add("files", fileList)
                .Add("acl", new List<object>((acl ?? SetAcl).Cast<object>()))
                .Add("verified_utc", verifiedUtc)
                .Add("error", error);
            // A private deep copy: later edits of the caller's objects never reach a sealed manifest.
            return Seal((JsonObject)DeepCopy(manifest));
        }

        /// <summary>Turn a pending-end manifest into the final one after End, once ESE's record is known.
        /// recordedAs "abort" makes it failed; parent is KeepParent, null or a new parent reference.</summary>
        /// <exception cref="ManifestError">not pending-end, unknown recorded_as, or the result breaks a rule.</exception>
        public static JsonObject Finalise(JsonObject manifest, string recordedAs, JsonObject mark, object parent, DateTime? when = null)
        {
            Validate(manifest);
            if ((string)manifest["status"] != StatusPending)
                throw new ManifestError("status", "only a pending-end manifest can be finalised, this one is " + manifest["status"]);
            JsonObject final = (JsonObject)DeepCopy(manifest);
            final["finalised_utc"] = UtcText(when);
            if (recordedAs == "abort")
            {
                final["status"] = StatusFailed;
                final["error"] = new JsonObject().Add("jet", (long)JetErrorCatalogue.CodeOf("JET_errBackupAbortByServer"))
                    .Add("name", "JET_errBackupAbortByServer").Add("message", "ESE recorded the backup as aborted at End");
                return Seal(final);
            }
            if (Array.IndexOf(BackupTypes, recordedAs) < 0)
                throw new ManifestError("recorded_as", "must be one of " + String.Join(", ", BackupTypes) + " or abort, got " + Py.Repr(recordedAs));
            final["status"] = StatusComplete;
            final["recorded_as"] = recordedAs;
            if (mark != null)
                final["mark"] = DeepCopy(mark);
            if (!ReferenceEquals(parent, KeepParent))
                final["parent"] = DeepCopy(parent);
            return Seal(final);
        }

        /// <summary>Mark a pending-end (or already failed) manifest failed; a complete set stays complete.</summary>
        public static JsonObject Fail(JsonObject manifest, JsonObject error, DateTime? when = null)
        {
            if (manifest["status"] as string == StatusComplete)
                throw new ManifestError("status", "a complete manifest is final and cannot be marked failed");
            JsonObject failed = (JsonObject)DeepCopy(manifest);
            failed["status"] = StatusFailed;
            failed["error"] = DeepCopy(new JsonObject(error));
            failed["finalised_utc"] = UtcText(when);
            failed["recorded_as"] = null;
            return Seal(failed);
        }

        /// <summary>Mark a pending-end manifest aborted: its session was aborted before End.</summary>
        public static JsonObject Abort(JsonObject manifest, JsonObject error, DateTime? when = null)
        {
            if (manifest["status"] as string != StatusPending)
                throw new ManifestError("status", "only a pending-end manifest can be marked aborted, this one is " + (manifest["status"] == null ? "None" : manifest["status"]));
            JsonObject aborted = (JsonObject)DeepCopy(manifest);
            aborted["status"] = StatusAborted;
            aborted["error"] = DeepCopy(new JsonObject(error));
            aborted["finalised_utc"] = UtcText(when);
            aborted["recorded_as"] = null;
            JsonObject sealedDoc = Seal(aborted);
            Validate(sealedDoc);
            return sealedDoc;
        }

        // -- set names ------------------------------------------------------------------------------

        /// <summary>A set folder name &lt;YYYYmmddTHHMMSSZ&gt;-&lt;backup_type&gt;-&lt;suffix&gt; (8 random [a-z0-9] unless given).</summary>
        public static string NewSetName(string backupType, DateTime? when = null, string suffix = null)
        {
            if (Array.IndexOf(BackupTypes, backupType) < 0)
                throw new ManifestError("backup_type", "must be one of " + String.Join(", ", BackupTypes) + ", got " + Py.Repr(backupType));
            DateTime t = DateTime.ParseExact(UtcText(when), "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            string stamp = t.ToString(StampFormat, CultureInfo.InvariantCulture);
            if (suffix == null)
            {
                StringBuilder sb = new StringBuilder();
                byte[] buf = new byte[4];
                using (RandomNumberGenerator rng = RandomNumberGenerator.Create())
                {
                    while (sb.Length < 8)
                    {
                        rng.GetBytes(buf);
                        uint r = BitConverter.ToUInt32(buf, 0);
                        if (r >= UInt32.MaxValue - UInt32.MaxValue % (uint)SuffixAlphabet.Length)
                            continue; // no modulo bias (secrets.choice)
                        sb.Append(SuffixAlphabet[(int)(r % (uint)SuffixAlphabet.Length)]);
                    }
                }
                suffix = sb.ToString();
            }
            string name = stamp + "-" + backupType + "-" + suffix;
            ParseSetName(name, "suffix");
            return name;
        }

        /// <summary>Split a set folder name into its UTC timestamp, backup type and suffix.</summary>
        /// <exception cref="ManifestError">naming field when the name does not follow the pattern or the date is invalid.</exception>
        public static SetName ParseSetName(object name, string field = "set_id")
        {
            string s = name as string;
            Match match = s != null ? SetNamePattern.Match(s) : null;
            if (match == null || !match.Success)
                throw new ManifestError(field, "must look like 20260131T235959Z-full-a1b2c3d4, got " + Py.Repr(name));
            DateTime stamp;
            if (!DateTime.TryParseExact(match.Groups["stamp"].Value, StampFormat, CultureInfo.InvariantCulture,
                                        DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out stamp))
                throw new ManifestError(field, "has an impossible date " + Py.Repr(match.Groups["stamp"].Value));
            return new SetName { Timestamp = DateTime.SpecifyKind(stamp, DateTimeKind.Utc), BackupType = match.Groups["type"].Value, Suffix = match.Groups["suffix"].Value };
        }

        // -- order and chains -----------------------------------------------------------------------

        /// <summary>True for a set restore and the chain rules may use.</summary>
        public static bool IsComplete(JsonObject manifest)
        {
            return manifest["status"] as string == StatusComplete;
        }

        /// <summary>Sort key: the header's lgposMark first; the folder timestamp only breaks ties or orders sets without a mark.</summary>
        public sealed class OrderKeyValue : IComparable<OrderKeyValue>
        {
            public readonly long[] Lgpos;
            public readonly string CreatedUtc;
            public readonly string SetId;

            public OrderKeyValue(long[] lgpos, string createdUtc, string setId)
            {
                Lgpos = lgpos;
                CreatedUtc = createdUtc;
                SetId = setId;
            }

            public int CompareTo(OrderKeyValue other)
            {
                for (int i = 0; i < Math.Min(Lgpos.Length, other.Lgpos.Length); i++)
                    if (Lgpos[i] != other.Lgpos[i])
                        return Lgpos[i] < other.Lgpos[i] ? -1 : 1;
                if (Lgpos.Length != other.Lgpos.Length)
                    return Lgpos.Length < other.Lgpos.Length ? -1 : 1;
                int c = Py.CodePointCompare(CreatedUtc, other.CreatedUtc);
                return c != 0 ? c : Py.CodePointCompare(SetId, other.SetId);
            }
        }

        /// <summary>The order key of a manifest (lgposMark, created_utc, set_id); no mark sorts as (-1, -1, -1).</summary>
        public static OrderKeyValue OrderKey(JsonObject manifest)
        {
            JsonObject mark = manifest["mark"] as JsonObject;
            long[] lgpos = mark != null && mark.Count > 0 ? L(mark, "lgpos_mark").Select(AsLong).ToArray() : new long[] { -1, -1, -1 };
            return new OrderKeyValue(lgpos, (string)manifest["created_utc"], (string)manifest["set_id"]);
        }

        /// <summary>Compare two manifests by OrderKey.</summary>
        public static int CompareOrder(JsonObject a, JsonObject b)
        {
            return OrderKey(a).CompareTo(OrderKey(b));
        }

        /// <summary>Sorted by OrderKey, oldest first (stable, as Python's sorted).</summary>
        public static List<JsonObject> SortByOrder(IEnumerable<JsonObject> manifests)
        {
            return manifests.OrderBy(m => OrderKey(m)).ToList();
        }

        /// <summary>The parent value that names manifest (a complete set with a mark).</summary>
        public static JsonObject ParentRef(JsonObject manifest)
        {
            return new JsonObject().Add("set_id", manifest["set_id"]).Add("backup_type", ChainType(manifest))
                .Add("lgpos_mark", new List<object>(L(O(manifest, "mark"), "lgpos_mark")));
        }

        /// <summary>The newest complete set by lgposMark (optionally only of the given chain types), or null.</summary>
        public static JsonObject Latest(IEnumerable<JsonObject> manifests, IEnumerable<string> chainTypes = null)
        {
            HashSet<string> kinds = new HashSet<string>(chainTypes ?? BackupTypes);
            JsonObject best = null;
            foreach (JsonObject m in manifests)
                if (IsComplete(m) && kinds.Contains(ChainType(m)) && (best == null || CompareOrder(m, best) > 0))
                    best = m;
            return best;
        }

        /// <summary>full and the complete incrementals that descend from it, oldest first.</summary>
        public static List<JsonObject> FullChain(IEnumerable<JsonObject> manifests, JsonObject full)
        {
            Dictionary<string, JsonObject> byId = new Dictionary<string, JsonObject>();
            foreach (JsonObject m in manifests)
                if (IsComplete(m))
                    byId[(string)m["set_id"]] = m;
            List<JsonObject> members = new List<JsonObject> { full };
            foreach (JsonObject m in SortByOrder(byId.Values))
            {
                JsonObject parent = m["parent"] as JsonObject;
                if (ChainType(m) == "incremental" && parent != null && parent.Count > 0
                    && members.Any(x => (string)x["set_id"] == (string)parent["set_id"]))
                    members.Add(m);
            }
            return members;
        }

        /// <summary>Apply the chain rules to pick the parent of a new set (null for a full or copy).</summary>
        /// <exception cref="ChainError">no complete full, or a gap between the parent's logs and the new set's.</exception>
        public static JsonObject ChooseParent(IEnumerable<JsonObject> manifests, string backupType, JsonObject logRange)
        {
            if (backupType == "full" || backupType == "copy")
                return null;
            List<JsonObject> all = manifests.ToList();
            JsonObject full = Latest(all, new[] { "full" });
            if (full == null)
                throw new ChainError("no complete full backup at the destination to base this " + backupType + " on",
                                     "Take a full backup to this dest first, or set incremental_fallback: full.");
            if (backupType == "differential")
                return ParentRef(full);
            List<JsonObject> chain = FullChain(all, full);
            JsonObject parent = chain[chain.Count - 1];
            long parentHigh = AsLong(O(parent, "log_range")["gen_high"]);
            if (logRange != null && AsLong(logRange["gen_low"]) > parentHigh + 1)
                throw new ChainError("log generations " + (parentHigh + 1) + "-" + (AsLong(logRange["gen_low"]) - 1) + " are in no set: "
                                     + "set " + parent["set_id"] + " ends at " + parentHigh + ", this incremental starts at " + AsLong(logRange["gen_low"]),
                                     "Logs were truncated by a backup that is not in this dest; take a full backup.");
            return ParentRef(parent);
        }

        /// <summary>The sets a restore applies, oldest first: a full (or copy) and what builds on it.</summary>
        /// <exception cref="ChainError">unknown or not complete set, a missing or broken parent link, a gap in the logs.</exception>
        public static List<JsonObject> RestoreChain(IEnumerable<JsonObject> manifests, string setId = null)
        {
            Dictionary<string, JsonObject> byId = new Dictionary<string, JsonObject>();
            List<string> order = new List<string>();
            foreach (JsonObject m in manifests)
            {
                string id = (string)m["set_id"];
                if (!byId.ContainsKey(id))
                    order.Add(id);
                byId[id] = m;
            }
            JsonObject target;
            if (setId == null)
            {
                target = Latest(order.Select(id => byId[id]));
                if (target == null)
                    throw new ChainError("no complete backup set at the destination", "Run a backup first; pending-end and failed sets are never restored.");
            }
            else
            {
                byId.TryGetValue(setId, out target);
                if (target == null || !IsComplete(target))
                {
                    string state = target == null ? "does not exist" : "is " + target["status"];
                    throw new ChainError("set " + setId + " " + state, "Pick a complete set (the verify op or instance_info lists them).");
                }
            }
            List<JsonObject> chain = new List<JsonObject> { target };
            while (ChainType(chain[0]) != "full" && ChainType(chain[0]) != "copy")
            {
                JsonObject child = chain[0];
                JsonObject reference = child["parent"] as JsonObject;
                bool hasRef = reference != null && reference.Count > 0;
                JsonObject parent = null;
                if (hasRef)
                    byId.TryGetValue((string)reference["set_id"], out parent);
                if (parent == null || !IsComplete(parent))
                    throw new ChainError("set " + child["set_id"] + " needs " + (hasRef ? (string)reference["set_id"] : "a parent") + ", which is missing or not complete",
                                         "Restore an older complete chain or take a new full backup.");
                string[] allowed = ChainType(child) == "incremental" ? new[] { "full", "incremental" } : new[] { "full" };
                if (Array.IndexOf(allowed, ChainType(parent)) < 0 || CompareOrder(parent, child) >= 0 || chain.Contains(parent))
                    throw new ChainError("set " + child["set_id"] + " names parent " + parent["set_id"] + ", which breaks the chain rules",
                                         "The manifests disagree; restore the full alone or take a new full backup.");
                if (AsLong(O(child, "log_range")["gen_low"]) > AsLong(O(parent, "log_range")["gen_high"]) + 1)
                    throw new ChainError("gap in the logs between " + parent["set_id"] + " and " + child["set_id"], "Restore the chain up to the parent only.");
                chain.Insert(0, parent);
            }
            return chain;
        }

        // -- helpers --------------------------------------------------------------------------------

        /// <summary>A deep copy of a JSON value (Python's json.loads(json.dumps(v))); integers become long.</summary>
        public static object DeepCopy(object value)
        {
            if (value == null || value is string || value is bool || value is long || value is double)
                return value;
            if (IsInt(value))
                return AsLong(value);
            if (value is float)
                return (double)(float)value;
            JsonObject obj = value as JsonObject;
            if (obj != null)
            {
                JsonObject copy = new JsonObject();
                foreach (KeyValuePair<string, object> kv in obj)
                    copy[kv.Key] = DeepCopy(kv.Value);
                return copy;
            }
            IEnumerable list = value as IEnumerable;
            if (list != null)
            {
                List<object> copy = new List<object>();
                foreach (object item in list)
                    copy.Add(DeepCopy(item));
                return copy;
            }
            throw new InvalidOperationException("Object of type " + value.GetType().Name + " is not JSON serializable");
        }
    }
}
