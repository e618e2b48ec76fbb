//! The in-memory medium: nothing survives the process. For tests and throwaway servers.

use super::{Change, Loaded, Storage};

/// Keeps nothing; the store's index is the only copy.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryStorage;

impl Storage for MemoryStorage {
    fn load(&self) -> std::io::Result<Loaded> {
        Ok(Loaded::default())
    }

    fn commit(&self, _changes: &[Change], _resource_version: u64) -> std::io::Result<()> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
