// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Python's own text forms, which the reference agent's messages, manifests, journal and state file
// are written in: repr() of a value ({value!r} in a message), float.__repr__, json.dumps with
// sort_keys and ensure_ascii (compact, default separators or indented), and str ordering by code
// point. One place for all of them, so a manifest's checksum, a journal line and an error text come
// out byte for byte as the Python agent writes them.
// C# 5 only.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace EsentBackup.Agent
{
    public static class Py
    {
        /// <summary>json.dumps(value, sort_keys=True): compact ("," and ":", the protocol's encode) or with Python's default
        /// separators (", " and ": ", the journal and state file).</summary>
        public static string Dumps(object value, bool compact = false)
        {
            StringBuilder sb = new StringBuilder();
            WritePython(sb, value, -1, 0, compact);
            return sb.ToString();
        }

        /// <summary>json.dumps(value, sort_keys=True, indent=indent).</summary>
        public static string DumpsIndented(object value, int indent)
        {
            StringBuilder sb = new StringBuilder();
            WritePython(sb, value, indent, 0);
            return sb.ToString();
        }

        /// <summary>Python's truth value of a JSON value: None, False, 0, "", [] and {} are false.</summary>
        public static bool Truthy(object value)
        {
            if (value == null) return false;
            if (value is bool) return (bool)value;
            if (value is long) return (long)value != 0;
            if (value is int) return (int)value != 0;
            if (value is double) return (double)value != 0;
            string s = value as string;
            if (s != null) return s.Length > 0;
            JsonObject o = value as JsonObject;
            if (o != null) return o.Count > 0;
            ICollection c = value as ICollection;
            if (c != null) return c.Count > 0;
            return true;
        }

        private static bool IsInt(object value)
        {
            return value is long || value is int || value is uint || value is ulong || value is short || value is ushort || value is byte;
        }

        /// <summary>Python's json.dumps(value, sort_keys=True, ensure_ascii=True): indented by indent (&gt;= 0; items end with ","),
        /// else compact ("," and ":") or with Python's default separators (", " and ": ").</summary>
        public static void WritePython(StringBuilder sb, object value, int indent, int level, bool compact = true)
        {
            if (value == null) { sb.Append("null"); return; }
            string s = value as string;
            if (s != null) { Json.WriteString(sb, s); return; }
            if (value is bool) { sb.Append((bool)value ? "true" : "false"); return; }
            if (IsInt(value)) { sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture)); return; }
            if (value is double || value is float)
            {
                double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (Double.IsNaN(d) || Double.IsInfinity(d))
                    throw new InvalidOperationException("Out of range float values are not JSON compliant");
                sb.Append(ReprFloat(d));  // json.dumps writes float.__repr__
                return;
            }
            JsonObject obj = value as JsonObject;
            if (obj != null)
            {
                if (obj.Count == 0) { sb.Append("{}"); return; }
                List<string> keys = new List<string>(obj.Keys);
                keys.Sort(CodePointCompare);
                sb.Append('{');
                for (int i = 0; i < keys.Count; i++)
                {
                    if (i > 0) sb.Append(indent >= 0 || compact ? "," : ", ");
                    NewLine(sb, indent, level + 1);
                    Json.WriteString(sb, keys[i]);
                    sb.Append(indent < 0 && compact ? ":" : ": ");
                    WritePython(sb, obj[keys[i]], indent, level + 1, compact);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                return;
            }
            IList list = value as IList;
            if (list != null)
            {
                if (list.Count == 0) { sb.Append("[]"); return; }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0) sb.Append(indent >= 0 || compact ? "," : ", ");
                    NewLine(sb, indent, level + 1);
                    WritePython(sb, list[i], indent, level + 1, compact);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                return;
            }
            throw new InvalidOperationException("Object of type " + value.GetType().Name + " is not JSON serializable");
        }

        private static void NewLine(StringBuilder sb, int indent, int level)
        {
            if (indent < 0)
                return;
            sb.Append('\n');
            sb.Append(' ', indent * level);
        }

        /// <summary>Python's str order (by code point; ordinal UTF-16 order differs only above U+FFFF).</summary>
        public static int CodePointCompare(string a, string b)
        {
            int i = 0, j = 0;
            while (i < a.Length && j < b.Length)
            {
                int ca = CodePointAt(a, i), cb = CodePointAt(b, j);
                if (ca != cb)
                    return ca < cb ? -1 : 1;
                i += ca > 0xFFFF ? 2 : 1;
                j += cb > 0xFFFF ? 2 : 1;
            }
            return (a.Length - i).CompareTo(b.Length - j);
        }

        /// <summary>The length in code points, as Python's len() counts a str.</summary>
        public static int CodePointLength(string s)
        {
            int n = 0;
            for (int i = 0; i < s.Length; i++, n++)
                if (Char.IsHighSurrogate(s[i]) && i + 1 < s.Length && Char.IsLowSurrogate(s[i + 1]))
                    i++;
            return n;
        }

        private static int CodePointAt(string s, int i)
        {
            if (Char.IsHighSurrogate(s[i]) && i + 1 < s.Length && Char.IsLowSurrogate(s[i + 1]))
                return Char.ConvertToUtf32(s[i], s[i + 1]);
            return s[i];
        }


        /// <summary>Python's repr() of a JSON value: 'text' (quotes and escapes as Python picks them), 12, True, None, [..], {..}.</summary>
        public static string Repr(object value)
        {
            if (value == null) return "None";
            string s = value as string;
            if (s != null) return ReprString(s);
            if (value is bool) return (bool)value ? "True" : "False";
            if (value is long || value is int || value is uint || value is ulong || value is short || value is byte)
                return Convert.ToString(value, CultureInfo.InvariantCulture);
            if (value is double || value is float) return ReprFloat(Convert.ToDouble(value, CultureInfo.InvariantCulture));
            JsonObject o = value as JsonObject;
            if (o != null)
            {
                List<string> parts = new List<string>();
                foreach (KeyValuePair<string, object> kv in o)
                    parts.Add(ReprString(kv.Key) + ": " + Repr(kv.Value));
                return "{" + String.Join(", ", parts.ToArray()) + "}";
            }
            IEnumerable list = value as IEnumerable;
            if (list != null)
            {
                List<string> parts = new List<string>();
                foreach (object item in list)
                    parts.Add(Repr(item));
                return "[" + String.Join(", ", parts.ToArray()) + "]";
            }
            return value.ToString();
        }

        /// <summary>Python's float repr (shortest round trip; 1.0, 0.0001, 1e-05, 1e+16, inf, nan).</summary>
        public static string ReprFloat(double d)
        {
            if (Double.IsNaN(d)) return "nan";
            if (Double.IsPositiveInfinity(d)) return "inf";
            if (Double.IsNegativeInfinity(d)) return "-inf";
            if (d == 0) return (1 / d) < 0 ? "-0.0" : "0.0";
            string text = null;
            for (int precision = 1; precision <= 17; precision++)
            {
                text = d.ToString("E" + (precision - 1), CultureInfo.InvariantCulture);
                if (Double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) == d)
                    break;
            }
            // text is "-d.dddE+xxx": the digits and the decimal exponent of the first one.
            bool negative = text[0] == '-';
            if (negative) text = text.Substring(1);
            int e = text.IndexOf('E');
            int exponent = Int32.Parse(text.Substring(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            string digits = text.Substring(0, e).Replace(".", "").TrimEnd('0');
            if (digits.Length == 0) digits = "0";
            StringBuilder sb = new StringBuilder(negative ? "-" : "");
            if (exponent >= -4 && exponent < 16)
            {
                if (exponent >= 0)
                {
                    string whole = digits.Length > exponent + 1 ? digits.Substring(0, exponent + 1) : digits.PadRight(exponent + 1, '0');
                    string fraction = digits.Length > exponent + 1 ? digits.Substring(exponent + 1) : "0";
                    sb.Append(whole).Append('.').Append(fraction);
                }
                else
                {
                    sb.Append("0.").Append(new string('0', -exponent - 1)).Append(digits);
                }
            }
            else
            {
                sb.Append(digits[0]);
                if (digits.Length > 1) sb.Append('.').Append(digits.Substring(1));
                sb.Append('e').Append(exponent < 0 ? '-' : '+').Append(Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }

        private static string ReprString(string s)
        {
            char quote = (s.IndexOf('\'') >= 0 && s.IndexOf('"') < 0) ? '"' : '\'';
            StringBuilder sb = new StringBuilder();
            sb.Append(quote);
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == quote || c == '\\') { sb.Append('\\').Append(c); continue; }
                if (c == '\t') { sb.Append("\\t"); continue; }
                if (c == '\n') { sb.Append("\\n"); continue; }
                if (c == '\r') { sb.Append("\\r"); continue; }
                if (Char.IsHighSurrogate(c) && i + 1 < s.Length && Char.IsLowSurrogate(s[i + 1]))
                {
                    sb.Append(c).Append(s[i + 1]);
                    i++;
                    continue;
                }
                if (c < 0x20 || c == 0x7f || !Printable(c))
                {
                    if (c < 0x100)
                        sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    continue;
                }
                sb.Append(c);
            }
            sb.Append(quote);
            return sb.ToString();
        }

        /// <summary>Python's str.isprintable for one BMP char: not Cc, Cf, Cs, Co, Cn, Zl, Zp, and no separator but the space.</summary>
        private static bool Printable(char c)
        {
            if (c == ' ')
                return true;
            switch (CharUnicodeInfo.GetUnicodeCategory(c))
            {
                case UnicodeCategory.Control:
                case UnicodeCategory.Format:
                case UnicodeCategory.Surrogate:
                case UnicodeCategory.PrivateUse:
                case UnicodeCategory.OtherNotAssigned:
                case UnicodeCategory.LineSeparator:
                case UnicodeCategory.ParagraphSeparator:
                case UnicodeCategory.SpaceSeparator:
                    return false;
                default:
                    return true;
            }
        }
    }
}
