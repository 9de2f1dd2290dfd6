//! [`RequestClaimsExt`]: the verified claims in a tonic handler.

use crate::claims::VerifiedClaims;

/// The [`VerifiedClaims`] the [`AuthLayer`](crate::AuthLayer) put into the
/// request, read from a `tonic::Request` (tonic copies the HTTP request's
/// extensions into it).
///
/// ```
/// use oauth2_guard::grpc::RequestClaimsExt;
///
/// async fn create_order(request: tonic::Request<String>) -> Result<tonic::Response<String>, tonic::Status> {
///     let claims = request.require_claims()?;
///     let by = claims.subject().unwrap_or("unknown").to_owned();
///     Ok(tonic::Response::new(format!("created by {by}")))
/// }
/// ```
pub trait RequestClaimsExt {
    /// The claims, or `None` when no `AuthLayer` ran in front of the
    /// service (or an [`optional`](crate::AuthLayerBuilder::optional) one
    /// let an anonymous call through).
    fn claims(&self) -> Option<&VerifiedClaims>;

    /// The claims, or a [`tonic::Status`] for `?`: `UNAUTHENTICATED` for an
    /// anonymous call behind an optional layer, `INTERNAL` when no
    /// `AuthLayer` ran (a wiring mistake of the server, as the axum
    /// extractors' 500).
    ///
    /// # Errors
    /// As above.
    fn require_claims(&self) -> Result<&VerifiedClaims, tonic::Status>;
}

impl<T> RequestClaimsExt for tonic::Request<T> {
    fn claims(&self) -> Option<&VerifiedClaims> {
        self.extensions().get::<VerifiedClaims>()
    }

    fn require_claims(&self) -> Result<&VerifiedClaims, tonic::Status> {
        if let Some(claims) = self.claims() {
            return Ok(claims);
        }
        if self
            .extensions()
            .get::<crate::layer::PassedAnonymous>()
            .is_some()
        {
            return Err(tonic::Status::unauthenticated("Authentication required"));
        }
        crate::layer::missing_layer();
        Err(tonic::Status::internal(
            "Server misconfiguration: no AuthLayer in front of the service",
        ))
    }
}
