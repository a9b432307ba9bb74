using System.Text;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// A string a client sent (a shared-memory name), made safe to put in the engine's log and in an Error
/// message: quoted, control and invisible formatting characters escaped (so a newline cannot forge a log
/// line and a terminal escape cannot repaint the screen), and cut to <see cref="MaxChars"/> characters.
/// Every client string that goes into a log line or an Error goes through <see cref="Quote"/>.
/// </summary>
public static class ClientText
{
    /// <summary>Characters of a client string shown at most; the rest is replaced by "…".</summary>
    public const int MaxChars = 64;

    /// <summary>A quoted, escaped and capped copy of <paramref name="text"/>, for a log line or an Error message.</summary>
    public static string Quote(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, MaxChars) + 8).Append('"');
        int shown = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (shown++ == MaxChars) { sb.Append('…'); break; }
            switch (rune.Value)
            {
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                default:
                    // C0/C1 controls, line and paragraph separators, bidirectional overrides and other format characters.
                    var category = Rune.GetUnicodeCategory(rune);
                    if (category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
                        or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator)
                        sb.Append(rune.Value <= 0xFFFF ? $"\\u{rune.Value:x4}" : $"\\U{rune.Value:x8}");
                    else sb.Append(rune.ToString());
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>
    /// A whole message made one line, control characters escaped (no quotes, no cap): the last line of defence
    /// for the reasons and Error texts built from exception messages, which may quote a client's bytes.
    /// </summary>
    public static string OneLine(string message)
    {
        if (!message.Any(char.IsControl)) return message;
        var sb = new StringBuilder(message.Length + 16);
        foreach (char c in message) sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ when char.IsControl(c) => $"\\u{(int)c:x4}", _ => c.ToString() });
        return sb.ToString();
    }
}
