//! Date formats as pm2 users write them (dayjs/moment: `YYYY-MM-DD HH:mm`),
//! for log line prefixes and rotated file names.

/// Converts a dayjs/moment format (what pm2 users write) to chrono's syntax.
/// Text in `[...]` stays literal, as in dayjs; a stray `%` is escaped so it
/// cannot become a chrono directive. Tokens not in the table (`Do`, `d`, `Q`)
/// pass through as text. The log sink converts once per app start, not
/// per line it writes.
pub fn to_strftime(fmt: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("YY", "%y"),
        ("MMMM", "%B"),
        ("MMM", "%b"),
        ("MM", "%m"),
        ("M", "%-m"),
        ("DD", "%d"),
        ("D", "%-d"),
        ("dddd", "%A"),
        ("ddd", "%a"),
        ("HH", "%H"),
        ("H", "%-H"),
        ("hh", "%I"),
        ("h", "%-I"),
        ("mm", "%M"),
        ("m", "%-M"),
        ("ss", "%S"),
        ("s", "%-S"),
        ("SSS", "%3f"),
        ("ZZ", "%z"),
        ("Z", "%:z"),
        ("A", "%p"),
        ("a", "%P"),
        ("X", "%s"),
    ];
    let mut out = String::with_capacity(fmt.len() * 2);
    let mut rest = fmt;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(end) = rest.find(']')
        {
            out.push_str(&rest[1..end].replace('%', "%%"));
            rest = &rest[end + 1..];
            continue;
        }
        for (token, spec) in TOKENS {
            if let Some(tail) = rest.strip_prefix(token) {
                out.push_str(spec);
                rest = tail;
                continue 'outer;
            }
        }
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dayjs_formats_convert() {
        assert_eq!(to_strftime("YYYY-MM-DDTHH:mm:ss"), "%Y-%m-%dT%H:%M:%S");
        assert_eq!(
            to_strftime("YYYY-MM-DD HH:mm:ss.SSS Z"),
            "%Y-%m-%d %H:%M:%S.%3f %:z"
        );
        assert_eq!(to_strftime("[at] HH:mm 100%"), "at %H:%M 100%%");
    }
}
