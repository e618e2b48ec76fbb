//! The stdout output: one JSON line per event.

use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Where stdout outputs write (the process's standard output, or a test's buffer); lines are
/// never interleaved.
#[derive(Clone)]
pub struct StdoutWriter(Arc<Mutex<Box<dyn Write + Send>>>);

impl std::fmt::Debug for StdoutWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StdoutWriter")
    }
}

impl Default for StdoutWriter {
    fn default() -> Self {
        StdoutWriter::new(Box::new(std::io::stdout()))
    }
}

impl StdoutWriter {
    /// Writes to `w`.
    pub fn new(w: Box<dyn Write + Send>) -> StdoutWriter {
        StdoutWriter(Arc::new(Mutex::new(w)))
    }

    /// Writes `record` as one line.
    pub fn write_record(&self, record: &Value) -> Result<(), String> {
        let mut line = serde_json::to_vec(record).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        w.write_all(&line)
            .and_then(|()| w.flush())
            .map_err(|e| format!("writing to stdout: {e}"))
    }
}
