//! axum extractors for the claims the layer verified.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use oauth2_guard::extract::Claims;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct MyClaims {
//!     sub: String,
//!     tenant: String,
//! }
//!
//! async fn me(Claims(c): Claims<MyClaims>) -> String {
//!     format!("{} of {}", c.sub, c.tenant)
//! }
//!
//! async fn maybe(claims: Option<Claims>) -> &'static str {
//!     if claims.is_some() { "signed in" } else { "anonymous" }
//! }
//!
//! // Add `AuthLayer` (optional mode for `maybe`) to these routes.
//! let app: Router = Router::new().route("/me", get(me)).route("/maybe", get(maybe));
//! ```
//!
//! # Errors
//! - A handler using these extractors on a route without the layer answers
//!   **500** with a message naming the wiring mistake
//!   ([`MissingAuthLayer`], the same answer as the guards'): that is a server
//!   bug, not a client error, and must never look like a 401/403.
//! - Claims that do not fit `T` answer as the layer answers a refused token:
//!   401 `invalid_token` (reason [`Reason::InvalidClaim`]) with the layer's
//!   realm in `WWW-Authenticate`, `Cache-Control: no-store`, an empty body,
//!   the [`Rejection`] in the response extensions and one INFO log event
//!   with the token's fingerprint. The token is genuine but lacks what this
//!   endpoint needs. (A layer configured with a custom
//!   [`with_response`](crate::AuthLayer::with_response) body still gets the
//!   RFC 6750 headers here, with an empty body.)

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::authz::MissingAuthLayer;
use crate::claims::{ClaimsError, StandardClaims, VerifiedClaims};
use crate::error::{Reason, Rejection};
use crate::layer::{
    Challenge, ErrorDetail, LayerChallenge, PassedAnonymous, RejectionResponse, Rfc6750Response,
};

/// The verified claims, deserialized into `T` ([`StandardClaims`] by default).
#[derive(Debug, Clone)]
pub struct Claims<T = StandardClaims>(pub T);

/// Why [`Claims`] or [`VerifiedClaims`] could not be extracted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsRejection {
    /// No `AuthLayer` ran for this route: a wiring bug (500).
    #[error(transparent)]
    MissingAuthLayer(#[from] MissingAuthLayer),
    /// The claims do not fit the requested type (401).
    #[error(transparent)]
    InvalidClaims(#[from] InvalidClaims),
}

impl ClaimsRejection {
    /// The HTTP status of this rejection: 500 or 401.
    pub fn status(&self) -> StatusCode {
        match self {
            ClaimsRejection::MissingAuthLayer(m) => m.status(),
            ClaimsRejection::InvalidClaims(i) => i.rejection.status(),
        }
    }

    /// The body text of this rejection: the wiring mistake for the 500,
    /// empty for the 401 (as the layer's default answer; the serde message
    /// could echo claim values).
    pub fn body_text(&self) -> &'static str {
        match self {
            ClaimsRejection::MissingAuthLayer(m) => m.body_text(),
            ClaimsRejection::InvalidClaims(_) => "",
        }
    }
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        match self {
            ClaimsRejection::MissingAuthLayer(m) => m.to_response(),
            ClaimsRejection::InvalidClaims(i) => i.into_response(),
        }
    }
}

/// Verified claims that do not fit the handler's type: the token is genuine
/// but lacks (or mistypes) a claim this endpoint needs.
///
/// Answered like the layer's own refusals, through the layer's
/// [`Challenge`]: 401, `WWW-Authenticate: Bearer realm="…",
/// error="invalid_token", …`, `Cache-Control: no-store`, an empty body, the
/// [`Rejection`] (reason [`Reason::InvalidClaim`]) in the response
/// extensions, and one INFO event on `oauth2_guard::auth`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{source}")]
pub struct InvalidClaims {
    rejection: Rejection,
    challenge: Challenge,
    source: ClaimsError,
}

impl InvalidClaims {
    fn new(claims: &VerifiedClaims, parts: &Parts, source: ClaimsError) -> Self {
        let mut rejection = Rejection::new(Reason::InvalidClaim)
            .with_issuer(claims.issuer_arc())
            .with_kid(claims.key_id());
        rejection.fingerprint = Some(claims.fingerprint());
        let challenge = parts
            .extensions
            .get::<LayerChallenge>()
            .map(|c| c.0.clone())
            .unwrap_or_else(|| Challenge::bare(ErrorDetail::Terse));
        Self {
            rejection,
            challenge,
            source,
        }
    }

    /// The rejection the response carries (reason [`Reason::InvalidClaim`]).
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }
}

impl IntoResponse for InvalidClaims {
    fn into_response(self) -> Response {
        let rejection = crate::layer::log(self.rejection);
        Rfc6750Response::new(self.challenge).response(&rejection)
    }
}

