//! gRPC (tonic): a real tonic server behind the `AuthLayer` and
//! `MethodGuards` on 127.0.0.1, called by a real tonic client. Each refusal
//! must reach the client as a `Status` with the right code (from a
//! trailers-only answer, not a transport error); outbound calls carry a
//! cached client-credentials token and retry once on `UNAUTHENTICATED`.

mod common;
#[path = "grpc/outbound.rs"]
mod outbound;
#[allow(clippy::all, missing_docs, unreachable_pub)]
#[path = "../proto/orders.rs"]
mod pb;
#[path = "grpc/roles.rs"]
mod roles;
#[path = "grpc/shop.rs"]
mod shop;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use http_body::Body as _;
use oauth2_guard::authz::RequireScope;
use oauth2_guard::grpc::{MethodGuards, MethodRule};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::{AuthLayer, Reason, Rejection, VerifiedClaims};
use tonic::{Code, Request, Status};
use tower::ServiceExt;

use common::orders_issuer;
use pb::orders_client::OrdersClient;
use pb::{CreateOrderRequest, GetOrderRequest, WatchOrdersRequest};
use shop::{channel, serve, Shop};

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    req
}

fn get(id: &str) -> GetOrderRequest {
    GetOrderRequest { id: id.into() }
}

fn create() -> CreateOrderRequest {
    CreateOrderRequest {
        item: "book".into(),
        quantity: 2,
    }
}

/// `shop.v1.Orders`: reading needs `orders:read` or `orders:write`;
/// creating and importing need `orders:write`.
fn shop_guards() -> MethodGuards {
    MethodGuards::new()
        .service(
            "shop.v1.Orders",
            RequireScope::any_of(["orders:read", "orders:write"]),
        )
        .method(
            "/shop.v1.Orders/CreateOrder",
            RequireScope::new("orders:write"),
        )
        .method(
            "/shop.v1.Orders/ImportOrders",
            RequireScope::new("orders:write"),
        )
}

/// The `jti`s the server refuses (reason `revoked`).
type Revoked = Arc<Mutex<HashSet<String>>>;

fn layer(idp_issuer: oauth2_guard::Issuer, revoked: Revoked) -> AuthLayer {
    AuthLayer::builder()
        .issuer(idp_issuer)
        .realm("orders")
        .post_verify(move |c: &VerifiedClaims| match c.jti() {
            Some(j) if revoked.lock().unwrap().contains(j) => {
                Err(Rejection::from_reason(Reason::Revoked))
            }
            _ => Ok(()),
        })
        .build()
        .expect("layer")
}

/// The shop behind the layer and [`shop_guards`], a channel to it.
struct Served {
    channel: tonic::transport::Channel,
    shop: Shop,
    revoked: Revoked,
}

async fn shop_server(idp: &MockIssuer) -> Served {
    let revoked = Revoked::default();
    let shop = Shop::default();
    let addr = serve(
        layer(orders_issuer(idp).await, revoked.clone()),
        shop_guards(),
        shop.clone(),
    )
    .await;
    Served {
        channel: channel(addr).await,
        shop,
        revoked,
    }
}

async fn shop_client(idp: &MockIssuer) -> OrdersClient<tonic::transport::Channel> {
    OrdersClient::new(shop_server(idp).await.channel)
}

