//! Property test through the full `AuthLayer`: whatever arrives in the
//! `Authorization` header, the layer answers 400 or 401 with a typed
//! `Rejection` in the response extensions; it never panics, never answers
//! 5xx, and never lets the request through. 256 cases per property.
#![cfg(all(feature = "testkit", feature = "axum"))]

mod common;

use std::sync::OnceLock;

use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::StatusCode;
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::Rejection;
use proptest::prelude::*;
use tower::ServiceExt;

use common::{bearer, get_with_auth, ok_app, orders_issuer, orders_layer};

struct World {
    rt: tokio::runtime::Runtime,
    app: Router,
    _idp: MockIssuer,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (idp, app) = rt.block_on(async {
            let idp = MockIssuer::start().await;
            let app = ok_app(orders_layer(orders_issuer(&idp).await));
            (idp, app)
        });
        World { rt, app, _idp: idp }
    })
}

fn send(value: http::HeaderValue) -> (StatusCode, Option<Rejection>) {
    let w = world();
    let req = get_with_auth("/x", value);
    let res = w.rt.block_on(w.app.clone().oneshot(req)).unwrap();
    (res.status(), res.extensions().get::<Rejection>().cloned())
}

fn refused(value: http::HeaderValue) -> Result<(), TestCaseError> {
    let (status, rejection) = send(value);
    prop_assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
        "{status}"
    );
    let rejection = rejection.expect("typed rejection in the extensions");
    prop_assert_eq!(rejection.status(), status);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_header_bytes(data in proptest::collection::vec(any::<u8>(), 1..1024)) {
        // Only bytes `http` accepts as a header value reach the layer.
        if let Ok(value) = http::HeaderValue::from_bytes(&[b"Bearer ", &data[..]].concat()) {
            refused(value)?;
        }
    }

    #[test]
    fn arbitrary_token_strings(token in "[A-Za-z0-9._~+/=-]{1,600}") {
        refused(bearer(&token))?;
    }

    #[test]
    fn arbitrary_three_segment_tokens(
        h in proptest::collection::vec(any::<u8>(), 0..200),
        p in proptest::collection::vec(any::<u8>(), 0..200),
        s in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(h), URL_SAFE_NO_PAD.encode(p), URL_SAFE_NO_PAD.encode(s));
        refused(bearer(&token))?;
    }
}
