//! citybrain: the one binary. A thin clap CLI; all logic lives in the library crates.

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "citybrain", version, about = "An open-source City Brain with a digital twin")]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the generated demo city live.
    Demo,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Command::Demo => Ok(()),
    }
}
