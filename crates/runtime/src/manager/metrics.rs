//! The metrics a manager serves on `/metrics`: one registry with the controller and work queue
//! families registered once. Managers in one process can share them
//! ([`ManagerBuilder::metrics`](super::ManagerBuilder::metrics)), so several managers — each
//! with its own client, as `kubeforge up` runs every operator under its own ServiceAccount —
//! answer one `/metrics` with every controller's series, each family written once.

use crate::controller::ControllerMetrics;
use prometheus_client::registry::Registry;
use std::ops::DerefMut;
use std::sync::{Arc, Mutex, PoisonError};

/// A registry and the controller families registered in it; cloning shares both.
#[derive(Clone)]
pub struct ManagerMetrics {
    registry: Arc<Mutex<Registry>>,
    controllers: ControllerMetrics,
}

impl Default for ManagerMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let controllers = ControllerMetrics::new(&mut registry);
        ManagerMetrics {
            registry: Arc::new(Mutex::new(registry)),
            controllers,
        }
    }
}

impl std::fmt::Debug for ManagerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerMetrics").finish_non_exhaustive()
    }
}

impl ManagerMetrics {
    /// The registry, locked: register metrics through it (a family registered twice is
    /// written twice, so register each once per shared registry).
    pub fn registry(&self) -> impl DerefMut<Target = Registry> + '_ {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The controller and work queue families the controllers record into.
    pub fn controllers(&self) -> &ControllerMetrics {
        &self.controllers
    }
}
