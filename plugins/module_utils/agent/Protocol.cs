// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Protocol v1 on the agent's side: the checks and the reply shapes of plugins/plugin_utils/_protocol.py
// (validate_request, _check_fields, _check_instance, decode_request, encode, agent_identity,
// reply_ok, reply_error, routing_key, is_abort_path), ported call for call with the same messages.
// The tables themselves (ops, fields, versions) are generated from the Python ones into
// ProtocolSchema.cs (`make generate`), so the C# agent refuses exactly what the Python agent refuses.
// Protocol errors (malformed JSON, unknown op, wrong version, a missing or badly typed field) name
// the field and carry client-band codes, so they never read as engine errors.
// C# 5 only.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;
using ansible_collections.esent.backup.plugins.module_utils.ProtocolSchema;

namespace EsentBackup.Agent
{
    /// <summary>A request that breaks protocol v1; names the offending field (_protocol.ProtocolError).</summary>
    public sealed class ProtocolError : Exception
    {
        public readonly string Field;
        public readonly string Reason;
        public readonly int Code;

        public ProtocolError(string field, string reason)
            : this(field, reason, Protocol.ErrInvalidRequest)
        {
        }

        public ProtocolError(string field, string reason, int code)
            : base(field + ": " + reason)
        {
            Field = field;
            Reason = reason;
            Code = code;
        }

        /// <summary>The reply's error object for this protocol error (with "field").</summary>
        public JsonObject ToError()
        {
            bool mismatch = Code == Protocol.ErrProtocolMismatch;
            string name = mismatch ? "JET_errClientProtocolMismatch" : "JET_errClientInvalidRequest";
            string hint = mismatch ? "Upgrade the collection or the agent so both speak the same protocol version."
                                   : "This is a bug in the caller: the request does not follow protocol v1.";
            return new JsonObject().Add("jet", (long)Code).Add("name", name).Add("message", Message).Add("hint", hint).Add("field", Field);
        }

        /// <summary>The same refusal as an AgentFailure (code, message and hint; the field is in the message).</summary>
        public AgentFailure ToFailure()
        {
            JsonObject error = ToError();
            return new AgentFailure(Code, Message, (string)error["hint"], new JsonObject());
        }
    }

    public static class Protocol
    {
        public static readonly int ErrInvalidRequest = JetErrorCatalogue.CodeOf("JET_errClientInvalidRequest");
        public static readonly int ErrProtocolMismatch = JetErrorCatalogue.CodeOf("JET_errClientProtocolMismatch");

        /// <summary>The op's spec (the generated table); null for a name the protocol does not know.</summary>
        public static OpSpec Op(string name)
        {
            OpSpec spec;
            return name != null && ProtocolSpec.Ops.TryGetValue(name, out spec) ? spec : null;
        }

        /// <summary>_protocol._type_name: str, int, bool, list, dict, null, or the value's own type (float).</summary>
        public static string TypeName(object value)
        {
            return Json.TypeName(value);
        }

        /// <summary>Python's type(value).__name__ (None is NoneType).</summary>
        public static string PyTypeName(object value)
        {
            return value == null ? "NoneType" : Json.TypeName(value);
        }

        private static bool SameValue(object a, object b)
        {
            if (a is long && b is long)
                return (long)a == (long)b;
            string sa = a as string, sb = b as string;
            if (sa != null && sb != null)
                return String.Equals(sa, sb, StringComparison.Ordinal);
            return false;
        }

        private static string ChoiceText(object choice)
        {
            return Convert.ToString(choice, CultureInfo.InvariantCulture);
        }

        private static bool Less(object value, long bound)
        {
            if (value is long) return (long)value < bound;
            return false;
        }

        private static bool More(object value, long bound)
        {
            if (value is long) return (long)value > bound;
            return false;
        }

        /// <summary>_check_fields: the object's fields against their specs, in the spec's order, then unknown keys.</summary>
        public static void CheckFields(object obj, FieldSpec[] fields, string where)
        {
            JsonObject o = obj as JsonObject;
            if (o == null)
                throw new ProtocolError(where, "must be an object, got " + TypeName(obj));
            HashSet<string> known = new HashSet<string>(StringComparer.Ordinal);
            foreach (FieldSpec f in fields)
                known.Add(f.Name);
            foreach (FieldSpec field in fields)
            {
                string path = where.Length > 0 ? where + "." + field.Name : field.Name;
                if (!o.ContainsKey(field.Name) || o[field.Name] == null)
                {
                    if (field.Required)
                        throw new ProtocolError(path, "is required");
                    continue;
                }
                object value = o[field.Name];
                if (TypeName(value) != field.Type)
                    throw new ProtocolError(path, "must be " + field.Type + ", got " + TypeName(value));
                if (field.Choices.Length > 0)
                {
                    bool found = false;
                    foreach (object choice in field.Choices)
                        if (SameValue(choice, value))
                            found = true;
                    if (!found)
                    {
                        List<string> texts = new List<string>();
                        foreach (object choice in field.Choices)
                            texts.Add(ChoiceText(choice));
                        throw new ProtocolError(path, "must be one of " + String.Join(", ", texts.ToArray()) + ", got " + Py.Repr(value));
                    }
                }
                if (field.Minimum.HasValue && Less(value, field.Minimum.Value))
                    throw new ProtocolError(path, "must be at least " + field.Minimum.Value + ", got " + Py.Repr(value));
                if (field.Maximum.HasValue && More(value, field.Maximum.Value))
                    throw new ProtocolError(path, "must be at most " + field.Maximum.Value + ", got " + Py.Repr(value));
                if (field.Type == "list")
                {
                    foreach (object item in (List<object>)value)
                        if (TypeName(item) != field.Items)
                            throw new ProtocolError(path, "must be a list of " + field.Items);
                }
            }
            List<string> unknown = new List<string>();
            foreach (string key in o.Keys)
                if (!known.Contains(key))
                    unknown.Add(key);
            if (unknown.Count > 0)
            {
                unknown.Sort(StringComparer.Ordinal);
                throw new ProtocolError(where.Length > 0 ? where + "." + unknown[0] : unknown[0], "is not a field of this object");
            }
        }