fn challenge(status: &Status) -> &str {
    status
        .metadata()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn each_refusal_is_a_grpc_status() {
    let idp = MockIssuer::start().await;
    let mut client = shop_client(&idp).await;

    let none = client.get_order(get("1")).await.unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated, "{none:?}");
    assert_eq!(none.message(), "Authentication required");
    assert_eq!(challenge(&none), r#"Bearer realm="orders""#);

    let expired_token = idp.token().expired().sign();
    let expired = client
        .get_order(with_token(get("1"), &expired_token))
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
    assert_eq!(expired.message(), "The access token expired");
    assert!(
        challenge(&expired).contains(r#"error="invalid_token""#),
        "{expired:?}"
    );
    assert!(
        !format!("{expired:?}").contains(&expired_token),
        "no token material in the status"
    );

    let mut forged = idp.token().scope("orders:read").sign();
    forged.push_str("AA");
    let bad = client
        .get_order(with_token(get("1"), &forged))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::Unauthenticated);
    assert_eq!(bad.message(), "The access token is invalid");

    // Two credentials: RFC 6750 invalid_request, gRPC INVALID_ARGUMENT.
    let token = idp.token().scope("orders:read").sign();
    let mut twice = with_token(get("1"), &token);
    twice
        .metadata_mut()
        .append("authorization", format!("Bearer {token}").parse().unwrap());
    let invalid = client.get_order(twice).await.unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument, "{invalid:?}");
    assert!(challenge(&invalid).contains(r#"error="invalid_request""#));

    // A valid token without the scope: PERMISSION_DENIED with the RFC 6750 challenge.
    let denied = client
        .create_order(with_token(create(), &token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(
        denied.message(),
        "The access token lacks the required scope"
    );
    assert!(challenge(&denied).contains(r#"error="insufficient_scope""#));
    assert!(challenge(&denied).contains(r#"scope="orders:write""#));

    // And the same token where its scope suffices.
    let ok = client
        .get_order(with_token(get("7"), &token))
        .await
        .unwrap();
    assert_eq!(ok.get_ref().id, "7");
}

#[tokio::test]
async fn keys_unavailable_is_unavailable_with_retry_information() {
    let idp = MockIssuer::start().await;
    idp.set_outage(true);
    idp.set_outage_retry_after(Some(Duration::from_secs(30)));
    let lazy = idp
        .issuer_builder()
        .audience("orders-api")
        .build_deferred()
        .expect("deferred issuer");
    let addr = serve(
        layer(lazy, Revoked::default()),
        shop_guards(),
        Shop::default(),
    )
    .await;
    let mut client = OrdersClient::new(channel(addr).await);
    let token = idp.token().scope("orders:read").sign();
    let status = client
        .get_order(with_token(get("1"), &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        status.message(),
        "Token verification is temporarily unavailable"
    );
    let md = status.metadata();
    let number = |name: &str| -> u64 {
        md.get(name)
            .unwrap_or_else(|| panic!("{name} in {md:?}"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (after, pushback) = (number("retry-after"), number("grpc-retry-pushback-ms"));
    assert!(after >= 1, "{md:?}");
    assert_eq!(pushback, after * 1000, "both say the same wait: {md:?}");
    assert!(md.get("www-authenticate").is_none(), "503 has no challenge");
}

#[tokio::test]
async fn the_wire_answer_is_trailers_only_and_plain_http_keeps_rfc6750() {
    let idp = MockIssuer::start().await;
    let addr = serve(
        layer(orders_issuer(&idp).await, Revoked::default()),
        shop_guards(),
        Shop::default(),
    )
    .await;
    let channel = channel(addr).await;
    let send = |content_type: Option<&str>, authorization: Option<String>| {
        let mut req = http::Request::post(format!("http://{addr}/shop.v1.Orders/GetOrder"));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct).header("te", "trailers");
        }
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        channel
            .clone()
            .oneshot(req.body(tonic::body::Body::empty()).unwrap())
    };

    // gRPC: HTTP 200, grpc-status in the headers, and the stream ends there.
    let res = send(Some("application/grpc"), None).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="orders""#
    );
    let mut body = res.into_body();
    let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
    assert!(
        frame.is_none(),
        "trailers-only: no data and no trailers after the headers"
    );

    // The same server, a plain HTTP request: RFC 6750.
    let res = send(None, None).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="orders""#
    );
    assert!(res.headers().get("grpc-status").is_none());
    let reader = idp.token().scope("orders:read").sign();
    let res = send(None, Some(format!("Bearer {reader}"))).await.unwrap();
    let res_path = http::Request::post(format!("http://{addr}/healthz"))
        .header("authorization", format!("Bearer {reader}"))
        .body(tonic::body::Body::empty())
        .unwrap();
    // A valid token reaches tonic (which answers the non-gRPC request itself) ...
    assert_ne!(res.status(), 401);
    // ... and an unlisted path is refused by the guards, the HTTP way.
    let unlisted = channel.clone().oneshot(res_path).await.unwrap();
    assert_eq!(unlisted.status(), 403);
    assert!(unlisted.headers().get("grpc-status").is_none());
}

#[tokio::test]
async fn method_guards_allow_deny_and_unlisted() {
    let idp = MockIssuer::start().await;
    let mut client = shop_client(&idp).await;
    let writer = idp.token().subject("alice").scope("orders:write").sign();
    let created = client
        .create_order(with_token(create(), &writer))
        .await
        .unwrap();
    // The handler saw the claims (through RequestClaimsExt).
    assert_eq!(created.get_ref().created_by, "alice");
    assert_eq!(created.get_ref().quantity, 2);
    let other = idp.token().scope("billing:read").sign();
    let denied = client
        .get_order(with_token(get("1"), &other))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(challenge(&denied).contains(r#"scope="orders:read orders:write""#));

    // Guards that list only GetOrder: every other method is closed.
    let addr = serve(
        layer(orders_issuer(&idp).await, Revoked::default()),
        MethodGuards::new().method("/shop.v1.Orders/GetOrder", MethodRule::authenticated()),
        Shop::default(),
    )
    .await;
    let mut narrow = OrdersClient::new(channel(addr).await);
    assert!(narrow.get_order(with_token(get("1"), &other)).await.is_ok());
    let unlisted = narrow
        .create_order(with_token(create(), &writer))
        .await
        .unwrap_err();
    assert_eq!(unlisted.code(), Code::PermissionDenied);
    assert_eq!(unlisted.message(), "The method is not open to any token");
    assert_eq!(
        challenge(&unlisted),
        "",
        "no token would help: no challenge"
    );
}

#[tokio::test]
async fn public_methods_behind_an_optional_layer() {
    let idp = MockIssuer::start().await;
    let optional = AuthLayer::builder()
        .issuer(orders_issuer(&idp).await)
        .optional()
        .build()
        .unwrap();
    let guards = shop_guards().method("/shop.v1.Orders/GetOrder", MethodRule::public());
    let addr = serve(optional, guards, Shop::default()).await;
    let mut client = OrdersClient::new(channel(addr).await);
    let anon = client.get_order(get("1")).await.unwrap();
    assert_eq!(anon.get_ref().created_by, "anonymous");
    let refused = client.create_order(create()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    // A bad token on a public method is still refused by the layer.
    let expired = idp.token().expired().sign();
    let bad = client
        .get_order(with_token(get("1"), &expired))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn streaming_methods_are_guarded_the_same_way() {
    let idp = MockIssuer::start().await;
    let mut client = shop_client(&idp).await;
    let reader = idp.token().subject("bob").scope("orders:read").sign();
    let writer = idp.token().scope("orders:write").sign();

    // Server streaming.
    let none = client
        .watch_orders(WatchOrdersRequest { count: 3 })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated);
    let other = idp.token().scope("billing:read").sign();
    let denied = client
        .watch_orders(with_token(WatchOrdersRequest { count: 3 }, &other))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let stream = client
        .watch_orders(with_token(WatchOrdersRequest { count: 3 }, &reader))
        .await
        .unwrap()
        .into_inner();
    let orders: Vec<_> = stream.map(|o| o.unwrap().created_by).collect().await;
    assert_eq!(orders, ["bob", "bob", "bob"]);

    // Client streaming.
    let batch = || futures_util::stream::iter(vec![create(), create()]);
    let denied = client
        .import_orders(with_token(batch(), &reader))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let imported = client
        .import_orders(with_token(batch(), &writer))
        .await
        .unwrap();
    assert_eq!(imported.get_ref().imported, 2);
}
