//! The routing table of one moment: the handlers that apply to this Singularity (with their
//! outputs resolved) and the validators that guard them. The controller builds a new table on
//! every change and swaps it in; deliveries already running keep the table they started with.

use crate::output::Output;
use crate::types::Encoder;
use crate::validator::{Denied, Validator};
use cloudevents::Event;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One handler that applies.
#[derive(Debug, Clone)]
pub struct Route {
    /// The CloudEventHandler's name.
    pub handler: String,
    /// Labels added as the `labels` extension.
    pub labels: BTreeMap<String, String>,
    /// The encoder.
    pub encoder: Encoder,
    /// The output's name.
    pub output_name: String,
    /// The output, when it exists and is valid.
    pub output: Option<Arc<Output>>,
}

/// The table.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Handlers that apply, by name.
    pub routes: Vec<Route>,
    /// Validators guarding them, in the order they are checked.
    pub validators: Vec<Validator>,
}

impl Routes {
    /// Checks `event` against every validator that guards one of the routes, in order.
    pub fn validate(&self, event: &Event) -> Result<(), Denied> {
        for validator in &self.validators {
            if validator.applies_to(self.routes.iter().map(|r| r.handler.as_str())) {
                validator.check(event)?;
            }
        }
        Ok(())
    }
}
