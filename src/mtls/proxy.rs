//! The client certificate forwarded by a TLS-terminating proxy, trusted only
//! from the proxy's own addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use http::{HeaderName, Request};
use tower_service::Service;

use super::cert::ClientCertificate;
use crate::error::ConfigError;

/// Forwarded certificate headers longer than this are refused (a chain of
/// a few certificates, URL-encoded, fits with room to spare).
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Puts the client certificate a trusted proxy forwarded into the request
/// as a [`ClientCertificate`], and strips the header from every request.
///
/// ```
/// use oauth2_guard::mtls::ForwardedCertLayer;
///
/// # fn main() -> Result<(), oauth2_guard::ConfigError> {
/// // Envoy on 10.0.0.0/8 terminates TLS and sets x-forwarded-client-cert.
/// let envoy = ForwardedCertLayer::envoy()
///     .trusted_proxies(["10.0.0.0/8", "fd00::/8"])
///     .build()?;
/// // nginx on the same host: proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
/// let nginx = ForwardedCertLayer::nginx("x-client-cert")
///     .trusted_proxies(["127.0.0.1", "::1"])
///     .build()?;
/// # let _ = (envoy, nginx); Ok(()) }
/// ```
///
/// Put it outside the [`AuthLayer`](crate::AuthLayer) (`.layer(auth)` first,
/// then `.layer(forwarded)`), and serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the peer address
/// comes from axum's [`ConnectInfo<SocketAddr>`](ConnectInfo).
///
/// | setting | default | why |
/// |---|---|---|
/// | `trusted_proxies` | **required**, none | a header anyone can send proves nothing: it is read only from these addresses (IPs or CIDR blocks; IPv4-mapped IPv6 peers count as IPv4) |
/// | header | `x-forwarded-client-cert` ([`envoy`](Self::envoy)) or the name given to [`nginx`](Self::nginx) | the two common forms |
/// | from any other peer | header removed, certificate not set | the application behind never sees a client-supplied copy |
/// | no `ConnectInfo` in the request | treated as an untrusted peer (logged once at ERROR) | fail closed on a wiring mistake |
/// | malformed header from a trusted proxy | certificate not set (logged at WARN) | a bound token is then refused `certificate_missing`, bearer tokens are unaffected |
/// | Envoy `Cert=` and `Hash=` | `Cert` is used; a `Hash` that disagrees makes the header malformed; `Hash` alone is used | the certificate is the stronger evidence |
/// | several XFCC elements (proxy chains) | malformed | which hop's certificate is the client's is ambiguous; configure the edge proxy with `forward_client_cert_details: SANITIZE_SET` |
/// | header size | at most 16 KiB | bounded parsing |
///
/// # Deployment caveat
/// The proxy must **remove any copy of the header the client sent** and set
/// it only from the certificate it verified itself (Envoy:
/// `forward_client_cert_details: SANITIZE_SET`; nginx: `proxy_set_header`
/// always overwrites). Otherwise a client that can reach the proxy can claim
/// any certificate, and a stolen certificate-bound token works again. Only
/// list addresses that are the proxy's: a NAT or load balancer address that
/// other clients share makes them all trusted.
#[derive(Clone, Debug)]
pub struct ForwardedCertLayer {
    config: Arc<Config>,
}

#[derive(Debug)]
struct Config {
    header: HeaderName,
    format: Format,
    trusted: Vec<Cidr>,
    warned_no_peer: AtomicBool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Envoy,
    NginxEscapedPem,
}

/// Configures a [`ForwardedCertLayer`]; see its table of defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct ForwardedCertLayerBuilder {
    header: Result<HeaderName, String>,
    format: Format,
    trusted: Vec<String>,
}

impl ForwardedCertLayer {
    /// Envoy's `x-forwarded-client-cert`: the `Cert=` element (URL-encoded
    /// PEM), else the `Hash=` element (hex SHA-256 of the DER).
    pub fn envoy() -> ForwardedCertLayerBuilder {
        ForwardedCertLayerBuilder {
            header: Ok(HeaderName::from_static("x-forwarded-client-cert")),
            format: Format::Envoy,
            trusted: Vec::new(),
        }
    }

    /// nginx's `$ssl_client_escaped_cert` (URL-encoded PEM), in the header
    /// your `proxy_set_header` names. An empty value means no certificate.
    pub fn nginx(header: &str) -> ForwardedCertLayerBuilder {
        ForwardedCertLayerBuilder {
            header: HeaderName::try_from(header).map_err(|_| header.to_owned()),
            format: Format::NginxEscapedPem,
            trusted: Vec::new(),
        }
    }
}

impl ForwardedCertLayerBuilder {
    /// The proxies whose header is believed: IP addresses (`10.0.0.7`,
    /// `::1`) or CIDR blocks (`10.0.0.0/8`). Adds to earlier calls.
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted.extend(proxies.into_iter().map(Into::into));
        self
    }

    /// Check the settings.
    ///
    /// # Errors
    /// [`ConfigError::MissingSetting`] without trusted proxies;
    /// [`ConfigError::InvalidAddress`] for an unparsable address or prefix;
    /// [`ConfigError::InvalidHeaderValue`] for an invalid header name.
    pub fn build(self) -> Result<ForwardedCertLayer, ConfigError> {
        let header = self.header.map_err(|_| ConfigError::InvalidHeaderValue {
            setting: "nginx",
            reason: "not a valid header name",
        })?;
        if self.trusted.is_empty() {
            return Err(ConfigError::MissingSetting {
                setting: "trusted_proxies",
                hint: "name the proxy addresses whose forwarded certificate header is believed",
            });
        }
        let trusted = self
            .trusted
            .iter()
            .map(|s| Cidr::parse(s))
            .collect::<Result<_, _>>()?;
        Ok(ForwardedCertLayer {
            config: Arc::new(Config {
                header,
                format: self.format,
                trusted,
                warned_no_peer: AtomicBool::new(false),
            }),
        })
    }
}

