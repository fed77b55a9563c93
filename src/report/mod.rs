//! What wrapfix prints: the human report and the JSON document (docs/json.md).

pub mod diff;
pub mod screen;
pub mod term;

use std::io::{self, IsTerminal, Write};

use crate::model::bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::config::Strategy;
use crate::diagnose::analysis::{Analysis, TargetVerdict};
use crate::diagnose::detect::{Finding, Severity};
use crate::diagnose::explain;
use crate::eval::{Access, Fate, RuleRef};
use crate::model::syntax::Document;
use crate::model::tables::{Role, Tables};
use crate::repair::plan::{EditKind, Plan};

mod human;
mod json;
mod plan;
mod style;

pub use human::*;
pub use json::*;
pub use plan::*;
pub use style::*;

#[cfg(test)]
mod tests;
