//! The report as data: one document built once from a results.json ([`build`](super::build)) and
//! rendered three ways by short renderers ([`text`](super::text) for the terminal,
//! [`markdown`](super::markdown), [`html`](super::html)). Every figure is already a string in
//! human units here, so the three formats cannot disagree on a number.

use super::plots::Drawing;
use crate::scenario::Mode;

/// A whole report.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// `presign-bench: NAME`.
    pub title: String,
    /// The scenario's description (may be empty).
    pub description: String,
    /// `200 uploads per mode, target 50,000`.
    pub scope: String,
    /// Why the run is incomplete, when it is.
    pub warning: Option<String>,
    /// While the run goes on (the live view): what it is doing, and which figures will change.
    pub status: Option<String>,
    /// The run's claim, when both modes ran.
    pub headline: Option<Headline>,
    /// The body, in reading order.
    pub sections: Vec<Section>,
    /// Where and how the run ran, in one line.
    pub footer: String,
}

/// The big figure and the sentence that says what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headline {
    /// `6,768×`.
    pub figure: String,
    /// The claim, with its extrapolation labelled.
    pub claim: String,
    /// The capacity answer in words: the app servers each architecture needs for the scenario's
    /// target and what binds them (its inputs are the capacity section's first table).
    pub answer: Option<String>,
}

/// A titled part of the body (the first has no title: the mode table).
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The section's heading.
    pub heading: Option<String>,
    /// Its content, in order.
    pub blocks: Vec<Block>,
}

/// One piece of a section.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A table.
    Table(Table),
    /// A sentence or paragraph of measured facts.
    Paragraph(String),
    /// What the figures mean, as (lead words, text) paragraphs: for readers of the documents;
    /// the terminal leaves it out, as it leaves out figures.
    Explanation(Vec<(String, String)>),
    /// A plot.
    Figure(Figure),
}

/// A table of text cells: the first `labels` columns are text (left-aligned), the rest figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The `id` of the HTML table, for links and tests.
    pub id: &'static str,
    /// Column headings (the first may be empty).
    pub columns: Vec<String>,
    /// How many leading columns are labels.
    pub labels: usize,
    /// The rows.
    pub rows: Vec<Row>,
}

/// A table row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// One cell per column.
    pub cells: Vec<String>,
    /// An extrapolation, not a measurement: set in italics where the format can.
    pub estimate: bool,
}

impl Row {
    /// A measured row.
    #[must_use]
    pub fn measured(cells: Vec<String>) -> Self {
        Self { cells, estimate: false }
    }

    /// An extrapolated row.
    #[must_use]
    pub fn estimated(cells: Vec<String>) -> Self {
        Self { cells, estimate: true }
    }
}

/// A drawn plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The file stem and HTML id: `bandwidth`.
    pub name: &'static str,
    /// Its SVG and PNG.
    pub drawing: Drawing,
}

/// A labelled row of a [`Table::by_mode`]: its label and how one mode's cell reads.
pub type ModeCell<T> = (&'static str, fn(&T) -> String);

/// The extrapolated last row of a [`Table::by_mode`], if any: its label and cells.
pub type Estimate<T> = Option<(String, fn(&T) -> String)>;

impl Table {
    /// A table with a column per mode (`modes`, each with its data): a row per `(label, cell)`,
    /// then `estimate`, an extrapolated row, if any.
    #[must_use]
    pub fn by_mode<T>(id: &'static str, modes: &[(Mode, &T)], rows: &[ModeCell<T>], estimate: Estimate<T>) -> Self {
        let row = |label: String, cell: fn(&T) -> String| {
            std::iter::once(label).chain(modes.iter().map(|(_, m)| cell(m))).collect::<Vec<_>>()
        };
        let mut columns = vec![String::new()];
        columns.extend(modes.iter().map(|(mode, _)| mode.as_str().to_owned()));
        let mut table_rows: Vec<Row> =
            rows.iter().map(|(label, cell)| Row::measured(row((*label).to_owned(), *cell))).collect();
        table_rows.extend(estimate.map(|(label, cell)| Row::estimated(row(label, cell))));
        Self { id, columns, labels: 1, rows: table_rows }
    }
}

impl Section {
    /// A section with a heading.
    #[must_use]
    pub fn titled(heading: impl Into<String>, blocks: Vec<Block>) -> Self {
        Self { heading: Some(heading.into()), blocks }
    }
}

impl Document {
    /// Every figure of the document, in order.
    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.sections.iter().flat_map(|s| &s.blocks).filter_map(|b| match b {
            Block::Figure(f) => Some(f),
            _ => None,
        })
    }
}
