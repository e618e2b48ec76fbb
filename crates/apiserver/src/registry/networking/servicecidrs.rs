//! ServiceCIDRs (networking.k8s.io/v1): the ranges Service cluster IPs come from, as
//! kube-apiserver 1.33 serves them with the MultiCIDRServiceAllocator. The server creates the
//! default one, `kubernetes`, with the service range at start ([`ensure_default`], upstream's
//! `defaultservicecidr` controller); the `servicecidrs` controller
//! (`controllers/servicecidrs.rs`) keeps their finalizer and `Ready` condition. Validation is
//! upstream's `ValidateServiceCIDR`/`ValidateServiceCIDRUpdate`: one or two CIDRs (one per IP
//! family), each valid and canonical, and never changed once set except by adding the second
//! family.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::rest::Rest;
use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::networking::v1::ServiceCIDR;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The default ServiceCIDR's name.
pub(crate) const DEFAULT_NAME: &str = "kubernetes";
/// The service range (kubeadm's default `--service-cluster-ip-range`).
pub(crate) const DEFAULT_CIDR: &str = "10.96.0.0/12";
/// The finalizer the `servicecidrs` controller keeps while IPAddresses depend on a ServiceCIDR.
pub(crate) const FINALIZER: &str = "networking.k8s.io/service-cidr-finalizer";
/// The message of the default ServiceCIDR's `Ready` condition as the server first sets it.
pub(crate) const DEFAULT_READY_MESSAGE: &str = "Kubernetes default Service CIDR is ready";

/// `servicecidrs`.
pub(crate) fn resource() -> ResourceType {
    entry("servicecidrs", "servicecidr", false)
        .status()
        .build::<ServiceCIDR>(ServiceCidrStrategy {
            typed: Typed::new().printer(&SERVICE_CIDR),
        })
}

/// The ServiceCIDR strategy.
struct ServiceCidrStrategy {
    typed: Typed<ServiceCIDR>,
}

impl Strategy for ServiceCidrStrategy {
    typed_basics!(typed, decode);

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        spec_causes(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = spec_causes(new);
        causes.extend(update_causes(new, old));
        causes
    }

    /// Upstream validates nothing but metadata on a status write.
    fn validate_status(&self, _obj: &Value) -> Vec<FieldCause> {
        Vec::new()
    }
}

/// A CIDR: the network address as bits, the prefix length and the address width (32 or 128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Prefix {
    /// The network address (host bits cleared).
    pub bits: u128,
    /// The prefix length.
    pub len: u32,
    /// 32 for IPv4, 128 for IPv6.
    pub width: u32,
}

