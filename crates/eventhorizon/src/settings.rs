//! A Singularity's spec resolved into what the router runs with: the original's defaults for
//! values `<= 0`, Go duration strings parsed, and the retry backoff.

use crate::nats::NatsSettings;
use crate::types::{
    DEFAULT_BACKLOG, DEFAULT_MAX_RETRY, DEFAULT_MAX_RETRY_WAIT, DEFAULT_METRICS_PATH,
    DEFAULT_METRICS_PORT, DEFAULT_PORT, DEFAULT_RETRY_WAIT, SingularitySpec, TransportName,
};
use std::time::Duration;

/// How often a failed delivery is tried, and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failed attempt.
    pub wait: Duration,
    /// Cap on any wait.
    pub max_wait: Duration,
}

impl Retry {
    /// The wait after failed attempt `attempt` (1-based): `wait * 1.5^(attempt-1)`, capped at
    /// `max_wait`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1.5f64.powi(attempt.saturating_sub(1).min(1000) as i32);
        let millis = self.wait.as_millis() as f64 * factor;
        let capped = millis.min(self.max_wait.as_millis() as f64);
        Duration::from_millis(capped as u64)
    }
}

/// What the router runs with for its Singularity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Port of the HTTP ingest (0: any free port; only the engine's callers use 0). With the
    /// NATS transport it serves only `/healthz` and `/readyz`.
    pub port: u16,
    /// The NATS transport's server and subject (`None`: HTTP ingest).
    pub nats: Option<NatsSettings>,
    /// Answer 200 instead of 202.
    pub use_status_code_ok: bool,
    /// Enforce validators at ingest.
    pub validation: bool,
    /// Metrics port and path, when served.
    pub metrics: Option<(u16, String)>,
    /// Queue capacity.
    pub backlog: usize,
    /// Delivery retries per handler.
    pub retry: Retry,
}

/// `value`, or `default` when `value <= 0`.
pub fn positive_or(value: i64, default: i64) -> i64 {
    if value <= 0 { default } else { value }
}

impl Settings {
    /// The settings of `spec`, or why it cannot run.
    pub fn from_spec(spec: &SingularitySpec) -> Result<Settings, String> {
        let nats = match (&spec.transport.name, &spec.transport.nats) {
            (TransportName::Http, _) => None,
            (TransportName::Nats, Some(n)) if !n.server.is_empty() && !n.subject.is_empty() => {
                Some(NatsSettings {
                    server: n.server.clone(),
                    subject: n.subject.clone(),
                })
            }
            (TransportName::Nats, _) => {
                return Err("transport nats needs nats.server and nats.subject".into());
            }
        };
        let port = |p: i32, default: i32| -> Result<u16, String> {
            u16::try_from(if p <= 0 { default } else { p })
                .map_err(|_| format!("port {p} is out of range"))
        };
        let metrics = if spec.metrics.enabled {
            let path = if spec.metrics.path.is_empty() {
                DEFAULT_METRICS_PATH.to_string()
            } else {
                spec.metrics.path.clone()
            };
            Some((port(spec.metrics.port, DEFAULT_METRICS_PORT)?, path))
        } else {
            None
        };
        let max_attempts = positive_or(spec.max_retry, DEFAULT_MAX_RETRY).min(u32::MAX as i64);
        Ok(Settings {
            port: port(spec.transport.http.port, DEFAULT_PORT)?,
            nats,
            use_status_code_ok: spec.transport.http.use_status_code_ok,
            validation: spec.validation,
            metrics,
            backlog: positive_or(spec.backlog, DEFAULT_BACKLOG) as usize,
            retry: Retry {
                max_attempts: max_attempts as u32,
                wait: Duration::from_millis(positive_or(spec.retry_wait, DEFAULT_RETRY_WAIT) as u64),
                max_wait: Duration::from_millis(positive_or(
                    spec.max_retry_wait,
                    DEFAULT_MAX_RETRY_WAIT,
                ) as u64),
            },
        })
    }
}

/// Parses a Go duration string (`300ms`, `1.5h`, `2h45m`, `0`).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?} (want a Go duration such as 3s or 250ms)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    if !total.is_finite() || total > 1e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_go_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "3", "s", "3x", "-1s", "1..2s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_grows_by_half_and_is_capped() {
        let retry = Retry {
            max_attempts: 25,
            wait: Duration::from_millis(500),
            max_wait: Duration::from_millis(65_000),
        };
        let waits: Vec<u64> = (1..=4).map(|i| retry.delay(i).as_millis() as u64).collect();
        assert_eq!(waits, [500, 750, 1125, 1687]);
        assert_eq!(retry.delay(20), Duration::from_millis(65_000));
    }

    #[test]
    fn non_positive_values_mean_the_defaults() {
        let spec: SingularitySpec = serde_json::from_value(serde_json::json!({
            "backlog": 0, "maxRetry": -1, "retryWait": 0, "maxRetryWait": 0,
            "transport": {"http": {"port": 0}}, "metrics": {"port": -5}
        }))
        .unwrap();
        let s = Settings::from_spec(&spec).unwrap();
        assert_eq!(s.port, 1257);
        assert_eq!(s.metrics, Some((1258, "/metrics".into())));
        assert_eq!(s.backlog, 8192);
        assert_eq!(s.retry.max_attempts, 25);
        assert_eq!(s.retry.wait, Duration::from_millis(500));
        assert_eq!(s.retry.max_wait, Duration::from_millis(65_000));
    }
}
