//! The Rust snippets of the repository's README.md, compiled and run as doctests
//! (`cargo test -p waxseal-examples --doc`), so the README cannot drift from the library.
//! `scripts/readme-check` runs the README's other blocks. Each snippet makes the
//! certificates it needs at run time, in a temporary directory.

// The README marks its shell and file blocks with words rustdoc does not know
// (`sh exit=1`, `json file=bus.json`, `sh norun`): they are not Rust, and not its business.
#[allow(rustdoc::invalid_codeblock_attributes)]
#[doc = include_str!("../README.md")]
mod readme {}
