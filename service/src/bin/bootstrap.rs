//! Lambda entry point (filled in by the handler work).
fn main() {}
