//! Predicates: which informer events may enqueue a reconcile (controller-runtime's
//! `predicate` package).
//!
//! A predicate sees the metadata of the object(s) an event is about, so one predicate serves
//! every watched kind. Creates, deletes and tombstones pass the built-in predicates (as
//! upstream's); they judge updates only. Combine with [`Predicate::and`], [`Predicate::or`],
//! [`Predicate::not`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::fmt;
use std::sync::Arc;

/// The event a predicate judges.
#[derive(Debug, Clone, Copy)]
pub enum ObjectEvent<'a> {
    /// The object appeared in the cache.
    Create(&'a ObjectMeta),
    /// The object changed from `old` to `new` (on a resync they are the same object).
    Update {
        /// The cached state before.
        old: &'a ObjectMeta,
        /// The new state.
        new: &'a ObjectMeta,
    },
    /// The object left the cache.
    Delete(&'a ObjectMeta),
}

/// A filter on events; cheap to clone.
///
/// ```
/// use kubeforge_runtime::controller::predicates::{annotations_changed, generation_changed, labels_changed};
/// use kubeforge_runtime::controller::{ObjectEvent, Predicate};
/// # use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
///
/// // Spec changes, or label changes, but not status-only updates:
/// let filter = generation_changed().or(labels_changed());
/// // Creates, deletes, and updates that leave the annotations alone:
/// let other = Predicate::on_update(|old, new| old.annotations == new.annotations);
/// // Not `annotations_changed().not()`: `not` inverts every event (as upstream's
/// // `predicate.Not`), so that one would also drop creates and deletes.
/// # let meta = ObjectMeta::default();
/// assert!(other.matches(&ObjectEvent::Create(&meta)));
/// assert!(!annotations_changed().not().matches(&ObjectEvent::Create(&meta)));
/// ```
#[derive(Clone)]
pub struct Predicate {
    test: Arc<dyn Fn(&ObjectEvent<'_>) -> bool + Send + Sync>,
}

impl fmt::Debug for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Predicate")
    }
}

impl Predicate {
    /// A predicate from a function of the event.
    pub fn new(test: impl Fn(&ObjectEvent<'_>) -> bool + Send + Sync + 'static) -> Self {
        Predicate {
            test: Arc::new(test),
        }
    }

    /// A predicate judging updates with `test(old, new)` and passing creates and deletes.
    pub fn on_update(
        test: impl Fn(&ObjectMeta, &ObjectMeta) -> bool + Send + Sync + 'static,
    ) -> Self {
        Predicate::new(move |event| match event {
            ObjectEvent::Update { old, new } => test(old, new),
            ObjectEvent::Create(_) | ObjectEvent::Delete(_) => true,
        })
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &ObjectEvent<'_>) -> bool {
        (self.test)(event)
    }

    /// Passes what both pass.
    #[must_use]
    pub fn and(self, other: Predicate) -> Predicate {
        Predicate::new(move |e| self.matches(e) && other.matches(e))
    }

    /// Passes what either passes.
    #[must_use]
    pub fn or(self, other: Predicate) -> Predicate {
        Predicate::new(move |e| self.matches(e) || other.matches(e))
    }

    /// Passes what this one rejects — every event, creates and deletes included (upstream's
    /// `predicate.Not`). To invert only the judgement of updates, write the opposite test
    /// with [`Predicate::on_update`].
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Predicate {
        Predicate::new(move |e| !self.matches(e))
    }
}

/// The built-in predicates.
pub mod predicates {
    use super::Predicate;

    /// Updates that changed `metadata.generation` (the spec, for kinds with a status
    /// subresource): status-only updates and resyncs are filtered out.
    pub fn generation_changed() -> Predicate {
        Predicate::on_update(|old, new| old.generation != new.generation)
    }

    /// Updates that changed `metadata.resourceVersion`: filters out resyncs and relists that
    /// found the object unchanged.
    pub fn resource_version_changed() -> Predicate {
        Predicate::on_update(|old, new| old.resource_version != new.resource_version)
    }

    /// Updates that changed the labels.
    pub fn labels_changed() -> Predicate {
        Predicate::on_update(|old, new| old.labels != new.labels)
    }

    /// Updates that changed the annotations.
    pub fn annotations_changed() -> Predicate {
        Predicate::on_update(|old, new| old.annotations != new.annotations)
    }
}

#[cfg(test)]
mod tests {
    use super::predicates::*;
    use super::*;

    fn meta(generation: i64, rv: &str) -> ObjectMeta {
        ObjectMeta {
            generation: Some(generation),
            resource_version: Some(rv.into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn built_ins_judge_updates_and_pass_the_rest() {
        let (a, b, c) = (meta(1, "1"), meta(1, "2"), meta(2, "3"));
        let upd = |old, new| ObjectEvent::Update { old, new };
        assert!(!generation_changed().matches(&upd(&a, &b)));
        assert!(generation_changed().matches(&upd(&b, &c)));
        assert!(resource_version_changed().matches(&upd(&a, &b)));
        assert!(!resource_version_changed().matches(&upd(&a, &a)));
        assert!(generation_changed().matches(&ObjectEvent::Create(&a)));
        assert!(generation_changed().matches(&ObjectEvent::Delete(&a)));
        let mut labelled = a.clone();
        labelled.labels = Some([("x".to_string(), "y".to_string())].into());
        assert!(labels_changed().matches(&upd(&a, &labelled)));
        assert!(!annotations_changed().matches(&upd(&a, &labelled)));
    }

    #[test]
    fn combinators() {
        let (a, b) = (meta(1, "1"), meta(1, "2"));
        let e = ObjectEvent::Update { old: &a, new: &b };
        assert!(
            !generation_changed()
                .and(resource_version_changed())
                .matches(&e)
        );
        assert!(
            generation_changed()
                .or(resource_version_changed())
                .matches(&e)
        );
        assert!(generation_changed().not().matches(&e));
        assert!(!generation_changed().not().matches(&ObjectEvent::Create(&a)));
    }
}
