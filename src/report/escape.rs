//! Escaping text for the formats a report is written in: HTML/XML text and attributes,
//! Markdown table cells, and JSON embedded in an HTML `<script>` element.

/// Text or an attribute value for HTML and XML: `&`, `<`, `>`, `"` and `'` escaped, and
/// characters XML 1.0 forbids (control characters other than tab, newline and carriage
/// return; U+FFFE, U+FFFF) replaced by U+FFFD so that a runtime's odd message cannot make
/// `junit.xml` unreadable.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One Markdown table cell: `|` escaped, line breaks as spaces, and `&`, `<`, `>` as
/// entities (GitHub renders inline HTML).
pub fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON text that is safe inside `<script type="application/json">`: `<`, `>` and `&`
/// only occur in JSON strings, where `\u003c`… mean the same, so `</script>` and `<!--`
/// cannot end or confuse the element. U+2028/U+2029 are escaped too.
pub fn json_in_script(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_forbidden_characters() {
        assert_eq!(xml("a<b & c>\"d\" 'e'"), "a&lt;b &amp; c&gt;&quot;d&quot; &#39;e&#39;");
        assert_eq!(xml("x\u{1}y\u{0}z\tw\n"), "x\u{fffd}y\u{fffd}z\tw\n");
        assert_eq!(xml("]]>"), "]]&gt;");
    }

    #[test]
    fn markdown_cells() {
        assert_eq!(md_cell("a|b\nc <d> & e"), "a\\|b c &lt;d&gt; &amp; e");
    }

    #[test]
    fn json_cannot_close_the_script() {
        let json = serde_json::to_string(&"</script><!-- & \u{2028}").unwrap();
        let safe = json_in_script(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "</script><!-- & \u{2028}");
    }
}
