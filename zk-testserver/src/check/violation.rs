//! What a checker reports when a history breaks a promise.

use super::history::HistoryOp;
use std::fmt;

/// A broken promise, with the operations that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The checker that found it.
    pub checker: &'static str,
    /// What is wrong.
    pub message: String,
    /// The operations involved (an excerpt of the history).
    pub ops: Vec<HistoryOp>,
}

impl Violation {
    /// A violation found by `checker`.
    pub fn new(checker: &'static str, message: impl Into<String>) -> Violation {
        Violation {
            checker,
            message: message.into(),
            ops: Vec::new(),
        }
    }

    /// Adds operations to the excerpt (kept in history order, without
    /// duplicates, at most 40).
    pub fn with_ops<'a>(mut self, ops: impl IntoIterator<Item = &'a HistoryOp>) -> Violation {
        for op in ops {
            if !self.ops.iter().any(|o| o.id == op.id) {
                self.ops.push(op.clone());
            }
        }
        self.ops.sort_by_key(|o| o.id);
        self.ops.truncate(40);
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[{}] {}", self.checker, self.message)?;
        for op in &self.ops {
            writeln!(f, "    {op}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}
