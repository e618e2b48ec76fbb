//! CloudEventOutputs: where handlers send events. One [`Output`] per resource and spec; a
//! changed spec builds a new one, and the old one finishes what it holds (its in-flight events
//! are written, or fail and are counted) before it goes away.

pub mod fluentd;
mod http;
mod stdout;

use crate::types::{CloudEventOutputSpec, OutputType};
use cloudevents::Event;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

pub use stdout::StdoutWriter;

/// An output's connection state, for its status.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<(bool, Option<String>)>,
}

impl Health {
    /// Records the connection state and the last error (kept until the next error).
    pub fn set_connected(&self, connected: bool, error: Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = connected;
        if error.is_some() {
            state.1 = error;
        }
    }

    /// `(connected, last error)`.
    pub fn get(&self) -> (bool, Option<String>) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

enum Sink {
    Fluentd(fluentd::Fluentd),
    Stdout(StdoutWriter),
    Http(Box<http::HttpSink>),
}

/// A live output.
pub struct Output {
    /// The CloudEventOutput's name.
    pub name: String,
    /// The spec it was built from.
    pub spec: CloudEventOutputSpec,
    /// Its connection state.
    pub health: Arc<Health>,
    retired: AtomicBool,
    sink: Sink,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("name", &self.name)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Output {
    /// Builds the output `name` from `spec` (starting its connection task for fluentd), or
    /// says what is wrong with the spec.
    pub fn new(
        name: &str,
        spec: &CloudEventOutputSpec,
        stdout: &StdoutWriter,
    ) -> Result<Arc<Output>, String> {
        let health = Arc::new(Health::default());
        let sink = match spec.r#type {
            OutputType::Fluentd => {
                let fluentd = spec
                    .fluentd
                    .as_ref()
                    .ok_or("type fluentd needs fluentd settings")?;
                let config = fluentd::Config::from_spec(fluentd)?;
                Sink::Fluentd(fluentd::Fluentd::start(config, health.clone()))
            }
            OutputType::Stdout => {
                health.set_connected(true, None);
                Sink::Stdout(stdout.clone())
            }
            OutputType::Http => {
                let http = spec.http.as_ref().ok_or("type http needs http.url")?;
                Sink::Http(Box::new(http::HttpSink::new(http)?))
            }
        };
        Ok(Arc::new(Output {
            name: name.to_string(),
            spec: spec.clone(),
            health,
            retired: AtomicBool::new(false),
            sink,
        }))
    }

    /// Marks the output deleted or replaced: deliveries stop retrying on it.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// Whether [`retire`](Self::retire) was called.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Sends one event (`record` is its encoding, `event` the labelled event itself).
    pub async fn send(&self, event: &Event, record: Value, at: SystemTime) -> Result<(), String> {
        let result = match &self.sink {
            Sink::Fluentd(f) => f.post(record, at).await,
            Sink::Stdout(s) => s.write_record(&record),
            Sink::Http(h) => h.post(event).await,
        };
        match &result {
            Ok(()) => self.health.set_connected(true, None),
            Err(e) if !matches!(self.sink, Sink::Fluentd(_)) => {
                self.health.set_connected(false, Some(e.clone()))
            }
            Err(_) => {}
        }
        result
    }
}
