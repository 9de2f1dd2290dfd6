//! The HTTPS policy: which URLs may be fetched (HTTPS; plain HTTP only to
//! loopback IP literals, or anywhere, by explicit opt-in) and which URL
//! shapes are refused (userinfo, fragments, a query in an issuer identifier).

use std::net::IpAddr;

use url::Url;

use crate::error::ConfigError;

/// Which plain-`http://` URLs may be fetched (ordered: each allows more).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PlainHttp {
    /// HTTPS only (the default).
    Never,
    /// Plain HTTP to loopback IP literals
    /// ([`HttpConfig::allow_loopback_http`](super::HttpConfig::allow_loopback_http)).
    Loopback,
    /// Plain HTTP anywhere
    /// ([`HttpConfig::dangerous_allow_insecure_http`](super::HttpConfig::dangerous_allow_insecure_http)).
    Anywhere,
}

/// What a checked URL is for: an issuer identifier never has a query
/// (RFC 8414 §2, OIDC Discovery §2); an endpoint may (RFC 6749 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlRole {
    Issuer,
    Endpoint,
}

/// Parse a URL, refuse userinfo, fragments (and, for an issuer, a query),
/// and apply the HTTPS policy.
pub(crate) fn check_url(
    raw: &str,
    plain_http: PlainHttp,
    role: UrlRole,
) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::InvalidUrl {
        url: raw.to_owned(),
        reason: "not an absolute URL",
    })?;
    let invalid = |reason| ConfigError::InvalidUrl {
        url: redacted(&url),
        reason,
    };
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("no host"));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("scheme must be https"));
    }
    check_shape(&url, role).map_err(invalid)?;
    if url_is_acceptable(&url, plain_http) {
        Ok(url)
    } else {
        Err(ConfigError::InsecureUrl {
            url: redacted(&url),
        })
    }
}

/// An issuer identifier that is not fetched from (static keys, an explicit
/// `jwks_uri`): when it is an `http(s)` URL, the same shape rules as a
/// fetched one, without the HTTPS policy. Other strings (RFC 7519
/// StringOrURI) are left alone.
pub(crate) fn check_issuer_identifier(raw: &str) -> Result<(), ConfigError> {
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => check_shape(&url, UrlRole::Issuer)
            .map_err(|reason| ConfigError::InvalidUrl {
                url: redacted(&url),
                reason,
            }),
        _ => Ok(()),
    }
}

/// Userinfo, fragment and (for issuers) query rules.
fn check_shape(url: &Url, role: UrlRole) -> Result<(), &'static str> {
    if !url.username().is_empty() || url.password().is_some() {
        // `https://sso.example.com@evil.example/` is a URL of `evil.example`.
        return Err("userinfo (`user:password@`) is not allowed; the host is what follows the `@`");
    }
    if url.fragment().is_some() {
        return Err("a fragment (`#...`) is not allowed");
    }
    if role == UrlRole::Issuer && url.query().is_some() {
        return Err("an issuer identifier has no query (`?...`) (RFC 8414 §2)");
    }
    Ok(())
}

/// The URL for an error message, its password (if any) replaced.
fn redacted(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// The HTTPS policy, for a configured URL and for every URL a response
/// comes from (redirects): HTTPS, or plain HTTP as the config allows; never
/// userinfo.
pub(super) fn url_is_acceptable(url: &Url, plain_http: PlainHttp) -> bool {
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => match plain_http {
            PlainHttp::Never => false,
            PlainHttp::Loopback => is_loopback_ip(url),
            PlainHttp::Anywhere => true,
        },
        _ => false,
    }
}

/// Loopback IP literals: 127.0.0.0/8 and `::1` (not the name `localhost`).
fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(_)) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_policy() {
        use PlainHttp::{Anywhere, Loopback, Never};
        let ok = |raw, p| check_url(raw, p, UrlRole::Endpoint).is_ok();
        let insecure = |raw, p| {
            matches!(
                check_url(raw, p, UrlRole::Endpoint),
                Err(ConfigError::InsecureUrl { .. })
            )
        };
        assert!(ok("https://idp.example.com/realms/a", Never));
        // Plain HTTP to loopback only with the opt-in, and only IP literals.
        for raw in [
            "http://127.0.0.1:8080/x",
            "http://127.9.0.1/x",
            "http://[::1]:80/x",
        ] {
            assert!(insecure(raw, Never), "{raw}");
            assert!(ok(raw, Loopback), "{raw}");
        }
        assert!(insecure("http://localhost/x", Loopback));
        assert!(insecure("http://127.0.0.1.nip.io/x", Loopback));
        assert!(insecure("http://[::ffff:127.0.0.1]/x", Loopback));
        assert!(ok("http://localhost/x", Anywhere));
        assert!(insecure("http://idp.example.com/", Loopback));
        assert!(ok("http://idp.example.com/", Anywhere));
        assert!(Loopback.max(Anywhere) == Anywhere && Never.max(Loopback) == Loopback);
        assert!(matches!(
            check_url("ftp://idp.example.com/", Anywhere, UrlRole::Endpoint),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_url("not a url", Never, UrlRole::Endpoint),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn url_shapes() {
        let reason = |raw, role| match check_url(raw, PlainHttp::Never, role) {
            Err(ConfigError::InvalidUrl { url, reason }) => {
                assert!(!url.contains("hunter2"), "{url}");
                Some(reason)
            }
            Ok(_) => None,
            Err(other) => panic!("{raw}: {other:?}"),
        };
        use UrlRole::{Endpoint, Issuer};
        for role in [Issuer, Endpoint] {
            assert!(reason("https://sso.example.com@evil.example/", role).is_some());
            assert!(reason("https://admin:hunter2@idp.example.com/", role).is_some());
            assert!(reason("https://:hunter2@idp.example.com/", role).is_some());
            assert!(reason("https://idp.example.com/realms/a#x", role).is_some());
            assert!(reason("https://idp.example.com/realms/a#", role).is_some());
            assert!(reason("https://idp.example.com/realms/a", role).is_none());
        }
        assert!(reason("https://idp.example.com/realms/a?t=1", Issuer).is_some());
        assert!(reason("https://idp.example.com/realms/a?", Issuer).is_some());
        assert!(reason("https://idp.example.com/keys?appid=1", Endpoint).is_none());
        // Identifiers that are not fetched: URLs get the same shape rules,
        // other StringOrURI values are left alone.
        assert!(check_issuer_identifier("https://a@evil.example/").is_err());
        assert!(check_issuer_identifier("https://idp.example/?x").is_err());
        assert!(check_issuer_identifier("http://idp.example/").is_ok());
        assert!(check_issuer_identifier("test-issuer").is_ok());
        assert!(check_issuer_identifier("urn:example:issuer?x").is_ok());
        // A redirect target with userinfo is never acceptable.
        let to = Url::parse("https://u:p@idp.example.com/jwks").unwrap();
        assert!(!url_is_acceptable(&to, PlainHttp::Anywhere));
    }
}
