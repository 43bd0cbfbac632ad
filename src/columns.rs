//! Plain-text tables: the one function that pads columns for a terminal. Every table the tool
//! prints (the run's report, `plan`, `compare`, thresholds, `sign-bench`, `calibrate`, `audit`)
//! goes through [`table`], so they all align the same way. A leaf: it uses nothing of the crate.
//!
//! Hand-written (thirty lines): the table crates (comfy-table, tabled) draw borders and wrap
//! cells; these tables are bare aligned columns that people read and scripts grep.

/// How a column's cells sit in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// `header` and `rows` as lines of columns, each as wide as its widest cell (in characters) and
/// two spaces apart, aligned as `align` says (columns past its end: right); no trailing spaces.
/// An empty `header` prints no header line.
#[must_use]
pub fn table(header: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).chain([header.len()]).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    let lines = std::iter::once(header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>())
        .filter(|h| !h.is_empty())
        .chain(rows.iter().cloned())
        .collect::<Vec<_>>();
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if i > 0 {
                text.push_str("  ");
            }
            match align.get(i).copied().unwrap_or(Align::Right) {
                Align::Left => {
                    text.push_str(cell);
                    text.push_str(&pad);
                }
                Align::Right => {
                    text.push_str(&pad);
                    text.push_str(cell);
                }
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = vec![
            vec!["proxied".to_owned(), "7".to_owned(), "nic".to_owned()],
            vec!["presigned".to_owned(), "1,234".to_owned(), "cpu".to_owned()],
        ];
        let t = table(&["mode", "servers", "binding"], &[Align::Left, Align::Right, Align::Left], &rows);
        assert_eq!(t, "mode       servers  binding\nproxied          7  nic\npresigned    1,234  cpu\n");
    }

    #[test]
    fn width_counts_characters_not_bytes_and_no_header_prints_none() {
        let rows = vec![vec!["a ↔ b".to_owned(), "6,768×".to_owned()], vec!["abcdef".to_owned(), "1×".to_owned()]];
        let t = table(&[], &[Align::Left], &rows);
        assert_eq!(t, "a ↔ b   6,768×\nabcdef      1×\n");
    }
}