impl<S> tower_layer::Layer<S> for ForwardedCertLayer {
    type Service = ForwardedCertService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ForwardedCertService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`ForwardedCertLayer`].
#[derive(Clone, Debug)]
pub struct ForwardedCertService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, B> Service<Request<B>> for ForwardedCertService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        self.config.apply(&mut req);
        self.inner.call(req)
    }
}

impl Config {
    fn apply<B>(&self, req: &mut Request<B>) {
        // Removed from every request: nothing behind this layer reads a copy
        // a client may have supplied.
        let values: Vec<_> = match req.headers_mut().entry(&self.header) {
            http::header::Entry::Occupied(e) => e.remove_entry_mult().1.collect(),
            http::header::Entry::Vacant(_) => return,
        };
        if !self.peer_trusted(req) {
            return;
        }
        let cert = match values.as_slice() {
            [value] => match value.to_str() {
                Ok(v) if v.len() <= MAX_HEADER_BYTES => self.parse(v),
                _ => Err("not visible ASCII or too long"),
            },
            _ => Err("more than one header"),
        };
        match cert {
            Ok(Some(cert)) => {
                req.extensions_mut().insert(cert);
            }
            Ok(None) => {}
            Err(why) => tracing::warn!(
                target: "oauth2_guard::mtls",
                header = %self.header,
                why,
                "forwarded client certificate ignored"
            ),
        }
    }

    fn peer_trusted<B>(&self, req: &Request<B>) -> bool {
        match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => {
                let ip = peer.ip().to_canonical();
                self.trusted.iter().any(|c| c.contains(ip))
            }
            None => {
                if !self.warned_no_peer.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        target: "oauth2_guard::mtls",
                        "ForwardedCertLayer: no ConnectInfo<SocketAddr> in the request; \
                         serve with into_make_service_with_connect_info::<SocketAddr>(). \
                         Forwarded certificates are ignored"
                    );
                }
                false
            }
        }
    }

    fn parse(&self, value: &str) -> Result<Option<ClientCertificate>, &'static str> {
        match self.format {
            Format::NginxEscapedPem => parse_escaped_pem(value),
            Format::Envoy => parse_xfcc(value).map(Some),
        }
    }
}

fn parse_escaped_pem(value: &str) -> Result<Option<ClientCertificate>, &'static str> {
    let value = value.trim();
    if value.is_empty() || value == "-" {
        return Ok(None);
    }
    let pem: Vec<u8> = percent_encoding::percent_decode_str(value).collect();
    ClientCertificate::from_pem(&pem)
        .map(Some)
        .map_err(|_| "not an escaped PEM certificate")
}

/// Envoy's XFCC: one element of `;`-separated `Key=Value` pairs, values
/// optionally double-quoted (`\"` inside quotes).
fn parse_xfcc(value: &str) -> Result<ClientCertificate, &'static str> {
    let elements: Vec<&str> = split_unquoted(value, b',')?
        .into_iter()
        .filter(|e| !e.trim().is_empty())
        .collect();
    let [element] = elements.as_slice() else {
        return Err("not exactly one XFCC element");
    };
    let (mut cert, mut hash) = (None, None);
    for pair in split_unquoted(element, b';')? {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err("XFCC pair without `=`");
        };
        let val = unquote(raw.trim())?;
        if key.trim().eq_ignore_ascii_case("cert") {
            let pem: Vec<u8> = percent_encoding::percent_decode_str(&val).collect();
            let c = ClientCertificate::from_pem(&pem)
                .map_err(|_| "XFCC Cert is not a PEM certificate")?;
            if cert.replace(c).is_some() {
                return Err("two XFCC Cert values");
            }
        } else if key.trim().eq_ignore_ascii_case("hash") {
            let h = decode_hex32(&val).ok_or("XFCC Hash is not a hex SHA-256")?;
            if hash.replace(h).is_some() {
                return Err("two XFCC Hash values");
            }
        }
    }
    match (cert, hash) {
        (Some(c), Some(h)) if c.sha256() != &h => Err("XFCC Cert and Hash disagree"),
        (Some(c), _) => Ok(c),
        (None, Some(h)) => Ok(ClientCertificate::from_sha256(h)),
        (None, None) => Err("XFCC without Cert or Hash"),
    }
}

/// The parts of `s` between `sep`s outside double quotes.
fn split_unquoted(s: &str, sep: u8) -> Result<Vec<&str>, &'static str> {
    let bytes = s.as_bytes();
    let (mut parts, mut start, mut quoted, mut i) = (Vec::new(), 0, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b if b == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return Err("unterminated quote in XFCC");
    }
    parts.push(s.get(start..).unwrap_or(""));
    Ok(parts)
}

fn unquote(v: &str) -> Result<String, &'static str> {
    match v.strip_prefix('"') {
        None => Ok(v.to_owned()),
        Some(rest) => {
            let inner = rest.strip_suffix('"').ok_or("unterminated quote in XFCC")?;
            Ok(inner.replace("\\\"", "\""))
        }
    }
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *o = u8::try_from(hi << 4 | lo).ok()?;
    }
    Some(out)
}

/// An IP address or CIDR block.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidAddress {
            setting: "trusted_proxies",
            address: s.to_owned(),
            reason,
        };
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| invalid("not an IP address"))?;
        let net = net.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| invalid("prefix length out of range"))?,
        };
        if prefix == 0 {
            return Err(invalid("a /0 block trusts every address"));
        }
        Ok(Self { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX << (32 - u32::from(self.prefix));
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX << (128 - u32::from(self.prefix));
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