/// `T` from the verified claims, or the rejection naming why not.
fn deserialize<T: DeserializeOwned>(
    claims: &VerifiedClaims,
    parts: &Parts,
) -> Result<T, ClaimsRejection> {
    claims
        .deserialize()
        .map_err(|e| InvalidClaims::new(claims, parts, e).into())
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedClaims {
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedClaims>()
            .cloned()
            .ok_or(ClaimsRejection::MissingAuthLayer(MissingAuthLayer))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedClaims {
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        optional(parts)
    }
}

/// `Some` when the layer verified a token, `None` when it let an anonymous
/// request through (optional mode), an error when no layer ran at all.
fn optional(parts: &Parts) -> Result<Option<VerifiedClaims>, ClaimsRejection> {
    match parts.extensions.get::<VerifiedClaims>() {
        Some(c) => Ok(Some(c.clone())),
        None if parts.extensions.get::<PassedAnonymous>().is_some() => Ok(None),
        None => Err(ClaimsRejection::MissingAuthLayer(MissingAuthLayer)),
    }
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let verified = parts
            .extensions
            .get::<VerifiedClaims>()
            .ok_or(ClaimsRejection::MissingAuthLayer(MissingAuthLayer))?;
        Ok(Claims(deserialize(verified, parts)?))
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match optional(parts)? {
            Some(v) => Ok(Some(Claims(deserialize(&v, parts)?))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use http::{header, Request};
    use serde_json::json;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::claims::Fingerprint;
    use crate::error::{Reason, Rejection};
    use crate::layer::{Challenge, ErrorDetail, LayerChallenge};

    /// Records `(level, target, reason)` of every event: tests assert on
    /// structured fields, never on wording.
    #[derive(Clone, Default)]
    struct Events(Arc<Mutex<Vec<Event>>>);

    /// `(level, target, reason)`.
    type Event = (tracing::Level, String, Option<String>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Reason(Option<String>);
            impl tracing::field::Visit for Reason {
                fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                    if f.name() == "reason" {
                        self.0 = Some(v.to_owned());
                    }
                }
                fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
            }
            let mut reason = Reason(None);
            event.record(&mut reason);
            let meta = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((*meta.level(), meta.target().to_owned(), reason.0));
        }
    }

    use crate::claims::test_claims as verified;

    /// What the `AuthLayer` leaves in a request it authenticated.
    fn authenticated_parts() -> Parts {
        let mut req = Request::new(Body::empty());
        req.extensions_mut().insert(verified(
            json!({"iss": "https://idp.example.com", "exp": 4_000_000_000u64}),
        ));
        req.extensions_mut().insert(LayerChallenge(
            Challenge::new(Some("orders"), ErrorDetail::Terse).unwrap(),
        ));
        req.into_parts().0
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct NeedsTenant {
        tenant: String,
    }

    /// Regression: claims that do not fit `T` answered a bare 401 with a
    /// body, no realm, no `Cache-Control: no-store`, no `Rejection` and no
    /// log event. They now take the layer's path.
    #[tokio::test]
    async fn unfit_claims_answer_and_log_like_the_layer() {
        let events = Events::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));
        for optional in [false, true] {
            let mut parts = authenticated_parts();
            let rejection = if optional {
                <Claims<NeedsTenant> as OptionalFromRequestParts<()>>::from_request_parts(
                    &mut parts,
                    &(),
                )
                .await
                .unwrap_err()
            } else {
                <Claims<NeedsTenant> as FromRequestParts<()>>::from_request_parts(&mut parts, &())
                    .await
                    .unwrap_err()
            };
            let res = rejection.into_response();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                res.headers()[header::WWW_AUTHENTICATE],
                r#"Bearer realm="orders", error="invalid_token", error_description="The access token is invalid""#
            );
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
            let r = res.extensions().get::<Rejection>().expect("Rejection");
            assert_eq!(r.reason(), Reason::InvalidClaim);
            assert_eq!(r.fingerprint(), Some(&Fingerprint::of("the-token")));
            assert_eq!(r.issuer(), Some("https://idp.example.com"));
            let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
            assert!(body.is_empty(), "no body, as the layer's default answer");
        }
        let seen = events.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (
                    tracing::Level::INFO,
                    "oauth2_guard::auth".to_owned(),
                    Some("invalid_claim".to_owned())
                );
                2
            ],
            "one INFO event per rejection, with its reason code"
        );
    }

    /// Regression: the extractors and the guards had two different
    /// missing-layer answers; now one type and one body.
    #[tokio::test]
    async fn missing_layer_is_one_500_for_extractors_and_guards() {
        let mut parts = Request::new(Body::empty()).into_parts().0;
        let res = <Claims as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err()
            .into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        let res_ext_missing = res.extensions().get::<MissingAuthLayer>().copied();
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            crate::authz::WIRING_ERROR
        );
        assert_eq!(res_ext_missing, Some(MissingAuthLayer));
    }
}
