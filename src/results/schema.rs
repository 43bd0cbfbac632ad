//! The JSON Schema of results.json, generated from the types in [`crate::results`] (what the
//! writer serialises), so it cannot drift from them. The committed copy is
//! `schema/results.schema.json`; a test regenerates it and compares.

use schemars::generate::SchemaSettings;

/// Where the committed schema lives, relative to the repository root.
pub const PATH: &str = "schema/results.schema.json";

/// The schema of [`super::Results`] as written, pretty JSON with a trailing newline.
///
/// # Panics
/// Never: a generated schema is plain JSON.
#[must_use]
pub fn generate() -> String {
    let schema =
        SchemaSettings::draft2020_12().for_serialize().into_generator().into_root_schema_for::<super::Results>();
    serde_json::to_string_pretty(&schema).expect("a schema is plain JSON") + "\n"
}
