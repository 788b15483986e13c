//! placeholder

use super::CommandSpec;

pub static COMMANDS: &[CommandSpec] = &[];
