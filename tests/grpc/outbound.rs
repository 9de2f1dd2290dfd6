//! Outbound: `GrpcBearerLayer` on a tonic channel — one cached token for
//! many calls, refreshed ahead of expiry, one retry with a new token on
//! `UNAUTHENTICATED`, bounded by the source's cooldown, no replay of a live
//! client stream, `Code::Unknown` when no token can be had, and a DPoP
//! source refused at construction.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use oauth2_guard::client::{BearerError, TokenError};
use oauth2_guard::testkit::MockIssuer;
use tonic::Code;

use super::common::{idp_with_client, CLIENT, SECRET};
use super::pb::orders_client::OrdersClient;
use super::pb::WatchOrdersRequest;
use super::{create, shop_server};

async fn grpc_source(idp: &MockIssuer) -> oauth2_guard::client::ClientCredentials {
    source_with_cooldown(idp, oauth2_guard::client::DEFAULT_INVALID_TOKEN_COOLDOWN).await
}

async fn source_with_cooldown(
    idp: &MockIssuer,
    cooldown: Duration,
) -> oauth2_guard::client::ClientCredentials {
    idp.client_credentials_builder(CLIENT)
        .client_secret(SECRET)
        .resource("orders-api")
        .scope("orders:write")
        .invalid_token_cooldown(cooldown)
        .build()
        .await
        .expect("source")
}

#[tokio::test]
async fn outbound_calls_reuse_one_cached_token() {
    let idp = idp_with_client().await;
    let served = shop_server(&idp).await;
    let source = grpc_source(&idp).await;
    let before = idp.token_requests();
    let channel = tower::ServiceBuilder::new()
        .layer(source.grpc_layer().expect("a Bearer source"))
        .service(served.channel);
    let mut client = OrdersClient::new(channel);
    for i in 0..5 {
        let order = client.create_order(create()).await.unwrap();
        assert_eq!(order.get_ref().created_by, CLIENT, "call {i}");
    }
    let stream = client
        .watch_orders(WatchOrdersRequest { count: 2 })
        .await
        .unwrap();
    assert_eq!(stream.into_inner().count().await, 2);
    assert_eq!(idp.token_requests() - before, 1, "one token for six calls");
}

#[tokio::test]
async fn unauthenticated_unary_call_is_retried_once_with_a_new_token() {
    let idp = idp_with_client().await;
    let served = shop_server(&idp).await;
    let source = grpc_source(&idp).await;
    let before = idp.token_requests();
    let mut client = OrdersClient::new(
        tower::ServiceBuilder::new()
            .layer(source.grpc_layer().expect("a Bearer source"))
            .service(served.channel.clone()),
    );
    client.create_order(create()).await.unwrap();
    let first = served.shop.last_jti();
    assert_eq!(idp.token_requests() - before, 1);

    // The downstream revokes the token: the next call is refused once,
    // the layer drops the token, fetches a new one and sends the call again.
    served.revoked.lock().unwrap().insert(first.clone());
    let order = client
        .create_order(create())
        .await
        .expect("retried with a new token");
    assert_eq!(order.get_ref().created_by, CLIENT);
    let second = served.shop.last_jti();
    assert_ne!(first, second);
    assert_eq!(idp.token_requests() - before, 2, "one new token");
    assert_eq!(
        served.shop.seen_jtis.lock().unwrap().len(),
        2,
        "the refused call never reached the handler"
    );

    // Refused again within the source's cooldown: the refusal is returned,
    // without a token request and without a retry loop.
    served.revoked.lock().unwrap().insert(second);
    let refused = client.create_order(create()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(idp.token_requests() - before, 2);
}

#[tokio::test]
async fn a_live_client_stream_is_not_replayed() {
    let idp = idp_with_client().await;
    let served = shop_server(&idp).await;
    // No cooldown: every refusal may drop the token (the bound is tested above).
    let source = source_with_cooldown(&idp, Duration::ZERO).await;
    let before = idp.token_requests();
    let mut client = OrdersClient::new(
        tower::ServiceBuilder::new()
            .layer(source.grpc_layer().expect("a Bearer source"))
            .service(served.channel.clone()),
    );
    client.create_order(create()).await.unwrap();
    served
        .revoked
        .lock()
        .unwrap()
        .insert(served.shop.last_jti());

    // A stream whose second message comes later: it cannot be buffered,
    // so the UNAUTHENTICATED answer is passed on (and the token dropped).
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(create()).await.unwrap();
    let feeder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = tx.send(create()).await;
    });
    let live = tokio_stream::wrappers::ReceiverStream::new(rx);
    let refused = client.import_orders(live).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    feeder.abort();
    assert_eq!(
        idp.token_requests() - before,
        1,
        "no retry, so no token yet"
    );
    // The next call gets a new token.
    client.create_order(create()).await.expect("a new token");
    assert_eq!(idp.token_requests() - before, 2);

    // A complete batch is replayable like a unary call.
    served
        .revoked
        .lock()
        .unwrap()
        .insert(served.shop.last_jti());
    let batch = futures_util::stream::iter(vec![create(), create(), create()]);
    let imported = client.import_orders(batch).await.expect("replayed");
    assert_eq!(imported.get_ref().imported, 3);
    assert_eq!(idp.token_requests() - before, 3);
}

