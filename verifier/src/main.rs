//! `verifier`: see `verifier --help` and the crate docs of `verifier`.
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use verifier::cli::{Cli, Command};
use verifier::{Config, Error, Verdict};

fn main() -> ExitCode {
    match start() {
        Ok(Verdict::Pass) => ExitCode::SUCCESS,
        Ok(Verdict::Fail) => ExitCode::from(1),
        // Nothing proven lost, but events still on their way: neither a pass nor a failure.
        Ok(Verdict::Incomplete) => ExitCode::from(3),
        Err(e) => {
            eprintln!("verifier: {e}");
            ExitCode::from(2)
        }
    }
}

fn start() -> Result<Verdict, Error> {
    let cli = Cli::parse();
    if let Command::SoakReport(a) = &cli.command {
        // Files in, files out: no service, no runtime.
        return Ok(verifier::soak::report(&a.dir)?);
    }
    let config = Config::from_cli(cli, std::io::stdout().is_terminal())?;
    if matches!(config.command, verifier::config::Command::Serve(_)) {
        // The daemon follows run after run for days: two arenas and a fixed mmap threshold,
        // before any thread starts, and each finished run's memory given back
        // (daemon::on_ended) keep it flat.
        memory::long_running();
    }
    verifier::logging::init(&config.log)?;
    let runtime = tokio::runtime::Runtime::new().map_err(Error::Runtime)?;
    // Ctrl-C (SIGINT) or SIGTERM: either starts the one shutdown path.
    runtime.block_on(verifier::run::run(config, telemetry::shutdown::signal()))
}
