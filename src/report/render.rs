//! From a results.json to the report folder: the document built once, its plots written as SVG
//! and PNG, `summary.md` and `report.html`. `run` calls [`render`] when it finishes;
//! `presign-bench report` calls it on any results.json.

use super::document::Document;
use super::plots;
use crate::results::Results;
use std::path::{Path, PathBuf};

/// Errors of rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A plot failed.
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    /// An output file cannot be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Builds the document of `results` and writes it into `dir` (see [`write`]); returns the
/// document and the files.
///
/// # Errors
/// [`RenderError`] naming the plot or the file.
pub fn render(results: &Results, dir: &Path) -> Result<(Document, Vec<PathBuf>), RenderError> {
    let doc = super::build::build(results)?;
    let files = write(&doc, dir)?;
    Ok((doc, files))
}

/// Writes every plot of `doc` (SVG and PNG), `summary.md` and `report.html` into `dir`; returns
/// the files.
///
/// # Errors
/// [`RenderError`] naming the file that could not be written.
pub fn write(doc: &Document, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    std::fs::create_dir_all(dir).map_err(|source| RenderError::Write { path: dir.display().to_string(), source })?;
    let mut files = Vec::new();
    for figure in doc.figures() {
        files.extend(plots::save(figure.name, &figure.drawing, dir)?);
    }
    for (name, text) in [("summary.md", super::markdown::render(doc)), ("report.html", super::html::render(doc))] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|source| RenderError::Write { path: path.display().to_string(), source })?;
        files.push(path);
    }
    Ok(files)
}
