// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's JSON: a small reader and writer of its own (the .NET Framework BCL has no JSON
// object model; JavaScriptSerializer needs System.Web.Extensions, which Add-Type on a Server Core
// host may lack). Values are: JsonObject (keys in insertion order), List<object>, string, long
// (every integral number), double, bool and null. Python's json module reads what it writes and
// the reader accepts what Python's json.dumps writes (including \uXXXX escapes and surrogate pairs).
// C# 5 only (Windows PowerShell 5.1 Add-Type and mcs -langversion:5).
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace EsentBackup.Agent
{
    /// <summary>A JSON object whose keys keep the order they were first set in (as Python's dict).</summary>
    public sealed class JsonObject : IEnumerable<KeyValuePair<string, object>>
    {
        private readonly List<string> _keys = new List<string>();
        private readonly Dictionary<string, object> _values = new Dictionary<string, object>(StringComparer.Ordinal);

        public JsonObject() { }

        /// <summary>A shallow copy of another object (Python's dict(other)).</summary>
        public JsonObject(JsonObject other)
        {
            if (other == null)
                return;
            foreach (KeyValuePair<string, object> kv in other)
                this[kv.Key] = kv.Value;
        }

        public int Count { get { return _keys.Count; } }
        public IList<string> Keys { get { return _keys.AsReadOnly(); } }

        /// <summary>Get (null when missing, as Python's dict.get) or set a key.</summary>
        public object this[string key]
        {
            get { object v; return _values.TryGetValue(key, out v) ? v : null; }
            set
            {
                if (!_values.ContainsKey(key))
                    _keys.Add(key);
                _values[key] = value;
            }
        }

        /// <summary>Set a key and return this object, so literals read like Python's {...}.</summary>
        public JsonObject Add(string key, object value)
        {
            this[key] = value;
            return this;
        }

        public bool ContainsKey(string key) { return _values.ContainsKey(key); }
        public bool TryGetValue(string key, out object value) { return _values.TryGetValue(key, out value); }

        public bool Remove(string key)
        {
            if (!_values.Remove(key))
                return false;
            _keys.Remove(key);
            return true;
        }

        /// <summary>Copy every key of another object into this one (Python's dict.update).</summary>
        public JsonObject Update(JsonObject other)
        {
            if (other != null)
                foreach (KeyValuePair<string, object> kv in other)
                    this[kv.Key] = kv.Value;
            return this;
        }

        // Typed reads: each returns the fallback when the key is missing or null, and throws
        // InvalidCastException naming the key when it holds another type.
        public string Str(string key, string fallback = null) { return J.AsString(this[key], key, fallback); }
        public long Long(string key, long fallback = 0) { return J.AsLong(this[key], key, fallback); }
        public int Int(string key, int fallback = 0) { return checked((int)J.AsLong(this[key], key, fallback)); }
        public double Double(string key, double fallback = 0) { return J.AsDouble(this[key], key, fallback); }
        public bool Bool(string key, bool fallback = false) { return J.AsBool(this[key], key, fallback); }
        public JsonObject Obj(string key) { return J.AsObject(this[key], key); }
        public List<object> List(string key) { return J.AsList(this[key], key); }

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            foreach (string key in _keys)
                yield return new KeyValuePair<string, object>(key, _values[key]);
        }

        IEnumerator IEnumerable.GetEnumerator() { return GetEnumerator(); }

        public override string ToString() { return Json.Serialize(this); }
    }

    /// <summary>Conversions of parsed JSON values (the reader gives long for integers, double otherwise).</summary>
    public static class J
    {
        public static string AsString(object value, string what, string fallback = null)
        {
            if (value == null)
                return fallback;
            string s = value as string;
            if (s == null)
                throw new InvalidCastException(what + " is " + Json.TypeName(value) + ", not a string");
            return s;
        }

        public static long AsLong(object value, string what, long fallback = 0)
        {
            if (value == null)
                return fallback;
            if (value is long) return (long)value;
            if (value is int) return (int)value;
            if (value is uint) return (uint)value;
            if (value is double && Math.Floor((double)value) == (double)value) return (long)(double)value;
            throw new InvalidCastException(what + " is " + Json.TypeName(value) + ", not an integer");
        }

        public static double AsDouble(object value, string what, double fallback = 0)
        {
            if (value == null)
                return fallback;
            if (value is double) return (double)value;
            if (value is long) return (long)value;
            if (value is int) return (int)value;
            throw new InvalidCastException(what + " is " + Json.TypeName(value) + ", not a number");
        }

        public static bool AsBool(object value, string what, bool fallback = false)
        {
            if (value == null)
                return fallback;
            if (value is bool) return (bool)value;
            throw new InvalidCastException(what + " is " + Json.TypeName(value) + ", not a boolean");
        }

        public static JsonObject AsObject(object value, string what)
        {
            if (value == null)
                return null;
            JsonObject o = value as JsonObject;
            if (o == null)
                throw new InvalidCastException(what + " is " + Json.TypeName(value) + ", not an object");
            return o;
        }

        public static List<object> AsList(object value, string what)
        {
            if (value == null)
                return null;
            List<object> l = value as List<object>;
            if (l == null)
                throw new InvalidCastException(what + " is " + Json.TypeName(value) + ", not a list");
            return l;
        }

        /// <summary>A list of strings (each element must be a string).</summary>
        public static List<string> Strings(object value, string what)
        {
            List<string> result = new List<string>();
            List<object> l = AsList(value, what);
            if (l == null)
                return result;
            for (int i = 0; i < l.Count; i++)
                result.Add(AsString(l[i], what + "[" + i + "]"));
            return result;
        }

        /// <summary>A JSON list of the given items (List&lt;object&gt;).</summary>
        public static List<object> List(IEnumerable items)
        {
            List<object> result = new List<object>();
            if (items != null)
                foreach (object item in items)
                    result.Add(item);
            return result;
        }
    }

    /// <summary>Raised by Json.Parse: the position and what was expected.</summary>
    public sealed class JsonException : FormatException
    {
        public readonly int Position;

        public JsonException(string message, int position)
            : base(String.Format("{0} (at character {1})", message, position))
        {
            Position = position;
        }
    }

    public static class Json
    {
        private const int MaxDepth = 64;

        /// <summary>The JSON type name of a value, as messages name it (Python's names: str, int, ...).</summary>
        public static string TypeName(object value)
        {
            if (value == null) return "null";
            if (value is string) return "str";
            if (value is bool) return "bool";
            if (value is long || value is int || value is uint || value is ulong) return "int";
            if (value is double || value is float) return "float";
            if (value is JsonObject) return "dict";
            if (value is IList) return "list";
            return value.GetType().Name;
        }

        public static object Parse(string text)
        {
            if (text == null)
                throw new ArgumentNullException("text");
            Reader r = new Reader(text);
            r.SkipSpace();
            object value = r.ReadValue(0);
            r.SkipSpace();
            if (r.Pos != text.Length)
                throw new JsonException("extra data after the JSON value", r.Pos);
            return value;
        }

        /// <summary>Compact JSON (separators "," and ":"), ASCII only: every non-ASCII char as \uXXXX.</summary>
        public static string Serialize(object value)
        {
            StringBuilder sb = new StringBuilder();
            Write(sb, value, 0);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object value, int depth)
        {
            if (depth > MaxDepth)
                throw new InvalidOperationException("JSON value nested deeper than " + MaxDepth);
            if (value == null) { sb.Append("null"); return; }
            string s = value as string;
            if (s != null) { WriteString(sb, s); return; }
            if (value is bool) { sb.Append((bool)value ? "true" : "false"); return; }
            if (value is long || value is int || value is uint || value is ulong || value is short || value is ushort || value is byte)
            {
                sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                return;
            }
            if (value is double || value is float)
            {
                double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (Double.IsNaN(d) || Double.IsInfinity(d))
                    throw new InvalidOperationException("JSON has no NaN or infinity");
                string text = d.ToString("R", CultureInfo.InvariantCulture);
                if (text.IndexOf('.') < 0 && text.IndexOf('E') < 0 && text.IndexOf('e') < 0)
                    text += ".0"; // a float stays a float for Python
                sb.Append(text);
                return;
            }
            JsonObject obj = value as JsonObject;
            if (obj != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (KeyValuePair<string, object> kv in obj)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, kv.Key);
                    sb.Append(':');
                    Write(sb, kv.Value, depth + 1);
                }
                sb.Append('}');
                return;
            }
            IDictionary dict = value as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry kv in dict)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, Convert.ToString(kv.Key, CultureInfo.InvariantCulture));
                    sb.Append(':');
                    Write(sb, kv.Value, depth + 1);
                }
                sb.Append('}');
                return;
            }
            IEnumerable list = value as IEnumerable;
            if (list != null)
            {
                sb.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item, depth + 1);
                }
                sb.Append(']');
                return;
            }
            throw new InvalidOperationException("no JSON form for " + value.GetType().FullName);
        }

        /// <summary>A string as JSON, ASCII only (json.dumps's ensure_ascii): every other char as \uXXXX.</summary>
        public static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || c > 0x7e)
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        private sealed class Reader
        {
            private readonly string _s;
            public int Pos;

            public Reader(string s) { _s = s; }

            public void SkipSpace()
            {
                while (Pos < _s.Length && (_s[Pos] == ' ' || _s[Pos] == '\t' || _s[Pos] == '\n' || _s[Pos] == '\r'))
                    Pos++;
            }

            private JsonException Error(string what) { return new JsonException(what, Pos); }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth)
                    throw Error("JSON nested deeper than " + MaxDepth);
                if (Pos >= _s.Length)
                    throw Error("Expecting value");
                char c = _s[Pos];
                switch (c)
                {
                    case '{': return ReadObject(depth);
                    case '[': return ReadArray(depth);
                    case '"': return ReadString();
                    case 't': Expect("true"); return true;
                    case 'f': Expect("false"); return false;
                    case 'n': Expect("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9'))
                            return ReadNumber();
                        throw Error("Expecting value");
                }
            }

            private void Expect(string word)
            {
                if (String.CompareOrdinal(_s, Pos, word, 0, word.Length) != 0)
                    throw Error("Expecting value");
                Pos += word.Length;
            }

            private JsonObject ReadObject(int depth)
            {
                JsonObject obj = new JsonObject();
                Pos++;
                SkipSpace();
                if (Pos < _s.Length && _s[Pos] == '}') { Pos++; return obj; }
                while (true)
                {
                    SkipSpace();
                    if (Pos >= _s.Length || _s[Pos] != '"')
                        throw Error("Expecting property name enclosed in double quotes");
                    string key = ReadString();
                    SkipSpace();
                    if (Pos >= _s.Length || _s[Pos] != ':')
                        throw Error("Expecting ':' delimiter");
                    Pos++;
                    SkipSpace();
                    obj[key] = ReadValue(depth + 1);
                    SkipSpace();
                    if (Pos < _s.Length && _s[Pos] == ',') { Pos++; continue; }
                    if (Pos < _s.Length && _s[Pos] == '}') { Pos++; return obj; }
                    throw Error("Expecting ',' delimiter");
                }
            }

            private List<object> ReadArray(int depth)
            {
                List<object> list = new List<object>();
                Pos++;
                SkipSpace();
                if (Pos < _s.Length && _s[Pos] == ']') { Pos++; return list; }
                while (true)
                {
                    SkipSpace();
                    list.Add(ReadValue(depth + 1));
                    SkipSpace();
                    if (Pos < _s.Length && _s[Pos] == ',') { Pos++; continue; }
                    if (Pos < _s.Length && _s[Pos] == ']') { Pos++; return list; }
                    throw Error("Expecting ',' delimiter");
                }
            }

            private string ReadString()
            {
                StringBuilder sb = new StringBuilder();
                Pos++; // the opening quote
                while (true)
                {
                    if (Pos >= _s.Length)
                        throw Error("Unterminated string");
                    char c = _s[Pos++];
                    if (c == '"')
                        return sb.ToString();
                    if (c < 0x20)
                        throw Error("Invalid control character in string");
                    if (c != '\\') { sb.Append(c); continue; }
                    if (Pos >= _s.Length)
                        throw Error("Unterminated string");
                    char e = _s[Pos++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > _s.Length)
                                throw Error("Invalid \\uXXXX escape");
                            int code;
                            if (!Int32.TryParse(_s.Substring(Pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                                throw Error("Invalid \\uXXXX escape");
                            sb.Append((char)code);
                            Pos += 4;
                            break;
                        default:
                            throw Error("Invalid \\escape");
                    }
                }
            }

            private object ReadNumber()
            {
                int start = Pos;
                if (_s[Pos] == '-') Pos++;
                if (Pos >= _s.Length || !Char.IsDigit(_s[Pos]))
                    throw Error("Expecting value");
                if (_s[Pos] == '0') Pos++;
                else while (Pos < _s.Length && _s[Pos] >= '0' && _s[Pos] <= '9') Pos++;
                bool integral = true;
                if (Pos < _s.Length && _s[Pos] == '.')
                {
                    integral = false;
                    Pos++;
                    if (Pos >= _s.Length || !(_s[Pos] >= '0' && _s[Pos] <= '9'))
                        throw Error("Invalid number");
                    while (Pos < _s.Length && _s[Pos] >= '0' && _s[Pos] <= '9') Pos++;
                }
                if (Pos < _s.Length && (_s[Pos] == 'e' || _s[Pos] == 'E'))
                {
                    integral = false;
                    Pos++;
                    if (Pos < _s.Length && (_s[Pos] == '+' || _s[Pos] == '-')) Pos++;
                    if (Pos >= _s.Length || !(_s[Pos] >= '0' && _s[Pos] <= '9'))
                        throw Error("Invalid number");
                    while (Pos < _s.Length && _s[Pos] >= '0' && _s[Pos] <= '9') Pos++;
                }
                string text = _s.Substring(start, Pos - start);
                if (integral)
                {
                    long l;
                    if (Int64.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l))
                        return l;
                }
                return Double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
    }
}
