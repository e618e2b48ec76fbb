//! Work an operator finishes when the process stops, after the controllers have stopped:
//! eventhorizon's queue drain, for one. [`Operators::run`](crate::runner::Operators::run) (and
//! so `kubeforge up` and `kubeforge run`) awaits every hook before it returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

/// A hook's work.
pub type HookFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

type Hook = Box<dyn FnOnce() -> HookFuture + Send>;

/// The hooks operators registered while they were built (a manager extension).
#[derive(Default)]
pub struct ShutdownHooks(Mutex<Vec<Hook>>);

impl std::fmt::Debug for ShutdownHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHooks")
            .field("hooks", &self.len())
            .finish()
    }
}

impl ShutdownHooks {
    /// Registers `hook`, run once at shutdown.
    pub fn add(&self, hook: impl FnOnce() -> HookFuture + Send + 'static) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(hook));
    }

    /// How many hooks wait to run.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no hook waits to run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every hook, in the order they were added (each once).
    pub async fn run(&self) {
        let hooks = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for hook in hooks {
            hook().await;
        }
    }
}
