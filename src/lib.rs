//! wrapfix: explain and repair SSH lockouts caused by TCP Wrappers.
//!
//! The pipeline (README, "How it works"): [`syntax`] reads each table losslessly, [`eval`] gives
//! libwrap's verdict per flavour, [`detect`] names the lines that matter, and [`report`]
//! prints the result for people or as JSON. [`run`] ties them together per mode.
//!
//! The project's own documents: `docs/semantics.md` (libwrap per flavour, as modelled),
//! `docs/json.md` with `docs/wrapfix.schema.json` (the JSON report), `docs/write-protocol.md`
//! (plans, change sets, writing and rollback).

pub mod cli;
pub mod config;
pub mod diagnose;
pub mod error;
pub mod eval;
pub mod fsops;
pub mod manpage;
pub mod model;
pub mod repair;
pub mod report;
pub mod rootfs;

use std::io::Write;

use config::{Action, Config};
use diagnose::analysis::Context;
use error::{Exit, Result};
use model::tables::Tables;

/// Run one invocation; returns the exit status.
pub fn run(cli: cli::Cli) -> Result<Exit> {
    if let Some(shell) = cli.completions {
        use clap::CommandFactory;
        let mut cmd = cli::Cli::command();
        write_out(|out| {
            clap_complete::generate(shell, &mut cmd, "wrapfix", out);
            Ok(())
        })?;
        return Ok(Exit::Ok);
    }
    let config = Config::from_cli(cli, &|k| std::env::var(k).ok())?;
    match config.mode {
        Action::Check => check(&config),
        Action::DryRun => repair::repair(&config, false),
        Action::Repair => repair::repair(&config, true),
        Action::Rollback { ref id, exact } => {
            repair::history::rollback(&config, id.as_deref(), exact)
        }
        Action::ListBackups => repair::history::list_backups(&config),
    }
}

pub(crate) fn load(config: &Config) -> Result<Tables> {
    Ok(Tables::load(&config.root))
}

/// Write to stdout through one buffer (a report for thousands of clients is many lines).
/// A closed or failing stdout ends the output, not the run: the work goes on and the exit
/// status still says what is true on disk (`wrapfix --yes … | head -1` applies the change
/// and exits 0; `--check | head -1` of a locked-out system exits 1).
pub(crate) fn write_out(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    if report::term::stdout_closed() {
        return Ok(());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Err(e) = f(&mut out).and_then(|()| out.flush()) {
        report::term::mark_stdout_closed();
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            report::term::warn(&format!("cannot write the report to stdout: {e}"));
        }
        // What is still buffered must not be written again when `out` is dropped.
        let _ = out.into_parts();
    }
    Ok(())
}

/// `--check`: verdicts and findings; exit 1 when any target is not granted.
fn check(config: &Config) -> Result<Exit> {
    let ctx = Context::from_config(config);
    let (analysis, _) = ctx.analyse_system(load(config)?);
    write_out(|out| {
        if config.json {
            let doc = report::json(config, &analysis, None, serde_json::Value::Null);
            doc.write(out)
        } else {
            report::human(out, config, &analysis)
        }
    })?;
    let exit = if analysis.all_granted() {
        Exit::Ok
    } else {
        Exit::LockedOut
    };
    // The process ends right after: freeing a verdict of 100,000 runs one by one costs
    // more than a tenth of an unnamed check of a ban list, and the kernel frees it at once.
    std::mem::forget(analysis);
    Ok(exit)
}
