//! kube-apiserver's IP and CIDR CEL library (`k8s.io/apiserver/pkg/cel/library/ip.go`,
//! `cidr.go`), where kube-cel's version departs from it.
//!
//! kube-cel provides the values (`net.IP`, `net.CIDR`) and every member function; what this file
//! changes is parsing, to Go's `netip` rules, and the parse errors, to upstream's wording:
//! - a CIDR's IPv4 octets and its prefix length may not have leading zeros (`010.0.0.0/8`,
//!   `10.0.0.0/08` are not CIDRs; kube-cel's parser accepts both);
//! - `ip()`, `cidr()` and the string forms of `containsCIDR` fail with upstream's messages
//!   (`IP Address "x" parse error during conversion from string: ...`, `network address parse
//!   error during conversion from string: ...`, `IPv4-mapped IPv6 address "..." is not allowed`,
//!   `IP address "..." with zone value is not allowed`). The innermost netip detail is given for
//!   the CIDR shapes (`no '/'`, `bad bits after slash`, `prefix length out of range`); for a
//!   malformed address it is netip's generic `unable to parse IP`.
//!
//! A value that passes is handed to kube-cel's own function (evaluated in a context holding only
//! kube-cel's library), so the values and member functions stay kube-cel's.

use kube_cel::KubeCelExt;
use kube_cel::cel::extractors::{Arguments, This};
use kube_cel::cel::parser::{Expression, Parser};
use kube_cel::cel::{Context, ExecutionError, FunctionContext, Value as Cel};
use std::net::IpAddr;
use std::sync::Arc;

/// Registers the overrides on `ctx` (after kube-cel's library).
pub fn register(ctx: &mut Context<'_>) {
    ctx.add_function("isCIDR", is_cidr);
    ctx.add_function("cidr", cidr);
    ctx.add_function("ip", ip);
    ctx.add_function("containsCIDR", contains_cidr);
}

struct Library {
    ctx: Context<'static>,
    cidr: Expression,
    ip: Expression,
    member_ip: Expression,
    contains_cidr: Expression,
}

thread_local! {
    /// kube-cel's library alone, and the calls delegated to it.
    static KUBE_CEL: Library = {
        let mut ctx = Context::default();
        ctx.register_all();
        let parse = |src: &str| Parser::new().parse(src).expect("a fixed expression parses");
        Library {
            ctx,
            cidr: parse("cidr(x)"),
            ip: parse("ip(x)"),
            member_ip: parse("x.ip()"),
            contains_cidr: parse("t.containsCIDR(x)"),
        }
    };
}

fn delegate(
    pick: fn(&Library) -> &Expression,
    vars: &[(&str, Cel)],
) -> Result<Cel, ExecutionError> {
    KUBE_CEL.with(|lib| {
        let mut scope = lib.ctx.new_inner_scope();
        for (name, value) in vars {
            scope.add_variable_from_value(*name, value.clone());
        }
        Cel::resolve(pick(lib), &scope)
    })
}

/// Go's `netip.ParseAddr` for what Rust's parser also accepts (both refuse leading zeros in
/// IPv4 octets); a zone is split off, as netip accepts one on IPv6 addresses.
fn parse_addr(text: &str) -> Result<(IpAddr, bool), String> {
    let (address, zone) = match text.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (text, None),
    };
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if zone.is_some_and(|z| !z.is_empty()) => Ok((IpAddr::V6(v6), true)),
        Ok(parsed) if zone.is_none() => Ok((parsed, false)),
        _ => Err(format!("ParseAddr({text:?}): unable to parse IP")),
    }
}

fn is_4in6(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}

/// Upstream's `parseIPAddr`: the error message `ip()` fails with, if `text` is not an address.
fn check_ip(text: &str) -> Result<(), String> {
    let (address, zoned) = parse_addr(text).map_err(|e| {
        format!("IP Address {text:?} parse error during conversion from string: {e}")
    })?;
    if zoned {
        return Err(format!(
            "IP address {text:?} with zone value is not allowed"
        ));
    }
    if is_4in6(address) {
        return Err(format!("IPv4-mapped IPv6 address {text:?} is not allowed"));
    }
    Ok(())
}

/// Go's `netip.ParsePrefix`, as its error text.
fn parse_prefix(text: &str) -> Result<IpAddr, String> {
    let fail = |detail: String| Err(format!("netip.ParsePrefix({text:?}): {detail}"));
    let Some((address, bits)) = text.rsplit_once('/') else {
        return fail("no '/'".into());
    };
    let address = match parse_addr(address) {
        Ok((_, true)) => return fail("IPv6 zones cannot be present in a prefix".into()),
        Ok((address, false)) => address,
        Err(e) => return fail(e),
    };
    if bits.is_empty()
        || !bits.bytes().all(|b| b.is_ascii_digit())
        || (bits.len() > 1 && bits.starts_with('0'))
    {
        return fail(format!("bad bits after slash: {bits:?}"));
    }
    let max = if address.is_ipv4() { 32 } else { 128 };
    if bits.parse::<u32>().map_or(true, |b| b > max) {
        return fail("prefix length out of range".into());
    }
    Ok(address)
}

