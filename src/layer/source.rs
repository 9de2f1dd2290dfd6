//! Where the token comes from: the [`TokenSource`] seam.
//!
//! [`BearerSource`] implements RFC 6750 §2.1 (the `Authorization` header),
//! with an opt-in cookie. The `DPoP` scheme (RFC 9449, feature `dpop`) is
//! read by the layer itself when DPoP is configured
//! ([`AuthLayerBuilder::dpop`](super::AuthLayerBuilder::dpop)), before this
//! source: its proof must be checked against the token's binding.

use std::borrow::Cow;

use http::{header, Extensions, HeaderMap, Method, Uri};

use crate::error::{Reason, Rejection};

/// The parts of a request a token source may look at.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The method (DPoP binds proofs to it).
    pub method: &'a Method,
    /// The URI (a token in the query string is refused).
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions (for example a client certificate put there by TLS termination).
    pub extensions: &'a Extensions,
}

impl<'a> RequestHead<'a> {
    /// View the head of a request.
    pub fn of<B>(req: &'a http::Request<B>) -> Self {
        Self {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }
}

/// Takes the access token out of a request.
///
/// `Ok(None)` means no credentials were sent; `Err` refuses the request
/// (for example [`Reason::InvalidRequest`] for two credentials).
pub trait TokenSource: Send + Sync + 'static {
    /// Extract the token.
    ///
    /// # Errors
    /// A rejection when the request carries credentials in a forbidden way.
    fn extract<'a>(&self, head: &RequestHead<'a>) -> Result<Option<Cow<'a, str>>, Rejection>;
}

/// RFC 6750 bearer tokens from the `Authorization` header.
///
/// - The scheme is matched case-insensitively; exactly one credential is allowed.
/// - Two `Authorization` headers, two credentials in one header, or a token
///   in the query string (`access_token=`, RFC 6750 §2.3, refused because
///   URLs end up in logs) → 400 `invalid_request`.
/// - Another scheme (`Basic …`) counts as no bearer token → 401 without error code.
/// - A cookie is read only when [`BearerSource::with_cookie`] opts in, and
///   only when no `Authorization` header is present; two cookies of that
///   name → 400 `invalid_request`.
#[derive(Debug, Clone, Default)]
pub struct BearerSource {
    cookie: Option<String>,
}

impl BearerSource {
    /// The default: `Authorization: Bearer` only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accept the token from this cookie.
    ///
    /// # Security
    /// Cookies are sent by browsers automatically: protect state-changing
    /// routes against CSRF (SameSite=Strict cookies, or a CSRF layer).
    pub fn with_cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }
}

fn invalid_request() -> Rejection {
    Rejection::new(Reason::InvalidRequest)
}

/// RFC 6750 §2.1 `b64token`.
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty() && !scan(body.as_bytes()).non_b64
}

/// What one pass over a credential's bytes found.
struct Scan {
    /// A space, comma or tab: a second credential or parameter.
    separator: bool,
    /// A byte outside the `b64token` alphabet (`=` included: callers strip the padding first).
    non_b64: bool,
}

/// Classifies the bytes of a credential. It runs over the whole token on
/// every request, cache hits included, so the common case (a well-formed
/// token) is one branch-free pass; separators are looked for only when some
/// byte is already known to be outside the alphabet (they all are).
fn scan(bytes: &[u8]) -> Scan {
    if !any_non_b64(bytes) {
        return Scan {
            separator: false,
            non_b64: false,
        };
    }
    Scan {
        separator: bytes.iter().any(|b| matches!(b, b' ' | b',' | b'\t')),
        non_b64: true,
    }
}

