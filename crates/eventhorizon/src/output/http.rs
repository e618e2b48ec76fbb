//! The http output: POSTs each event as a structured CloudEvent
//! (`application/cloudevents+json`); any 2xx answer is a delivery.

use crate::settings::parse_go_duration;
use crate::types::HttpOutputSpec;
use bytes::Bytes;
use cloudevents::Event;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub(super) struct HttpSink {
    client: Client<HttpConnector, Full<Bytes>>,
    url: hyper::Uri,
    timeout: Duration,
}

impl HttpSink {
    pub(super) fn new(spec: &HttpOutputSpec) -> Result<HttpSink, String> {
        let url: hyper::Uri = spec
            .url
            .parse()
            .map_err(|e| format!("http.url {:?}: {e}", spec.url))?;
        if url.scheme_str() != Some("http") || url.authority().is_none() {
            return Err(format!(
                "http.url {:?}: want http://host[:port]/path",
                spec.url
            ));
        }
        let timeout = parse_go_duration(&spec.timeout).map_err(|e| format!("http.timeout: {e}"))?;
        Ok(HttpSink {
            client: Client::builder(TokioExecutor::new()).build_http(),
            url,
            timeout: if timeout.is_zero() {
                Duration::from_secs(3)
            } else {
                timeout
            },
        })
    }

    pub(super) async fn post(&self, event: &Event) -> Result<(), String> {
        let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let request = Request::post(self.url.clone())
            .header("content-type", "application/cloudevents+json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| format!("POST {} timed out after {:?}", self.url, self.timeout))?
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("POST {}: {}", self.url, response.status()))
        }
    }
}