#[tokio::test]
async fn the_token_is_refreshed_ahead_of_expiry_and_no_call_fails() {
    let idp = idp_with_client().await;
    // 3 s tokens, refreshed 2 s before expiry: the refresh point is 1 s in.
    idp.set_token_lifetime(Duration::from_secs(3));
    let served = shop_server(&idp).await;
    let source = idp
        .client_credentials_builder(CLIENT)
        .client_secret(SECRET)
        .resource("orders-api")
        .scope("orders:write")
        .refresh_margin(Duration::from_secs(2))
        .build()
        .await
        .expect("source");
    let before = idp.token_requests();
    let mut client = OrdersClient::new(
        tower::ServiceBuilder::new()
            .layer(source.grpc_layer().expect("a Bearer source"))
            .service(served.channel.clone()),
    );
    client.create_order(create()).await.expect("first call");
    let first = served.shop.last_jti();
    assert_eq!(idp.token_requests() - before, 1);

    // Calls before and after the refresh point, every one must succeed,
    // until the handler sees the refreshed token.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut calls = 1;
    while served.shop.last_jti() == first {
        assert!(
            Instant::now() < deadline,
            "no new token reached the handler within 10 s ({calls} calls)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        client
            .create_order(create())
            .await
            .unwrap_or_else(|status| panic!("call {calls} failed: {status:?}"));
        calls += 1;
    }
    assert!(
        calls > 2,
        "calls were made with the first token, then the new one"
    );
    let second = served.shop.last_jti();
    assert!(idp.token_requests() - before >= 2, "the source refreshed");
    // The refreshed token is the cached one: later calls carry it.
    client
        .create_order(create())
        .await
        .expect("after the refresh");
    let seen = served.shop.seen_jtis.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&first));
    assert!(seen
        .iter()
        .skip_while(|j| **j == first)
        .all(|j| *j != first));
    assert_ne!(second, first);
}

#[tokio::test]
async fn no_token_is_code_unknown_with_the_token_error_and_nothing_is_sent() {
    let idp = idp_with_client().await;
    let served = shop_server(&idp).await;
    let source = grpc_source(&idp).await;
    // Counts what gets past the layer, towards the server.
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    let mut client = OrdersClient::new(
        tower::ServiceBuilder::new()
            .layer(source.grpc_layer().expect("a Bearer source"))
            .map_request(move |req: http::Request<tonic::body::Body>| {
                counter.fetch_add(1, Ordering::SeqCst);
                req
            })
            .service(served.channel.clone()),
    );
    let before = idp.token_requests();
    // 400 invalid_request: an OAuth error, not retried.
    idp.fail_next_token_requests(1, 400);

    let status = client.create_order(create()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    let error = std::error::Error::source(&status).expect("the layer's error");
    let error = error
        .downcast_ref::<BearerError<tonic::transport::Error>>()
        .expect("a BearerError");
    assert!(
        matches!(
            error,
            BearerError::Token(TokenError::OAuth { status: 400, .. })
        ),
        "{error:?}"
    );
    assert_eq!(sent.load(Ordering::SeqCst), 0, "the call was not sent");
    assert!(served.shop.seen_jtis.lock().unwrap().is_empty());
    assert_eq!(idp.token_requests() - before, 1);

    // The endpoint answers again: so does the call.
    client.create_order(create()).await.expect("a token now");
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "dpop")]
#[tokio::test]
async fn a_dpop_source_is_refused_at_construction() {
    use oauth2_guard::client::{DpopSigningKey, GrpcBearerLayer};
    use oauth2_guard::testkit::DpopKey;
    use oauth2_guard::ConfigError;

    let idp = idp_with_client().await;
    let kit = DpopKey::from_pool(jsonwebtoken::Algorithm::ES256, 0);
    let key = DpopSigningKey::from_pem(kit.private_key_pem(), jsonwebtoken::Algorithm::ES256)
        .expect("dpop key");
    let before = idp.token_requests();
    let source = idp
        .client_credentials_builder(CLIENT)
        .client_secret(SECRET)
        .resource("orders-api")
        .dpop(key)
        .build()
        .await
        .expect("source");
    let refused = source.grpc_layer().unwrap_err();
    assert!(
        matches!(
            refused,
            ConfigError::ConflictingSettings {
                first: "ClientCredentialsBuilder::dpop",
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(matches!(
        GrpcBearerLayer::new(source),
        Err(ConfigError::ConflictingSettings { .. })
    ));
    assert_eq!(
        idp.token_requests(),
        before,
        "refused before any token request"
    );
    // A Bearer source from the same IdP is accepted.
    assert!(grpc_source(&idp).await.grpc_layer().is_ok());
}