/// Upstream's `parseCIDR`: the error message `cidr()` fails with, if `text` is not a CIDR.
fn check_cidr(text: &str) -> Result<(), String> {
    const CONTEXT: &str = "network address parse error during conversion from string";
    let address = parse_prefix(text).map_err(|e| format!("{CONTEXT}: {CONTEXT}: {e}"))?;
    if is_4in6(address) {
        return Err(format!(
            "{CONTEXT}: IPv4-mapped IPv6 address {text:?} is not allowed"
        ));
    }
    Ok(())
}

/// `isCIDR(<string>) -> bool`.
fn is_cidr(text: Arc<String>) -> bool {
    check_cidr(&text).is_ok()
}

/// `cidr(<string>) -> net.CIDR`.
fn cidr(ftx: &FunctionContext, text: Arc<String>) -> Result<Cel, ExecutionError> {
    check_cidr(&text).map_err(|e| ftx.error(e))?;
    delegate(|l| &l.cidr, &[("x", Cel::String(text))])
}

/// `ip(<string>) -> net.IP` and `<net.CIDR>.ip() -> net.IP`.
fn ip(ftx: &FunctionContext, This(this): This<Cel>) -> Result<Cel, ExecutionError> {
    match this {
        Cel::String(text) => {
            check_ip(&text).map_err(|e| ftx.error(e))?;
            delegate(|l| &l.ip, &[("x", Cel::String(text))])
        }
        other => delegate(|l| &l.member_ip, &[("x", other)]),
    }
}

/// `<net.CIDR>.containsCIDR(<string|net.CIDR>) -> bool`.
fn contains_cidr(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    let Some(other) = args.first().cloned() else {
        return Err(ftx.error("no such overload"));
    };
    if let Cel::String(text) = &other {
        check_cidr(text).map_err(|e| ftx.error(e))?;
    }
    delegate(|l| &l.contains_cidr, &[("t", this), ("x", other)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Result<Cel, String> {
        let mut ctx = Context::default();
        ctx.register_all();
        register(&mut ctx);
        let expr = Parser::new().parse(src).map_err(|e| format!("{e:?}"))?;
        Cel::resolve(&expr, &ctx).map_err(|e| match e {
            ExecutionError::FunctionError { message, .. } => message,
            other => other.to_string(),
        })
    }

    fn yes(src: &str) {
        assert_eq!(eval(src), Ok(Cel::Bool(true)), "{src}");
    }

    #[test]
    fn cidrs_follow_netip() {
        for good in [
            "10.0.0.0/8",
            "10.0.0.1/8",
            "::1/128",
            "fd00::/64",
            "0.0.0.0/0",
        ] {
            yes(&format!("isCIDR('{good}')"));
        }
        for bad in [
            "010.0.0.0/8",
            "10.0.0.0/08",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0",
            "10.0.0.0/+8",
            "::ffff:1.2.3.4/120",
            "fe80::1%eth0/64",
            "x/8",
        ] {
            assert_eq!(
                eval(&format!("isCIDR('{bad}')")),
                Ok(Cel::Bool(false)),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_errors_read_like_upstream() {
        let cases = [
            (
                "cidr('10.0.0.0')",
                r#"network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("10.0.0.0"): no '/'"#,
            ),
            (
                "cidr('10.0.0.0/08')",
                r#"network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("10.0.0.0/08"): bad bits after slash: "08""#,
            ),
            (
                "cidr('10.0.0.0/33')",
                r#"network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("10.0.0.0/33"): prefix length out of range"#,
            ),
            (
                "cidr('::ffff:1.2.3.4/120')",
                r#"network address parse error during conversion from string: IPv4-mapped IPv6 address "::ffff:1.2.3.4/120" is not allowed"#,
            ),
            (
                "ip('1.2.3')",
                r#"IP Address "1.2.3" parse error during conversion from string: ParseAddr("1.2.3"): unable to parse IP"#,
            ),
            (
                "ip('fe80::1%eth0')",
                r#"IP address "fe80::1%eth0" with zone value is not allowed"#,
            ),
            (
                "ip('::ffff:1.2.3.4')",
                r#"IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed"#,
            ),
            (
                "cidr('10.0.0.0/8').containsCIDR('10.1.0.0')",
                r#"network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("10.1.0.0"): no '/'"#,
            ),
        ];
        for (src, want) in cases {
            assert_eq!(eval(src), Err(want.to_string()), "{src}");
        }
    }

    #[test]
    fn values_and_members_are_kube_cels() {
        yes("cidr('192.168.0.1/24').ip() == ip('192.168.0.1')");
        yes("cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')");
        yes("cidr('192.168.0.1/24') != cidr('192.168.0.1/24').masked()");
        yes("string(cidr('fd00:10::/64').masked()) == 'fd00:10::/64'");
        yes("cidr('192.168.0.0/24').containsIP('192.168.0.9')");
        yes("!cidr('192.168.0.0/24').containsIP(ip('192.168.1.9'))");
        yes("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')");
        yes("cidr('10.0.0.0/8').containsCIDR(cidr('10.1.0.0/16'))");
        yes("cidr('::1/128').prefixLength() == 128");
        yes("ip('fd00::1').family() == 6 && ip('10.0.0.1').family() == 4");
        yes("ip.isCanonical('fd00::1') && !ip.isCanonical('fd00:0::1')");
        yes("isIP('10.0.0.1') && !isIP('10.0.0.01') && !isIP('fe80::1%eth0')");
    }
}
