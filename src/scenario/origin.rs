//! Where a scenario value came from (a file's line, column and key, or a flag) and the error
//! that names it: shared by every part of the resolution, and by nothing else.

use super::ScenarioError;
use toml::Spanned;

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
pub(super) enum Origin<'a> {
    File { key: &'a str, offset: usize },
    Flag(&'static str),
}

pub(super) struct Source<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Source<'_> {
    pub(super) fn error(&self, origin: Origin<'_>, message: impl Into<String>) -> ScenarioError {
        match origin {
            Origin::File { key, offset } => {
                let (line, column) = line_col(self.text, offset);
                ScenarioError::Value {
                    file: self.file.to_owned(),
                    line,
                    column,
                    key: key.to_owned(),
                    message: message.into(),
                }
            }
            Origin::Flag(flag) => ScenarioError::Flag { flag, message: message.into() },
        }
    }
}

pub(super) fn at<'k, T>(key: &'k str, v: &Spanned<T>) -> Origin<'k> {
    Origin::File { key, offset: v.span().start }
}

/// 1-based line and column of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// `v`, which must be at least 1 when given; `default` when not.
pub(super) fn positive(
    ctx: &Source<'_>,
    key: &str,
    v: Option<&Spanned<u64>>,
    default: u64,
) -> Result<u64, ScenarioError> {
    match v {
        Some(s) if *s.get_ref() == 0 => Err(ctx.error(at(key, s), "must be at least 1")),
        Some(s) => Ok(*s.get_ref()),
        None => Ok(default),
    }
}