/// An address as (bits, width).
pub(crate) fn ip_bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl Prefix {
    /// Parses `ip/len`, clearing host bits; None when it is no CIDR.
    pub fn parse(s: &str) -> Option<Prefix> {
        let (ip, len) = s.split_once('/')?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: u32 = len.parse().ok()?;
        let (bits, width) = ip_bits(ip.parse::<IpAddr>().ok()?);
        if len > width {
            return None;
        }
        let host = if width - len >= 128 {
            u128::MAX
        } else {
            (1u128 << (width - len)) - 1
        };
        Some(Prefix {
            bits: bits & !host,
            len,
            width,
        })
    }

    /// The canonical text (`10.96.0.0/12`).
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.addr(self.bits), self.len)
    }

    /// The address with these bits in this prefix's family.
    pub fn addr(&self, bits: u128) -> IpAddr {
        if self.width == 32 {
            IpAddr::V4(Ipv4Addr::from(bits as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }

    /// The highest address of the prefix.
    fn broadcast(&self) -> u128 {
        let host = if self.width - self.len >= 128 {
            u128::MAX
        } else {
            (1u128 << (self.width - self.len)) - 1
        };
        self.bits | host
    }

    /// Whether `ip` is inside the prefix (same family).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (bits, width) = ip_bits(ip);
        width == self.width && bits >= self.bits && bits <= self.broadcast()
    }

    /// Whether `other` lies inside this prefix.
    pub fn covers(&self, other: &Prefix) -> bool {
        other.width == self.width && other.len >= self.len && self.contains(other.addr(other.bits))
    }

    /// The first and last addresses Services may get, as upstream's allocator: never the
    /// network address, nor IPv4's broadcast address. None when there is none.
    pub fn usable(&self) -> Option<(u128, u128)> {
        let first = self.bits.checked_add(1)?;
        let last = if self.width == 32 {
            self.broadcast().checked_sub(1)?
        } else {
            self.broadcast()
        };
        (first <= last).then_some((first, last))
    }
}

/// A ServiceCIDR's CIDRs that parse.
pub(crate) fn prefixes(obj: &Value) -> Vec<Prefix> {
    strings(obj, "/spec/cidrs")
        .into_iter()
        .filter_map(Prefix::parse)
        .collect()
}

/// Whether a ServiceCIDR can be allocated from, as upstream's allocators decide: its `Ready`
/// condition is True or absent (no controller has looked yet), and it is not being deleted.
pub(crate) fn is_ready(obj: &Value) -> bool {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return false;
    }
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .is_none_or(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

/// Go's `%#v` of the spec, as `field.Invalid` shows it.
fn go_spec(obj: &Value) -> String {
    let cidrs: Vec<String> = strings(obj, "/spec/cidrs")
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    format!(
        "networking.ServiceCIDRSpec{{CIDRs:[]string{{{}}}}}",
        cidrs.join(", ")
    )
}

/// Upstream's strict `IsValidCIDR` of one CIDR at `field`.
fn cidr_causes(field: String, value: &str) -> Vec<FieldCause> {
    match Prefix::parse(value) {
        None => vec![FieldCause::invalid(
            field,
            &json!(value),
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )],
        Some(p) if p.canonical() != value => vec![FieldCause::invalid(
            field,
            &json!(value),
            format!("must be in canonical form ({:?})", p.canonical()),
        )],
        Some(_) => Vec::new(),
    }
}

/// Upstream's `ValidateServiceCIDR` (beyond metadata).
fn spec_causes(obj: &Value) -> Vec<FieldCause> {
    let cidrs = strings(obj, "/spec/cidrs");
    if cidrs.is_empty() {
        return vec![FieldCause::required(
            "spec.cidrs",
            "at least one CIDR required",
        )];
    }
    if cidrs.len() > 2 {
        return vec![FieldCause::invalid_shown(
            "spec.cidrs",
            &go_spec(obj),
            "may only hold up to 2 values",
        )];
    }
    if cidrs.len() == 2 {
        let families: Vec<Option<u32>> = cidrs
            .iter()
            .map(|c| Prefix::parse(c).map(|p| p.width))
            .collect();
        if families[0].is_none() || families[1].is_none() || families[0] == families[1] {
            return vec![FieldCause::invalid_shown(
                "spec.cidrs",
                &go_spec(obj),
                "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
            )];
        }
    }
    cidrs
        .iter()
        .enumerate()
        .flat_map(|(i, c)| cidr_causes(format!("spec.cidrs[{i}]"), c))
        .collect()
}

/// Upstream's `ValidateServiceCIDRUpdate`: the CIDRs never change, except that a single-stack
/// ServiceCIDR may gain the other family's as its second.
fn update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let (now, before) = (strings(new, "/spec/cidrs"), strings(old, "/spec/cidrs"));
    let immutable = |i: usize, v: &str| {
        FieldCause::invalid(format!("spec.cidrs[{i}]"), &json!(v), "field is immutable")
    };
    if now.len() == before.len() {
        return now
            .iter()
            .zip(&before)
            .enumerate()
            .filter(|(_, (n, o))| n != o)
            .map(|(i, (n, _))| immutable(i, n))
            .collect();
    }
    if before.len() == 1 && now.len() == 2 {
        return if now[0] == before[0] {
            Vec::new()
        } else {
            vec![immutable(0, now[0])]
        };
    }
    let shown: Vec<String> = now.iter().map(|c| format!("{c:?}")).collect();
    vec![FieldCause::invalid_shown(
        "spec.cidrs",
        &format!("[]string{{{}}}", shown.join(", ")),
        "field is immutable",
    )]
}

/// Creates the default ServiceCIDR `kubernetes` with the service range when it is missing,
/// and marks it `Ready` when no one has yet, as kube-apiserver's `defaultservicecidr`
/// controller does at start (before Services are allocated from it).
pub(crate) async fn ensure_default(rest: &Rest) -> Result<(), crate::status::ApiError> {
    let Some(rt) = rest
        .catalog
        .snapshot()
        .find("networking.k8s.io", "v1", "servicecidrs")
    else {
        return Ok(());
    };
    let opts = crate::rest::WriteOptions {
        field_manager: "kubernetes-service-cidr-controller".into(),
        ..crate::rest::WriteOptions::default()
    };
    let current = match rest.get_value(&rt, None, DEFAULT_NAME) {
        Ok(v) => v,
        Err(_) => {
            let body = json!({"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
                "metadata": {"name": DEFAULT_NAME}, "spec": {"cidrs": [DEFAULT_CIDR]}});
            match rest.create(&rt, None, body, &opts).await {
                Ok(written) => written.object,
                // Another server sharing the storage made it first.
                Err(e) if e.code == 409 => rest.get_value(&rt, None, DEFAULT_NAME)?,
                Err(e) => return Err(e),
            }
        }
    };
    let ready = current
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .and_then(|c| c.get("status").and_then(Value::as_str))
        .is_some_and(|s| s != "Unknown");
    if ready {
        return Ok(());
    }
    let mut updated = current;
    updated["status"] = json!({"conditions": [{
        "type": "Ready", "status": "True", "lastTransitionTime": crate::rest::now(),
        "reason": "", "message": DEFAULT_READY_MESSAGE}]});
    match rest
        .update(&rt, None, DEFAULT_NAME, updated, &opts, Some("status"))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The strings of the list at `pointer`.
fn strings<'a>(o: &'a Value, pointer: &str) -> Vec<&'a str> {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// ServiceCIDR: NAME CIDRS AGE.
pub(crate) const SERVICE_CIDR: Printer = Printer {
    columns: || vec![name_column(), col("CIDRs", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(strings(o, "/spec/cidrs").join(",")),
            json!(age(o, now)),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_bound() {
        let p = Prefix::parse("10.96.0.0/12").expect("parses");
        assert_eq!(p.canonical(), "10.96.0.0/12");
        assert!(p.contains("10.111.255.255".parse().expect("ip")));
        assert!(!p.contains("10.112.0.0".parse().expect("ip")));
        let (first, last) = p.usable().expect("usable");
        assert_eq!(p.addr(first).to_string(), "10.96.0.1");
        assert_eq!(p.addr(last).to_string(), "10.111.255.254");
        assert_eq!(
            Prefix::parse("10.96.0.1/12").map(|p| p.canonical()),
            Some("10.96.0.0/12".into())
        );
        assert!(Prefix::parse("10.96.0.0/33").is_none());
        let v6 = Prefix::parse("2001:db8::/64").expect("v6");
        assert_eq!(
            v6.addr(v6.usable().expect("usable").1).to_string(),
            "2001:db8::ffff:ffff:ffff:ffff"
        );
    }

    #[test]
    fn validation_as_upstream() {
        let cidr = |cidrs: Value| json!({"spec": {"cidrs": cidrs}});
        assert!(spec_causes(&cidr(json!(["10.96.0.0/12"]))).is_empty());
        assert!(spec_causes(&cidr(json!(["10.96.0.0/12", "fd00::/108"]))).is_empty());
        let m = |c: Vec<FieldCause>| c.into_iter().map(|c| c.message).collect::<Vec<_>>();
        assert_eq!(
            m(spec_causes(&cidr(json!([])))),
            ["spec.cidrs: Required value: at least one CIDR required"]
        );
        assert_eq!(
            m(spec_causes(&cidr(json!(["10.96.0.1/12"])))),
            [
                r#"spec.cidrs[0]: Invalid value: "10.96.0.1/12": must be in canonical form ("10.96.0.0/12")"#
            ]
        );
        assert_eq!(
            m(spec_causes(&cidr(json!(["10.0.0.0/8", "11.0.0.0/8"])))),
            [
                r#"spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"10.0.0.0/8", "11.0.0.0/8"}}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"#
            ]
        );
        assert_eq!(
            m(update_causes(
                &cidr(json!(["10.0.0.0/8"])),
                &cidr(json!(["10.96.0.0/12"]))
            )),
            [r#"spec.cidrs[0]: Invalid value: "10.0.0.0/8": field is immutable"#]
        );
        assert!(
            update_causes(
                &cidr(json!(["10.96.0.0/12", "fd00::/108"])),
                &cidr(json!(["10.96.0.0/12"]))
            )
            .is_empty()
        );
    }
}
