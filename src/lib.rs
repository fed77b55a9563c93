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
pub mod diff;
pub mod error;
pub mod eval;
pub mod flavor;
pub mod logs;
pub mod manpage;
pub mod options;
pub mod pattern;
pub mod plan;
pub mod prompt;
pub mod report;
pub mod rootfs;
pub mod scan;
pub mod syntax;
pub mod tables;
pub mod wrapped;
pub mod writers;

use std::io::Write;

use analysis::Context;
use cli::Strategy;
use config::{Config, Mode};
use error::{Error, Result, exit};
use tables::Tables;

/// Run one invocation; returns the exit status.
pub fn run(cli: cli::Cli) -> Result<i32> {
    if let Some(shell) = cli.completions {
        use clap::CommandFactory;
        let mut cmd = cli::Cli::command();
        write_out(|out| {
            clap_complete::generate(shell, &mut cmd, "wrapfix", out);
            Ok(())
        })?;
        return Ok(exit::OK);
    }
    let config = Config::from_cli(cli, &|k| std::env::var(k).ok())?;
    match config.mode {
        Mode::Check => check(&config),
        Mode::DryRun => repair(&config, false),
        Mode::Repair => repair(&config, true),
        Mode::Rollback { .. } | Mode::ListBackups => Err(Error::Usage(
            "--rollback and --list-backups are not implemented yet".into(),
        )),
    }
}

fn load(config: &Config) -> Result<Tables> {
    Tables::load(&config.root)
        .map_err(|e| Error::read("open the tables under", config.root.dir(), e))
}

/// Write to stdout through one buffer (a report for thousands of clients is many lines).
fn write_out(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    f(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| Error::read("write the report to", "stdout", e))
}

/// Repair (`apply`) or `--dry-run`: report, plan, verify, diff; then ask and apply.
fn repair(config: &Config, apply: bool) -> Result<i32> {
    let ctx = Context::from_config(config);
    let before = ctx.analyse(load(config)?);
    let strategy = config.strategy.unwrap_or(if ctx.clients.is_empty() {
        Strategy::Comment
    } else {
        Strategy::Allow
    });
    let id = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let outcome = plan::make(&ctx, &before, strategy, &id);
    if config.json {
        let plan_value = match &outcome {
            plan::Outcome::Plan(p) => report::plan_json(p, &before.tables),
            plan::Outcome::NothingToDo => {
                serde_json::json!({"strategy": null, "edits": [], "nothing_to_do": true})
            }
            plan::Outcome::Impossible(why) => serde_json::json!({"edits": [], "impossible": why}),
        };
        let doc = report::json(config, &before, plan_value, serde_json::Value::Null);
        write_out(|out| writeln!(out, "{doc:#}"))?;
    } else {
        write_out(|out| {
            report::human(out, config, &before)?;
            match &outcome {
                plan::Outcome::Plan(p) => report::plan_human(out, config, p, &before.tables),
                plan::Outcome::NothingToDo => {
                    writeln!(out, "\nNothing to do: every target is granted.")
                }
                plan::Outcome::Impossible(why) => {
                    writeln!(out, "\nNo safe change to offer: {why}.")
                }
            }
        })?;
    }
    let plan = match outcome {
        plan::Outcome::NothingToDo => return Ok(exit::OK),
        plan::Outcome::Impossible(_) => return Ok(exit::LOCKED_OUT),
        plan::Outcome::Plan(p) => p,
    };
    if !apply {
        return Ok(exit::LOCKED_OUT);
    }
    if !config.yes {
        if !prompt::can_ask() {
            eprintln!(
                "wrapfix: no terminal to ask on: nothing changed; run again with --yes to apply this change"
            );
            return Ok(exit::LOCKED_OUT);
        }
        if !prompt::confirm("Apply this change?") {
            eprintln!("wrapfix: nothing changed");
            return Ok(exit::LOCKED_OUT);
        }
    }
    apply_plan(config, &ctx, &before, &plan, &id)
}

/// `--check`: verdicts and findings; exit 1 when any target is not granted.
fn check(config: &Config) -> Result<i32> {
    let ctx = Context::from_config(config);
    let tables = Tables::load(&config.root)
        .map_err(|e| Error::read("open the tables under", config.root.dir(), e))?;
    let analysis = ctx.analyse(tables);
    write_out(|out| {
        if config.json {
            let doc = report::json(
                config,
                &analysis,
                serde_json::Value::Null,
                serde_json::Value::Null,
            );
            writeln!(out, "{doc:#}")
        } else {
            report::human(out, config, &analysis)
        }
    })?;
    Ok(if analysis.all_granted() {
        exit::OK
    } else {
        exit::LOCKED_OUT
    })
}

/// Write the plan: backup, atomic write, verify on disk.
fn apply_plan(
    _config: &Config,
    _ctx: &Context,
    _before: &analysis::Analysis,
    _plan: &plan::Plan,
    _id: &str,
) -> Result<i32> {
    Err(Error::Unsafe(
        "applying changes is not implemented yet: nothing changed".into(),
    ))
}
