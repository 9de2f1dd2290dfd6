//! Sender-constrained tokens (`cnf`) presented as plain bearer tokens: a
//! DPoP-bound (RFC 9449) or certificate-bound (RFC 8705) token copied from a
//! log or a proxy must be useless to whoever copied it.

use super::*;

#[tokio::test]
async fn bound_tokens_are_refused_as_bearer_tokens() {
    let mut h = Harness::new().await;
    let thumbprint = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    for (name, cnf) in [
        ("DPoP-bound (cnf.jkt)", json!({"jkt": thumbprint})),
        (
            "RFC 7800 key (cnf.jwk)",
            json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": thumbprint}}),
        ),
        ("RFC 7800 key id (cnf.kid)", json!({"kid": "holder-key"})),
        (
            "both bindings",
            json!({"jkt": thumbprint, "x5t#S256": thumbprint}),
        ),
    ] {
        let token = h.idp.token().claim("cnf", cnf).sign();
        h.refuse(name, &token, Reason::SenderConstrained).await;
    }
    // Certificate-bound (RFC 8705): with the `mtls` feature the layer looks
    // for the request's client certificate (none here); without it the
    // binding cannot be proven at all.
    let token = h
        .idp
        .token()
        .claim("cnf", json!({"x5t#S256": thumbprint}))
        .sign();
    let reason = if cfg!(feature = "mtls") {
        Reason::CertificateMissing
    } else {
        Reason::SenderConstrained
    };
    h.refuse("certificate-bound (cnf.x5t#S256)", &token, reason)
        .await;
    let token = h.idp.token().claim("cnf", json!("jkt")).sign();
    h.refuse("cnf not an object", &token, Reason::InvalidClaim)
        .await;
    // Controls: an empty `cnf` binds to nothing; no `cnf` is a bearer token.
    let token = h.idp.token().claim("cnf", json!({})).sign();
    h.accept("empty cnf", &token).await;
    let token = h.idp.token().sign();
    h.accept("no cnf", &token).await;
    h.finish();
}
