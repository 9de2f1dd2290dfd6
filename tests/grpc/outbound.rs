//! Outbound: `GrpcBearerLayer` on a tonic channel — one cached token for
//! many calls, one retry with a new token on `UNAUTHENTICATED`, bounded by
//! the source's cooldown, and no replay of a live client stream.

use std::time::Duration;

use futures_util::StreamExt;
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
