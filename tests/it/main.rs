//! Integration tests: one binary, one module per area.

mod cases;
mod check;
mod differential;
mod flavors;
mod manpage;
mod reader;
mod support;
