//! `htu` comparison: both URIs are normalised as RFC 3986 §6.2.2 and §6.2.3
//! describe, without query and fragment (RFC 9449 §4.3 step 9), then
//! compared exactly.
//!
//! Normalisation: scheme and host lower-cased, the scheme's default port
//! dropped, an empty path made `/`, dot segments removed (all by the `url`
//! crate's WHATWG parser), and in the path percent-encodings upper-cased
//! with those of unreserved characters decoded (`%7e` → `~`, `%41` → `A`).

use url::Url;

/// `url` normalised for comparison, or `None` when it is not an absolute
/// `http`/`https` URL with a host and without userinfo.
pub(crate) fn normalise(url: &str) -> Option<String> {
    let mut url = Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = normalise_percent(url.path());
    url.set_path(&path);
    Some(url.into())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Upper-case every `%xx` and decode those of unreserved characters.
fn normalise_percent(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let b = (hi * 16 + lo) as u8;
                if is_unreserved(b) {
                    out.push(b as char);
                } else {
                    out.push('%');
                    out.push(bytes[i + 1].to_ascii_uppercase() as char);
                    out.push(bytes[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        // `url` serialises paths as ASCII, so this is one char per byte.
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// The URL a request was made to, as the client saw it: `origin` (scheme,
/// host, port) and `base_path` (the configured base URL's path, no trailing
/// `/`) followed by the request path.
pub(crate) fn expected(origin: &str, base_path: &str, request_path: &str) -> Option<String> {
    if !request_path.starts_with('/') {
        return None;
    }
    normalise(&format!("{origin}{base_path}{request_path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        matches!((normalise(a), normalise(b)), (Some(x), Some(y)) if x == y)
    }

    #[test]
    fn normalisation() {
        assert!(same(
            "https://API.Example.com/a",
            "https://api.example.com/a"
        ));
        assert!(same(
            "HTTPS://api.example.com/a",
            "https://api.example.com/a"
        ));
        assert!(same(
            "https://api.example.com:443/a",
            "https://api.example.com/a"
        ));
        assert!(same(
            "http://api.example.com:80/a",
            "http://api.example.com/a"
        ));
        assert!(same("https://api.example.com", "https://api.example.com/"));
        assert!(same("https://x.example/a%2fb", "https://x.example/a%2Fb"));
        assert!(same("https://x.example/%7euser", "https://x.example/~user"));
        assert!(same("https://x.example/%41b", "https://x.example/Ab"));
        assert!(same(
            "https://x.example/a/./b/../c",
            "https://x.example/a/c"
        ));
        assert!(same("https://x.example/a?q=1#frag", "https://x.example/a"));
        assert!(same("https://x.example/a#frag", "https://x.example/a"));
        assert!(same("https://x.example/a%", "https://x.example/a%"));
        assert!(same("https://x.example/a%zz", "https://x.example/a%zz"));
        // Not the same resource.
        assert!(!same("https://x.example/a", "https://x.example/a/"));
        assert!(!same("https://x.example/a", "https://x.example/A"));
        assert!(!same("https://x.example/a%2Fb", "https://x.example/a/b"));
        assert!(!same("https://x.example:8443/a", "https://x.example/a"));
        assert!(!same("http://x.example/a", "https://x.example/a"));
        assert!(!same("https://x.example/a", "https://y.example/a"));
        // Not usable at all.
        for bad in [
            "/a",
            "ftp://x.example/a",
            "https://user:pw@x.example/a",
            "https://user@x.example/a",
            "not a url",
            "",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
    }

    #[test]
    fn expected_joins_base_path() {
        let e = expected("https://api.example.com", "/svc", "/orders/1").unwrap();
        assert_eq!(e, "https://api.example.com/svc/orders/1");
        assert_eq!(expected("https://api.example.com", "", "*"), None);
        assert_eq!(
            expected("https://api.example.com", "", "/").unwrap(),
            "https://api.example.com/"
        );
    }
}
