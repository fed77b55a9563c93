//! wrapfix: explain and repair SSH lockouts caused by TCP Wrappers.
//!
//! The pipeline (DESIGN.md §1): [`syntax`] reads each table losslessly, [`eval`] gives
//! libwrap's verdict per flavour, [`detect`] names the lines that matter, and [`report`]
//! prints the result for people or as JSON. [`run`] ties them together per mode.

pub mod accounts;
pub mod analysis;
pub mod cli;
pub mod client;
pub mod config;
pub mod detect;
pub mod error;
pub mod eval;
pub mod flavor;
pub mod options;
pub mod pattern;
pub mod report;
pub mod rootfs;
pub mod scan;
pub mod syntax;
pub mod tables;

use std::io::Write;

use analysis::Context;
use config::{Config, Mode};
use error::{Error, Result, exit};
use tables::Tables;

/// Run one invocation; returns the exit status.
pub fn run(cli: cli::Cli) -> Result<i32> {
    let config = Config::from_cli(cli, &|k| std::env::var(k).ok())?;
    match config.mode {
        Mode::Check => check(&config),
        Mode::Repair | Mode::DryRun | Mode::Rollback { .. } | Mode::ListBackups => Err(Error::Usage(
            "only --check is available in this build: repair, --dry-run, --rollback and --list-backups are not implemented yet".into(),
        )),
    }
}

/// `--check`: verdicts and findings; exit 1 when any target is not granted.
fn check(config: &Config) -> Result<i32> {
    let ctx = Context::from_config(config);
    let tables = Tables::load(&config.root)
        .map_err(|e| Error::read("open the tables under", config.root.dir(), e))?;
    let analysis = ctx.analyse(tables);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if config.json {
        let doc = report::json(
            config,
            &analysis,
            serde_json::Value::Null,
            serde_json::Value::Null,
        );
        writeln!(out, "{doc:#}")
    } else {
        report::human(&mut out, config, &analysis)
    };
    written.map_err(|e| Error::read("write the report to", "stdout", e))?;
    Ok(if analysis.all_granted() {
        exit::OK
    } else {
        exit::LOCKED_OUT
    })
}