/// Whether a byte lies outside `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`.
/// Fixed-size chunks with a byte accumulator let the compiler vectorize it.
fn any_non_b64(bytes: &[u8]) -> bool {
    #[inline(always)]
    fn bad(b: u8) -> u8 {
        let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        // "+,-./" is 0x2B..=0x2F; the comma is not in the alphabet.
        let punct = (b.wrapping_sub(b'+') < 5) & (b != b',');
        let other = (b == b'_') | (b == b'~');
        u8::from(!(alpha | digit | punct | other))
    }
    let mut chunks = bytes.chunks_exact(32);
    let mut acc = 0u8;
    for chunk in &mut chunks {
        acc |= chunk.iter().fold(0u8, |a, &b| a | bad(b));
    }
    acc |= chunks.remainder().iter().fold(0u8, |a, &b| a | bad(b));
    acc != 0
}

pub(super) fn query_has_token(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next().is_some_and(|k| k == "access_token"))
    })
}

impl TokenSource for BearerSource {
    fn extract<'a>(&self, head: &RequestHead<'a>) -> Result<Option<Cow<'a, str>>, Rejection> {
        if query_has_token(head.uri) {
            return Err(invalid_request());
        }
        let mut values = head.headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return self.cookie_token(head.headers);
        };
        if values.next().is_some() {
            return Err(invalid_request());
        }
        let value = value.to_str().map_err(|_| invalid_request())?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        let token = rest.trim_matches(' ');
        check_token(token)?;
        Ok(Some(Cow::Borrowed(token)))
    }
}

/// The credential after the scheme (`Bearer` or `DPoP`): one `b64token`.
pub(super) fn check_token(token: &str) -> Result<(), Rejection> {
    if token.is_empty() {
        return Err(invalid_request());
    }
    // One pass decides both: separators → 400 (they take precedence), other
    // non-`b64token` bytes → 401 malformed. The `=` padding contains neither.
    let body = token.trim_end_matches('=');
    let scan = scan(body.as_bytes());
    if scan.separator {
        return Err(invalid_request());
    }
    if body.is_empty() || scan.non_b64 {
        return Err(Rejection::new(Reason::Malformed));
    }
    Ok(())
}

