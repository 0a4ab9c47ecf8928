//! `waxseal completions` and `waxseal man`: shell completions and manual pages, both
//! generated from the command-line definitions, so they cannot drift from the parser.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

use crate::error::CliError;
use crate::io::Output;

/// `waxseal completions` arguments.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

/// `waxseal man` arguments.
#[derive(clap::Args)]
pub struct ManArgs {
    /// The directory to write the pages to (created if missing): `waxseal.1` and one page
    /// per subcommand (`waxseal-verify.1`, `waxseal-cert-verify.1`, ...).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Overwrite pages that exist (regular files only; nothing is written unless every
    /// page may be).
    #[arg(long)]
    force: bool,
}

/// Runs `waxseal completions`: the completion script for the shell, on standard output.
pub fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> Result<(), CliError> {
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    Output::prepare_with(None, false, false)?.write(&script)
}

/// Runs `waxseal man`: renders every page first, checks every target may be written,
/// then writes them (an existing page is refused without `--force`, and then nothing is
/// written).
pub fn man(args: ManArgs, mut cmd: clap::Command) -> Result<(), CliError> {
    // Building the whole tree names the subcommands `waxseal-verify` (the page's title)
    // and `waxseal verify` (its synopsis).
    cmd.build();
    let mut pages = Vec::new();
    render(&cmd, &mut pages)?;
    if !args.out_dir.is_dir() {
        std::fs::create_dir_all(&args.out_dir).map_err(|e| CliError::io(&args.out_dir, e))?;
    }
    let outputs = pages
        .iter()
        .map(|(name, _)| Output::prepare_with(Some(&args.out_dir.join(name)), args.force, false))
        .collect::<Result<Vec<_>, _>>()?;
    for (out, (_, page)) in outputs.iter().zip(&pages) {
        out.write(page)?;
    }
    Ok(())
}

/// Renders `cmd`'s page and those of its visible subcommands (not the generated `help`).
fn render(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> Result<(), CliError> {
    let man =
        clap_mangen::Man::new(cmd.clone()).source(concat!("waxseal ", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render(&mut page)
        .map_err(|e| CliError::io(Path::new(&man.get_filename()), e))?;
    pages.push((man.get_filename(), page));
    for sub in cmd.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            render(sub, pages)?;
        }
    }
    Ok(())
}
