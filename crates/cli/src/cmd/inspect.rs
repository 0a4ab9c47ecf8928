//! `waxseal inspect`.

use std::path::PathBuf;

use waxseal_envelope::{Envelope, inspect};

use crate::error::CliError;
use crate::io::read_input;

/// `waxseal inspect` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Envelope file ("-" or absent: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `waxseal inspect`.
pub fn run(args: Args) -> Result<(), CliError> {
    let bytes = read_input(args.input.as_deref())?;
    let env = Envelope::parse(&bytes)
        .map_err(|e| CliError::rejected("malformed", format!("malformed envelope: {e}")))?;
    let report = inspect::report(&env);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialise")
        );
    } else {
        print!("{report}");
    }
    Ok(())
}