impl BearerSource {
    /// The token cookie, when configured. Two cookies of that name
    /// (`at=ATTACKER; at=VICTIM`, from a cookie planted on a parent domain or
    /// another path) are refused like two `Authorization` headers: which one
    /// a browser sends first is not something the server can trust.
    fn cookie_token<'a>(&self, headers: &'a HeaderMap) -> Result<Option<Cow<'a, str>>, Rejection> {
        let Some(name) = self.cookie.as_deref() else {
            return Ok(None);
        };
        let mut found = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == name).then_some(v)
            });
        let Some(value) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(invalid_request());
        }
        Ok(is_b64token(value).then_some(Cow::Borrowed(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        src: &BearerSource,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<String>, Reason> {
        let mut req = http::Request::builder().uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).unwrap();
        src.extract(&RequestHead::of(&req))
            .map(|o| o.map(|c| c.into_owned()))
            .map_err(|r| r.reason())
    }

    #[test]
    fn rfc6750_header_rules() {
        let s = BearerSource::new();
        assert_eq!(
            run(&s, "/", &[("authorization", "Bearer abc.def-_~+/==")]),
            Ok(Some("abc.def-_~+/==".into()))
        );
        assert_eq!(
            run(&s, "/", &[("authorization", "bEaReR abc")]),
            Ok(Some("abc".into()))
        );
        assert_eq!(run(&s, "/", &[]), Ok(None));
        assert_eq!(
            run(&s, "/", &[("authorization", "Basic dXNlcjpwYXNz")]),
            Ok(None)
        );
        assert_eq!(
            run(
                &s,
                "/",
                &[("authorization", "Bearer a"), ("authorization", "Bearer b")]
            ),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(
            run(&s, "/", &[("authorization", "Bearer a b")]),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(
            run(&s, "/", &[("authorization", "Bearer a, Bearer b")]),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(
            run(&s, "/", &[("authorization", "Bearer")]),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(
            run(&s, "/", &[("authorization", "Bearer ")]),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(
            run(&s, "/", &[("authorization", "Bearer a\"b")]),
            Err(Reason::Malformed)
        );
        assert_eq!(
            run(&s, "/?access_token=abc", &[]),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(
            run(
                &s,
                "/?x=1&access_token=abc",
                &[("authorization", "Bearer a")]
            ),
            Err(Reason::InvalidRequest)
        );
        assert_eq!(run(&s, "/?my_access_token=abc", &[]), Ok(None));
    }

    #[test]
    fn cookie_is_opt_in() {
        let plain = BearerSource::new();
        assert_eq!(run(&plain, "/", &[("cookie", "at=abc")]), Ok(None));
        let s = BearerSource::new().with_cookie("at");
        assert_eq!(
            run(&s, "/", &[("cookie", "x=1; at=abc")]),
            Ok(Some("abc".into()))
        );
        assert_eq!(
            run(
                &s,
                "/",
                &[("cookie", "at=abc"), ("authorization", "Bearer hdr")]
            ),
            Ok(Some("hdr".into()))
        );
    }

    /// Two cookies with the token's name are refused, in one header or split
    /// over several (HTTP/2 sends one `cookie` field per pair); a malformed
    /// second one does not make the first one count.
    #[test]
    fn duplicate_token_cookies_are_refused() {
        let s = BearerSource::new().with_cookie("at");
        for headers in [
            &[("cookie", "at=attacker; at=victim")][..],
            &[("cookie", "at=attacker"), ("cookie", "x=1; at=victim")][..],
            &[("cookie", "at=!!; at=victim")][..],
            &[("cookie", "at=victim; at=")][..],
        ] {
            assert_eq!(
                run(&s, "/", headers),
                Err(Reason::InvalidRequest),
                "{headers:?}"
            );
        }
        // Other cookies may repeat; a prefix of the name is another name.
        assert_eq!(
            run(&s, "/", &[("cookie", "x=1; x=2; att=y; at=victim")]),
            Ok(Some("victim".into()))
        );
    }

    /// The one-pass scan decides exactly what the straightforward checks it
    /// replaced decided (`contains([' ', ',', '\t'])`, then the `b64token` alphabet).
    #[test]
    fn scan_matches_reference() {
        fn reference(token: &str) -> Result<(), Reason> {
            if token.contains([' ', ',', '\t']) {
                return Err(Reason::InvalidRequest);
            }
            let body = token.trim_end_matches('=');
            let alphabet = |b: u8| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
            };
            if body.is_empty() || !body.bytes().all(alphabet) {
                return Err(Reason::Malformed);
            }
            Ok(())
        }
        fn fast(token: &str) -> Result<(), Reason> {
            let body = token.trim_end_matches('=');
            let scan = scan(body.as_bytes());
            if scan.separator {
                return Err(Reason::InvalidRequest);
            }
            if body.is_empty() || scan.non_b64 {
                return Err(Reason::Malformed);
            }
            Ok(())
        }
        // Every single byte, in every position that matters.
        for b in 0u8..=127 {
            let c = char::from(b);
            for t in [
                format!("{c}"),
                format!("a{c}"),
                format!("{c}b"),
                format!("a{c}b=="),
                format!("a=={c}"),
            ] {
                assert_eq!(fast(&t), reference(&t), "{t:?}");
            }
        }
        for c in ['é', 'ÿ', '\u{80}', '€'] {
            let t = format!("ab{c}cd");
            assert_eq!(fast(&t), reference(&t), "{t:?}");
        }
        // Long tokens: one odd byte at every position, inside and after the
        // vectorized chunks.
        for odd in [' ', ',', '\t', '=', '"', 'é'] {
            for i in 0..100 {
                let t: String = (0..100).map(|j| if j == i { odd } else { 'a' }).collect();
                assert_eq!(fast(&t), reference(&t), "{t:?}");
            }
        }
        proptest::proptest!(|(t in "[ -~\t]{1,64}")| {
            proptest::prop_assert_eq!(fast(&t), reference(&t));
        });
    }
}
