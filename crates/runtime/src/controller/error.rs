//! [`ReconcileError`]: what a failed reconcile returns, and whether to retry it.
//!
//! Like `anyhow::Error`, it is not itself a `std::error::Error`, so `?` converts any error
//! into it. An ordinary error is retried with the queue's per-key back-off; a
//! [terminal](ReconcileError::terminal) one is not (controller-runtime's
//! `reconcile.TerminalError`): retrying cannot help until the object changes, and a change
//! enqueues it anyway.

use std::error::Error as StdError;
use std::fmt;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A failed reconcile: the cause, and whether it is terminal.
///
/// ```
/// use kubeforge_runtime::controller::{Action, ReconcileError};
///
/// fn parse(replicas: &str) -> Result<Action, ReconcileError> {
///     let n: u32 = replicas.parse()?; // any std error converts: retried with back-off
///     if n > 100 {
///         // Retrying will not help until the user edits the object.
///         return Err(ReconcileError::terminal(format!("{n} replicas is above the limit 100")));
///     }
///     Ok(Action::await_change())
/// }
/// assert!(parse("x").unwrap_err().to_string().contains("invalid digit"));
/// assert!(parse("500").unwrap_err().is_terminal());
/// ```
pub struct ReconcileError {
    source: BoxError,
    terminal: bool,
}

/// A message as an error.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl ReconcileError {
    /// An error retried with back-off, from a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        ReconcileError {
            source: Box::new(Message(message.to_string())),
            terminal: false,
        }
    }

    /// An error that is not retried: the object is reconciled again only when it changes.
    /// `error` is an error or a message.
    pub fn terminal(error: impl Into<BoxError>) -> Self {
        ReconcileError {
            source: error.into(),
            terminal: true,
        }
    }

    /// Whether the error is terminal (not retried).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// The underlying error.
    pub fn source(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }

    /// The underlying error, owned; downcast it to find the cause's type.
    pub fn into_source(self) -> BoxError {
        self.source
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for ReconcileError {
    fn from(error: E) -> Self {
        ReconcileError {
            source: Box::new(error),
            terminal: false,
        }
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terminal {
            f.write_str("terminal error: ")?;
        }
        write!(f, "{}", self.source)?;
        let mut cause = self.source.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconcileError")
            .field("source", &self.source)
            .field("terminal", &self.terminal)
            .finish()
    }
}
