//! `strata`: the command-line interface.
//!
//! ```text
//! main.rs       parse (cli.rs) → settings.rs → commands/<command>.rs → output/ (printer)
//! cli.rs        clap definitions only
//! settings.rs   global options resolved into StoreOpts
//! commands/     one file per command: arguments in, engine calls, rows out
//! engine/       daemon-side logic the store lacks (filters, df, prune, ps, host facts)
//! opts/         parsers of option syntaxes (`--mount`, `-p`, `--env-file`)
//! output/       printer (every byte of output), Docker tables, units, templates, progress
//! error.rs      error → `Error: <message>` and exit status
//! ```
//!
//! Exit status: 0 on success, 1 when a command fails (Docker's `Error: ...`),
//! 125 for usage errors (unknown flag, missing argument), as the docker CLI.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod engine;
mod error;
mod opts;
mod output;
mod settings;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind as ClapErrorKind;

use crate::cli::{Cli, LogLevel};
use crate::output::Printer;
use crate::settings::Settings;

fn main() -> ExitCode {
    let mut printer = Printer::stdio();
    let code = run(std::env::args_os(), &mut printer);
    // A closed stdout at this point is not worth another message.
    let _ = printer.flush();
    ExitCode::from(code)
}

/// Parse `args`, run the command, report failures; returns the exit status.
fn run(args: impl IntoIterator<Item = OsString>, p: &mut Printer) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage(e, p),
    };
    init_tracing(cli.log_level);
    let settings = Settings::from_cli(&cli);
    let Some(command) = cli.command else {
        // `arg_required_else_help` makes clap print the help instead.
        return 0;
    };
    if let cli::Command::Monitor(m) = &command {
        // The monitor owns its stdio protocol; its status is the exit code.
        return strata_runtime::monitor::run(&settings.store, &m.container).clamp(0, 255) as u8;
    }
    match commands::run(command, &settings, p) {
        Ok(()) => 0,
        Err(e) => {
            let (message, code) = error::describe(&e);
            if let Some(m) = message {
                tracing::debug!("{e:?}");
                let _ = p.error(&m);
            }
            code
        }
    }
}

/// Help and version go to stdout with status 0; every other parse error to
/// stderr with the docker CLI's usage status, 125.
fn usage(e: clap::Error, p: &mut Printer) -> u8 {
    match e.kind() {
        ClapErrorKind::DisplayHelp
        | ClapErrorKind::DisplayVersion
        | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let text = if p.stdout_is_terminal() { e.render().ansi().to_string() } else { e.render().to_string() };
            let _ = p.out(&text);
            0
        }
        _ => {
            let text = if p.stderr_is_terminal() { e.render().ansi().to_string() } else { e.render().to_string() };
            let _ = p.err(&text);
            error::USAGE_EXIT
        }
    }
}

fn init_tracing(level: LogLevel) {
    let level = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(output::printer::log_stream)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_captured(args: &[&str]) -> (u8, String, String) {
        let (mut p, cap) = Printer::captured("");
        let code = run(args.iter().map(OsString::from), &mut p);
        drop(p);
        (code, cap.stdout(), cap.stderr())
    }

    #[test]
    fn usage_errors_exit_125_and_help_exits_0() {
        let (code, out, err) = run_captured(&["strata", "images", "--bogus"]);
        assert_eq!(code, 125);
        assert!(out.is_empty());
        assert!(err.contains("--bogus"), "{err}");
        let (code, out, _) = run_captured(&["strata", "images", "--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("List images"), "{out}");
        let (code, _, err) = run_captured(&["strata", "tag", "onlyone"]);
        assert_eq!(code, 125, "{err}");
    }

    #[test]
    fn version_needs_no_store() {
        let (code, out, _) = run_captured(&["strata", "version", "--format", "{{.Client.Version}}"]);
        assert_eq!(code, 0);
        assert_eq!(out, format!("{}\n", env!("CARGO_PKG_VERSION")));
    }
}
