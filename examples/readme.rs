//! The Rust snippets of the repository's README.md, compiled and run as doctests
//! (`cargo test -p waxseal-examples --doc`), so the README cannot drift from the library.
//! `scripts/readme-check` runs the README's other blocks. Each snippet makes the
//! certificates it needs at run time, in a temporary directory.

#[doc = include_str!("../README.md")]
mod readme {}
