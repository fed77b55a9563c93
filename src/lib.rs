//! wrapfix: explain and repair SSH lockouts caused by TCP Wrappers.
//!
//! The pipeline (DESIGN.md §1): [`syntax`] reads each table losslessly, [`eval`] gives
//! libwrap's verdict per flavour, [`detect`] names the lines that matter, and [`report`]
//! prints the result for people or as JSON.

pub mod accounts;
pub mod client;
pub mod eval;
pub mod flavor;
pub mod options;
pub mod pattern;
pub mod rootfs;
pub mod syntax;
pub mod tables;
pub mod analysis;
pub mod cli;
pub mod config;
pub mod detect;
pub mod error;