        /// <summary>validate_request: a decoded request against protocol v1; returns it as an object.</summary>
        public static JsonObject ValidateRequest(object request)
        {
            JsonObject doc = request as JsonObject;
            if (doc == null)
                throw new ProtocolError("request", "must be an object, got " + TypeName(request));
            object version = doc["v"];
            if (version is long && Array.IndexOf(ProtocolSpec.SupportedVersions, (long)version) < 0)
                throw new ProtocolError("v", "protocol version " + (long)version + " is not supported; this side speaks " +
                                             Py.Repr(J.List(ProtocolSpec.SupportedVersions)), ErrProtocolMismatch);
            CheckFields(doc, ProtocolSpec.RequestFields, "");
            OpSpec spec = ProtocolSpec.Ops[(string)doc["op"]];
            if (doc["instance"] == null && Array.IndexOf(ProtocolSpec.InstancelessOps, spec.Name) < 0)
                throw new ProtocolError("instance", "is required for op " + spec.Name);
            if (doc["instance"] != null)
            {
                CheckFields(doc["instance"], ProtocolSpec.InstanceFields, "instance");
                CheckInstance((JsonObject)doc["instance"]);
            }
            CheckFields(doc["args"], spec.Args, "args");
            return doc;
        }

        /// <summary>_check_instance: the instance block's names and paths as Windows reads them.</summary>
        public static void CheckInstance(JsonObject instance)
        {
            try
            {
                WinPath.CheckFolderName("instance.name", instance["name"]);
                if (instance["base_name"] != null)
                    WinPath.CheckBaseName("instance.base_name", instance["base_name"]);
                foreach (string key in new[] { "log_path", "system_path" })
                    if (instance[key] != null)
                        WinPath.Normalise("instance." + key, instance[key]);
                List<object> dbs = instance["databases"] as List<object>;
                if (dbs != null)
                    foreach (object db in dbs)
                        WinPath.Normalise("instance.databases", db);
            }
            catch (WindowsPathError exc)
            {
                throw new ProtocolError(exc.Option, exc.Problem);
            }
        }

        /// <summary>decode_request for the bytes the agent receives: malformed UTF-8 or JSON is field "request".</summary>
        public static JsonObject DecodeRequest(byte[] data)
        {
            string text;
            try
            {
                text = new UTF8Encoding(false, true).GetString(data);
            }
            catch (DecoderFallbackException exc)
            {
                throw new ProtocolError("request", "malformed JSON: " + Utf8Problem(data, exc));
            }
            return DecodeRequest(text);
        }

        /// <summary>decode_request for text already decoded.</summary>
        public static JsonObject DecodeRequest(string text)
        {
            object value;
            try
            {
                value = Json.Parse(text);
            }
            catch (JsonException exc)
            {
                throw new ProtocolError("request", "malformed JSON: " + JsonProblem(text, exc));
            }
            return ValidateRequest(value);
        }

        /// <summary>Python's UnicodeDecodeError text ("'utf-8' codec can't decode byte 0xff in position 0: invalid start byte").</summary>
        private static string Utf8Problem(byte[] data, DecoderFallbackException exc)
        {
            int pos = exc.Index;
            if (pos < 0 || pos >= data.Length)
                pos = 0;
            // Find the first byte Python's strict decoder stops at (the fallback's index may point at the sequence start).
            int i = 0;
            while (i < data.Length)
            {
                byte b = data[i];
                int need = b < 0x80 ? 0 : (b >= 0xc2 && b <= 0xdf) ? 1 : (b >= 0xe0 && b <= 0xef) ? 2 : (b >= 0xf0 && b <= 0xf4) ? 3 : -1;
                if (need < 0)
                    return String.Format("'utf-8' codec can't decode byte 0x{0:x2} in position {1}: invalid start byte", b, i);
                for (int j = 1; j <= need; j++)
                {
                    if (i + j >= data.Length)
                        return Utf8Range(data, i, j, "unexpected end of data");
                    byte c = data[i + j];
                    bool ok = c >= 0x80 && c <= 0xbf;
                    if (j == 1 && b == 0xe0) ok = c >= 0xa0 && c <= 0xbf;
                    if (j == 1 && b == 0xed) ok = c >= 0x80 && c <= 0x9f;
                    if (j == 1 && b == 0xf0) ok = c >= 0x90 && c <= 0xbf;
                    if (j == 1 && b == 0xf4) ok = c >= 0x80 && c <= 0x8f;
                    if (!ok)
                        return Utf8Range(data, i, j, "invalid continuation byte");
                }
                i += need + 1;
            }
            return String.Format("'utf-8' codec can't decode byte 0x{0:x2} in position {1}: invalid start byte", data[pos], pos);
        }

