//! The detector's gauges, served on the manager's `/metrics`.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The two gauges.
#[derive(Debug, Clone, Default)]
pub struct DetectorMetrics {
    /// Pods no Service selects.
    pub pods_without_service: Gauge,
    /// Services whose selector matches no Pod (grace period or not).
    pub services_without_pods: Gauge,
}

impl DetectorMetrics {
    /// The gauges, registered in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = DetectorMetrics::default();
        registry.register(
            "service_detector_pods_without_service",
            "Pods that no Service of their namespace selects",
            metrics.pods_without_service.clone(),
        );
        registry.register(
            "service_detector_services_without_pods",
            "Services whose non-empty selector matches no Pod",
            metrics.services_without_pods.clone(),
        );
        metrics
    }
}
