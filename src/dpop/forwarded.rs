//! The origin a client used, read from the request behind a proxy that
//! overwrites `X-Forwarded-Proto`, `X-Forwarded-Host` and `Host`: only with
//! [`with_insecure_trust_forwarded_headers`](super::DpopConfigBuilder::with_insecure_trust_forwarded_headers).
//!
//! | part | taken from, first present wins |
//! |---|---|
//! | scheme | `X-Forwarded-Proto` (its first value), the request URI's scheme (HTTP/2), the configured base URL's scheme |
//! | host and port | `X-Forwarded-Host` (its first value), `Host`, the request URI's authority (HTTP/2), the configured base URL's |
//!
//! "First value": the first element of the first field (`https, http` →
//! `https`: the proxy nearest the client wrote it). A header that is
//! present but malformed — not visible ASCII, an empty first element, a
//! scheme other than `http`/`https`, a host that is not a URI authority,
//! has userinfo (`user@host`), a path or a bad port — makes the origin
//! unknowable: the proof is refused (`dpop_htu`), never checked against
//! another origin than the one the request names.

use http::{header, uri::Authority, HeaderMap, HeaderName, Uri};
use url::Url;

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// A forwarded header, `Host` or the URI's authority is present but
/// malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// The origin (`scheme://host[:port]`, normalised as [`Url::origin`]) the
/// request was made to, `configured` (already normalised) filling what the
/// request does not say.
pub(crate) fn origin(
    configured: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, Malformed> {
    let (configured_scheme, configured_authority) =
        configured.split_once("://").ok_or(Malformed)?;
    let scheme = match first_value(headers, &X_FORWARDED_PROTO)? {
        Some(proto) => proto,
        None => uri.scheme_str().unwrap_or(configured_scheme),
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Malformed);
    }
    let authority = match first_value(headers, &X_FORWARDED_HOST)? {
        Some(host) => host,
        None => match first_value(headers, &header::HOST)? {
            Some(host) => host,
            None => uri
                .authority()
                .map_or(configured_authority, Authority::as_str),
        },
    };
    let authority: Authority = authority.parse().map_err(|_| Malformed)?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(Malformed);
    }
    let url = Url::parse(&format!("{scheme}://{authority}/")).map_err(|_| Malformed)?;
    if url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
    {
        return Err(Malformed);
    }
    Ok(url.origin().ascii_serialization())
}

/// The first element of the first `name` field, trimmed; `None` when there
/// is no such field.
fn first_value<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, Malformed> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Malformed)?;
    let first = value
        .split(',')
        .next()
        .unwrap_or("")
        .trim_matches([' ', '\t']);
    if first.is_empty() {
        return Err(Malformed);
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIGURED: &str = "https://api.example.com";

    fn run(uri: &str, headers: &[(&str, &str)]) -> Result<String, Malformed> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        origin(CONFIGURED, &uri.parse().unwrap(), &map)
    }

    #[test]
    fn precedence() {
        assert_eq!(run("/orders", &[]).unwrap(), CONFIGURED);
        assert_eq!(
            run("/orders", &[("host", "internal:8080")]).unwrap(),
            "https://internal:8080",
            "the configured scheme fills in"
        );
        assert_eq!(
            run(
                "/orders",
                &[
                    ("host", "internal:8080"),
                    ("x-forwarded-proto", "HTTP"),
                    ("x-forwarded-host", "Shop.Example.com:8443, internal"),
                    ("x-forwarded-host", "second.example"),
                ]
            )
            .unwrap(),
            "http://shop.example.com:8443"
        );
        assert_eq!(
            run(
                "/orders",
                &[
                    ("x-forwarded-proto", "https , http"),
                    ("host", "a.example:443")
                ]
            )
            .unwrap(),
            "https://a.example"
        );
        // HTTP/2: the URI names scheme and authority; headers still win.
        assert_eq!(
            run("http://h2.example/orders", &[]).unwrap(),
            "http://h2.example"
        );
        assert_eq!(
            run(
                "http://h2.example/orders",
                &[("x-forwarded-host", "pub.example")]
            )
            .unwrap(),
            "http://pub.example"
        );
    }

    #[test]
    fn malformed_is_refused() {
        for headers in [
            &[("x-forwarded-proto", "ftp")][..],
            &[("x-forwarded-proto", "")][..],
            &[("x-forwarded-proto", ", https")][..],
            &[("x-forwarded-host", "user@evil.example")][..],
            &[("x-forwarded-host", "evil.example/path")][..],
            &[("x-forwarded-host", "evil.example:port")][..],
            &[("x-forwarded-host", "evil.example:99999")][..],
            &[("x-forwarded-host", "")][..],
            &[("x-forwarded-host", "a b")][..],
            &[("host", "user:pw@evil.example")][..],
            &[("host", "evil.example?q")][..],
        ] {
            assert_eq!(run("/orders", headers), Err(Malformed), "{headers:?}");
        }
        let mut map = HeaderMap::new();
        map.insert(
            header::HOST,
            http::HeaderValue::from_bytes(b"caf\xe9.example").unwrap(),
        );
        assert_eq!(
            origin(CONFIGURED, &"/".parse().unwrap(), &map),
            Err(Malformed)
        );
    }
}