        /// <summary>One byte: "byte 0xe2 in position 7"; a started sequence: "bytes in position 7-8" (Python's wording).</summary>
        private static string Utf8Range(byte[] data, int start, int length, string reason)
        {
            if (length <= 1)
                return String.Format("'utf-8' codec can't decode byte 0x{0:x2} in position {1}: {2}", data[start], start, reason);
            return String.Format("'utf-8' codec can't decode bytes in position {0}-{1}: {2}", start, start + length - 1, reason);
        }

        /// <summary>Python's JSONDecodeError text ("Expecting value: line 1 column 1 (char 0)") for the reader's error.</summary>
        private static string JsonProblem(string text, JsonException exc)
        {
            string message = exc.Message;
            int cut = message.LastIndexOf(" (at character ", StringComparison.Ordinal);
            if (cut >= 0)
                message = message.Substring(0, cut);
            int pos = Math.Max(0, Math.Min(exc.Position, text.Length));
            if (message == "extra data after the JSON value")
                message = "Extra data";
            else if (message == "Invalid control character in string")
            {
                message = "Invalid control character at";
                pos = Math.Max(0, pos - 1); // the reader stepped past the character
            }
            else if (message == "Unterminated string")
            {
                message = "Unterminated string starting at";
                int start = text.LastIndexOf('"', Math.Max(0, Math.Min(pos, text.Length) - 1));
                if (start >= 0)
                    pos = start;
            }
            else if (message == "Invalid \\uXXXX escape")
                message = "Invalid \\uXXXX escape";
            int line = 1, lastNewline = -1;
            for (int i = 0; i < pos && i < text.Length; i++)
                if (text[i] == '\n')
                {
                    line++;
                    lastNewline = i;
                }
            int column = pos - lastNewline;
            return String.Format(CultureInfo.InvariantCulture, "{0}: line {1} column {2} (char {3})", message, line, column, pos);
        }

        /// <summary>encode: compact UTF-8 JSON with sorted keys, ASCII only (the bytes relayed verbatim).</summary>
        public static byte[] Encode(JsonObject message)
        {
            return Encoding.UTF8.GetBytes(Py.Dumps(message, true));
        }

        /// <summary>agent_identity: the "agent" object every reply carries.</summary>
        public static JsonObject AgentIdentity(string version, int pid, string bootId)
        {
            return new JsonObject().Add("version", version).Add("pid", (long)pid).Add("boot_id", bootId)
                                   .Add("protocol", J.List(ProtocolSpec.SupportedVersions));
        }

        /// <summary>reply_ok: a successful reply.</summary>
        public static JsonObject ReplyOk(JsonObject result, JsonObject agent)
        {
            return new JsonObject().Add("ok", true).Add("result", result).Add("error", null).Add("agent", agent);
        }

        /// <summary>reply_error: a failed reply; result may carry documented keys (session_id, state) even on failure.</summary>
        public static JsonObject ReplyError(int jet, string name, string message, string hint, JsonObject agent, JsonObject result = null)
        {
            JsonObject error = new JsonObject().Add("jet", (long)jet).Add("name", name).Add("message", message).Add("hint", hint);
            return new JsonObject().Add("ok", false).Add("result", (result != null && result.Count > 0) ? result : new JsonObject())
                                   .Add("error", error).Add("agent", agent);
        }

        /// <summary>routing_key: 16 hex digits of the case-folded log folder (no trailing separators) and base name, or "host".</summary>
        public static string RoutingKey(JsonObject instance)
        {
            if (instance == null || instance.Count == 0)
                return ProtocolSpec.HostRoute;
            string folder = WinPath.Fold(((string)instance["log_path"]).Replace("/", "\\").TrimEnd('\\'));
            string baseName = WinPath.Fold(String.IsNullOrEmpty(instance["base_name"] as string) ? "edb" : (string)instance["base_name"]);
            byte[] digest;
            using (SHA256 sha = SHA256.Create())
                digest = sha.ComputeHash(Encoding.UTF8.GetBytes(folder + "|" + baseName));
            return BitConverter.ToString(digest).Replace("-", "").ToLowerInvariant().Substring(0, 16);
        }

        /// <summary>is_abort_path: an abort op, or stream_end with result abort (a session that is gone is ok there).</summary>
        public static bool IsAbortPath(string op, JsonObject args)
        {
            return ProtocolSpec.Ops[op].Kind == "abort" || (op == "stream_end" && args != null && (args["result"] as string) == "abort");
        }
    }
}
