//! A role rule on one gRPC method, seen by a real tonic client: the call
//! without the role is `PERMISSION_DENIED` naming the missing role (as the
//! HTTP body does), with the RFC 6750 challenge but no `scope` (a role is
//! not something a client can request); with the role it goes through.

use oauth2_guard::authz::RequireRole;
use oauth2_guard::grpc::{MethodGuards, MethodRule};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::ClaimPath;
use serde_json::json;
use tonic::Code;

use super::pb::orders_client::OrdersClient;
use super::shop::{channel, serve, Shop};
use super::{challenge, create, get, layer, with_token, Revoked};

#[tokio::test]
async fn a_role_rule_refuses_with_permission_denied_naming_the_role() {
    let idp = MockIssuer::start().await;
    let issuer = idp
        .issuer_builder()
        .audience("orders-api")
        .roles_from(ClaimPath::parse("roles").expect("path"))
        .build()
        .await
        .expect("issuer");
    let guards = MethodGuards::new()
        .service("shop.v1.Orders", MethodRule::authenticated())
        .method("/shop.v1.Orders/CreateOrder", RequireRole::new("admin"));
    let addr = serve(layer(issuer, Revoked::default()), guards, Shop::default()).await;
    let mut client = OrdersClient::new(channel(addr).await);
    let viewer = idp.token().claim("roles", json!(["viewer"])).sign();
    let admin = idp
        .token()
        .subject("root")
        .claim("roles", json!(["viewer", "admin"]))
        .sign();

    let denied = client
        .create_order(with_token(create(), &viewer))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(
        denied.message(),
        "The access token lacks the required role (missing role(s): admin)"
    );
    assert_eq!(
        challenge(&denied),
        r#"Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks the required role""#
    );

    // The same token where the service-wide rule suffices, and the role holder.
    assert!(client
        .get_order(with_token(get("1"), &viewer))
        .await
        .is_ok());
    let created = client
        .create_order(with_token(create(), &admin))
        .await
        .expect("the role holder is let through");
    assert_eq!(created.get_ref().created_by, "root");
}
