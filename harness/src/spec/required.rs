//! The sections and keys a spec cannot do without, looked for all at once before the file is
//! read into its types.
//!
//! Reading into the types stops at the first missing field, and for a missing section it
//! points at the top of the file: a first spec written from the README would learn what it
//! lacks one run at a time. This pass walks the parsed TOML (with its positions) instead and
//! names every missing key at its section's line and column, and every missing section
//! together, each with what to put there. Sections whose keys all have defaults
//! (`[contract]`, `[malformed]`, `[generated]`, `[tune]`) are not required.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A key a table must have: one of `names` (the image is built or taken), and what it holds.
struct Key {
    names: &'static [&'static str],
    what: &'static str,
}

/// The tables that must exist, and the keys each needs.
const SECTIONS: [(&str, &[Key]); 5] = [
    (
        "function",
        &[
            Key {
                names: &["name"],
                what: "the function's name, 1-64 letters, digits, '-' and '_', e.g. \"churn-scorer\"",
            },
            Key {
                names: &["architecture"],
                what: "\"x86_64\" or \"arm64\", the architecture it is deployed with",
            },
        ],
    ),
    (
        "image",
        &[Key {
            names: &["dockerfile", "reference"],
            what: "dockerfile = \"Dockerfile\" to build the image, or reference = \"name:tag\" to take an existing one",
        }],
    ),
    (
        "errors",
        &[Key {
            names: &["function"],
            what: "the errorTypes the function answers bad input with, e.g. [\"ValidationError\"]",
        }],
    ),
    (
        "provenance",
        &[Key {
            names: &["model"],
            what: "the model file's absolute path in the image, e.g. \"/var/task/model.cbm\"",
        }],
    ),
    (
        "goldens",
        &[Key {
            names: &["dir"],
            what: "the directory of inputs.jsonl, expected.jsonl and manifest.json, e.g. \"golden\"",
        }],
    ),
];

/// Optional tables that need keys when they are given (each table of an array of tables).
const WHEN_GIVEN: [(&str, &str, &[Key]); 2] = [
    (
        "contract",
        "id",
        &[
            Key {
                names: &["event"],
                what: "the pointer to the id in an event, e.g. \"/request_id\"",
            },
            Key {
                names: &["prediction"],
                what: "the pointer to the id in a prediction, e.g. \"/request_id\"",
            },
        ],
    ),
    (
        "contract",
        "field",
        &[Key {
            names: &["expected"],
            what: "the pointer into the golden's expected prediction this rule applies to, e.g. \"/scores\"",
        }],
    ),
];

/// What is missing from a spec, in the order to report it: keys of the sections that are
/// there, by line, then the sections that are not.
#[derive(Debug, Default)]
pub(super) struct Missing {
    /// `line L, column C: [section] needs ...`, with the line of the section's header.
    keys: Vec<(usize, String)>,
    /// `[section] with ...`.
    sections: Vec<String>,
}

impl Missing {
    /// Looks for every required section and key in `text`. `image_given`: `--image` supplies
    /// the image, so `[image]` may be left out. `None` when the text is not TOML: the type
    /// reading reports that with its line.
    pub(super) fn find(text: &str, image_given: bool) -> Option<Self> {
        let root = DeTable::parse(text).ok()?;
        let root = root.get_ref();
        let mut missing = Missing::default();
        for (section, keys) in SECTIONS {
            if section == "image" && image_given {
                continue;
            }
            match entry(root, section) {
                None => {
                    let needs: Vec<String> = keys.iter().map(|k| k.describe()).collect();
                    missing
                        .sections
                        .push(format!("[{section}] with {}", needs.join("; ")));
                }
                Some(value) => missing.check(text, &format!("[{section}]"), value, keys),
            }
        }
        for (parent, child, keys) in WHEN_GIVEN {
            let Some(DeValue::Table(parent_table)) = entry(root, parent).map(Spanned::get_ref)
            else {
                continue;
            };
            let name = format!("{parent}.{child}");
            let Some(value) = entry(parent_table, child) else {
                continue;
            };
            if let DeValue::Array(items) = value.get_ref() {
                for item in items.iter() {
                    missing.check(text, &format!("[[{name}]]"), item, keys);
                }
            } else {
                missing.check(text, &format!("[{name}]"), value, keys);
            }
        }
        missing.keys.sort_by_key(|(at, _)| *at);
        Some(missing)
    }

    /// Records the keys `table` lacks; a value that is not a table is left to the type
    /// reading, which names its type.
    fn check(&mut self, text: &str, header: &str, value: &Spanned<DeValue<'_>>, keys: &[Key]) {
        let DeValue::Table(table) = value.get_ref() else {
            return;
        };
        let start = value.span().start;
        let (line, column) = line_column(text, start);
        for key in keys {
            if !key.names.iter().any(|n| entry(table, n).is_some()) {
                self.keys.push((
                    start,
                    format!(
                        "line {line}, column {column}: {header} needs {}",
                        key.describe()
                    ),
                ));
            }
        }
    }

    /// Whether nothing is missing.
    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.sections.is_empty()
    }

    /// The report: a count, then one line per missing key and one per missing section.
    pub(super) fn render(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut counts = Vec::new();
        if !self.sections.is_empty() {
            counts.push(plural(self.sections.len(), "section", "sections"));
        }
        if !self.keys.is_empty() {
            counts.push(plural(self.keys.len(), "key", "keys"));
        }
        let mut out = format!("{} missing:", counts.join(" and "));
        for (_, line) in &self.keys {
            out.push_str("\n  ");
            out.push_str(line);
        }
        for section in &self.sections {
            out.push_str("\n  missing section ");
            out.push_str(section);
        }
        out
    }
}

impl Key {
    /// "`name`: what it is", or "`a` or `b`: ..." for alternatives.
    fn describe(&self) -> String {
        let names: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
        format!("{}: {}", names.join(" or "), self.what)
    }
}

/// The value of `key` in `table`.
fn entry<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

/// 1-based line and column (in characters) of byte `offset`, as the TOML parser counts them.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
