//! pm2's box-drawn tables: columns as wide as their widest cell, counted
//! without the ANSI colours the cells may hold.

use std::fmt::Write as _;

/// A box-drawn table in pm2's style; `cells` may hold ANSI colours.
/// Every row has at most as many cells as there are headers. Width is
/// counted in chars, so a double-width character pushes its column out.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let width = |s: &str| strip_ansi(s).chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let line = |l: &str, m: &str, r: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{l}{}{r}\n", parts.join(m))
    };
    let row = |cells: &[String]| {
        let mut s = String::from("│");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - width(c);
            let _ = write!(s, " {c}{} │", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line("┌", "┬", "┐");
    out += &row(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    out += &line("├", "┼", "┤");
    for r in rows {
        out += &row(r);
    }
    out += &line("└", "┴", "┘");
    out
}

/// `s` without its ANSI colour sequences, as wide as it shows.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["id", "name"],
            &[
                vec!["0".into(), "api".into()],
                vec!["10".into(), "x".into()],
            ],
        );
        let widths: Vec<usize> = t.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{t}");
    }
}
