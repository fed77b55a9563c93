//! Integration tests: one binary, one module per area.

mod ansible;
mod cases;
mod check;
mod confine;
mod differential;
mod flavors;
mod fsops;
mod fsops_faults;
mod hostile;
mod hostile_plan;
mod hostile_run;
mod hostile_sets;
mod hostile_write;
mod logs;
mod manpage;
mod pipeline;
mod reader;
mod repair;
mod rescue;
mod screens;
mod sshd_e2e;
mod support;
mod unknowns;
mod unnamed;
mod wrapped;
mod writers;
