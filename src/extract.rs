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
//!   **500** with a message naming the wiring mistake: that is a server bug,
//!   not a client error, and must never look like a 401/403.
//! - Claims that do not fit `T` answer 401 `invalid_token`: the token is
//!   genuine but lacks what this endpoint needs.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::claims::{ClaimsError, StandardClaims, VerifiedClaims};
use crate::layer::PassedAnonymous;

/// The verified claims, deserialized into `T` ([`StandardClaims`] by default).
#[derive(Debug, Clone)]
pub struct Claims<T = StandardClaims>(pub T);

/// Why [`Claims`] or [`VerifiedClaims`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsRejection {
    /// No `AuthLayer` ran for this route: a wiring bug (500).
    #[error(
        "oauth2-guard: no verified claims in the request extensions; is `AuthLayer` applied to this route \
         (`.layer(..)` on the router, or on this method router)?"
    )]
    MissingAuthLayer,
    /// The claims do not fit the requested type (401).
    #[error(transparent)]
    InvalidClaims(#[from] ClaimsError),
}

impl ClaimsRejection {
    /// The HTTP status of this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            ClaimsRejection::MissingAuthLayer => StatusCode::INTERNAL_SERVER_ERROR,
            ClaimsRejection::InvalidClaims(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// The body text of this rejection.
    pub fn body_text(&self) -> String {
        match self {
            ClaimsRejection::MissingAuthLayer => self.to_string(),
            // The serde message could echo claim values; keep it out of the response.
            ClaimsRejection::InvalidClaims(_) => {
                "The access token lacks claims this endpoint needs".to_owned()
            }
        }
    }
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        if let ClaimsRejection::MissingAuthLayer = self {
            tracing::error!(target: "oauth2_guard::auth", "{self}");
        }
        let mut res = (self.status(), self.body_text()).into_response();
        if let ClaimsRejection::InvalidClaims(_) = self {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer error=\"invalid_token\", error_description=\"The access token lacks required claims\"",
                ),
            );
        }
        res
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedClaims {
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedClaims>()
            .cloned()
            .ok_or(ClaimsRejection::MissingAuthLayer)
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
        None => Err(ClaimsRejection::MissingAuthLayer),
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
            .ok_or(ClaimsRejection::MissingAuthLayer)?;
        Ok(Claims(verified.deserialize()?))
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
            Some(v) => Ok(Some(Claims(v.deserialize()?))),
            None => Ok(None),
        }
    }
}
