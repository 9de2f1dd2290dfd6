//! gRPC with tonic: service A (checkout) calls service B (orders) with a
//! client-credentials token. Everything runs in-process on 127.0.0.1: an
//! embedded test-kit issuer, service B (a tonic server behind `AuthLayer`
//! and `MethodGuards`: `CreateOrder` needs `orders:write`), and service A
//! (an HTTP service whose handler calls B through a tonic channel with
//! `GrpcBearerLayer`). Prints each call and the status seen; exits 0.
//!
//! ```text
//! cargo run --example grpc --features testkit,client,grpc
//! ```
//!
//! The gRPC code is generated from `proto/orders.proto` into the checked-in
//! `proto/orders.rs` (no protoc; see `proto/gen`).

#[allow(clippy::all, missing_docs, unreachable_pub)]
#[path = "../proto/orders.rs"]
mod pb;

use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use oauth2_guard::authz::RequireScope;
use oauth2_guard::grpc::{MethodGuards, RequestClaimsExt};
use oauth2_guard::testkit::MockIssuer;
use oauth2_guard::AuthLayer;
use pb::orders_client::OrdersClient;
use pb::orders_server::{Orders, OrdersServer};
use pb::{CreateOrderRequest, GetOrderRequest, ImportSummary, Order, WatchOrdersRequest};
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status, Streaming};

/// Service B's handlers: the caller comes from the verified claims.
struct OrdersService;

#[tonic::async_trait]
impl Orders for OrdersService {
    async fn get_order(&self, req: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        let caller = req
            .require_claims()?
            .client_id()
            .unwrap_or("unknown")
            .to_owned();
        Ok(Response::new(Order {
            id: req.into_inner().id,
            item: "book".into(),
            quantity: 1,
            created_by: caller,
        }))
    }

    async fn create_order(
        &self,
        req: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        // MethodGuards already required `orders:write`.
        let caller = req
            .require_claims()?
            .client_id()
            .unwrap_or("unknown")
            .to_owned();
        let r = req.into_inner();
        Ok(Response::new(Order {
            id: "42".into(),
            item: r.item,
            quantity: r.quantity,
            created_by: caller,
        }))
    }

    type WatchOrdersStream = tokio_stream::Empty<Result<Order, Status>>;

    async fn watch_orders(
        &self,
        _: Request<WatchOrdersRequest>,
    ) -> Result<Response<Self::WatchOrdersStream>, Status> {
        Ok(Response::new(tokio_stream::empty()))
    }

    async fn import_orders(
        &self,
        _: Request<Streaming<CreateOrderRequest>>,
    ) -> Result<Response<ImportSummary>, Status> {
        Err(Status::unimplemented("not in this example"))
    }
}

/// Service A's state: a tonic client whose channel adds the token.
type ToOrders = OrdersClient<oauth2_guard::client::GrpcBearerService<Channel>>;

/// Service A's handler: `POST /checkout` creates an order at service B.
async fn checkout(State(mut orders): State<ToOrders>) -> String {
    let request = CreateOrderRequest {
        item: "book".into(),
        quantity: 2,
    };
    match orders.create_order(request).await {
        Ok(order) => format!(
            "OK: order {} created by {}",
            order.get_ref().id,
            order.get_ref().created_by
        ),
        Err(status) => format!("{:?}: {}", status.code(), status.message()),
    }
}

fn expect(what: &str, seen: Code, wanted: Code) -> Result<(), Box<dyn std::error::Error>> {
    println!("   {what}: {seen:?}");
    if seen == wanted {
        Ok(())
    } else {
        Err(format!("{what}: expected {wanted:?}, saw {seen:?}").into())
    }
}

fn code<T>(result: &Result<T, Status>) -> Code {
    result.as_ref().map_or_else(Status::code, |_| Code::Ok)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The identity provider, with two clients: checkout may write orders,
    // reporting may only read them.
    let idp = MockIssuer::start().await;
    idp.register_client("checkout", "checkout-secret");
    idp.register_client("reporting", "reporting-secret");
    println!("1. issuer running at {}", idp.issuer_url());

    // Service B (orders): the layer, and the guards declared next to the server.
    let issuer = idp.issuer_builder().audience("orders-api").build().await?;
    let guards = MethodGuards::new()
        .service(
            "shop.v1.Orders",
            RequireScope::any_of(["orders:read", "orders:write"]),
        )
        .method(
            "/shop.v1.Orders/CreateOrder",
            RequireScope::new("orders:write"),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let b_addr = listener.local_addr()?;
    tokio::spawn(
        Server::builder()
            .layer(
                AuthLayer::builder()
                    .issuer(issuer)
                    .realm("orders")
                    .build()?,
            )
            .layer(guards)
            .add_service(OrdersServer::new(OrdersService))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    println!("2. service B (gRPC, orders) on {b_addr}");
    let channel = Endpoint::from_shared(format!("http://{b_addr}"))?
        .timeout(Duration::from_secs(10))
        .connect()
        .await?;

    // Service A (checkout): its own client credentials, on a tonic channel.
    let checkout_token = idp
        .client_credentials_builder("checkout")
        .client_secret("checkout-secret")
        .resource("orders-api")
        .scope("orders:write")
        .build()
        .await?;
    let to_orders = OrdersClient::new(
        tower::ServiceBuilder::new()
            .layer(checkout_token.grpc_layer()?)
            .service(channel.clone()),
    );
    let a = Router::new()
        .route("/checkout", post(checkout))
        .with_state(to_orders.clone());
    let a_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let a_addr = a_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(a_listener, a).await });
    println!("3. service A (HTTP, checkout) on {a_addr}");

    println!("4. POST /checkout at A, which calls B's CreateOrder with its token:");
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let answer = http
            .post(format!("http://{a_addr}/checkout"))
            .send()
            .await?
            .text()
            .await?;
        println!("   A answered: {answer}");
        if !answer.starts_with("OK") {
            return Err(format!("checkout failed: {answer}").into());
        }
    }
    let mut a_client = to_orders;
    let read = a_client
        .get_order(GetOrderRequest { id: "42".into() })
        .await;
    expect("A -> B GetOrder", code(&read), Code::Ok)?;
    println!(
        "   token requests at the issuer for 4 calls: {}",
        idp.token_requests()
    );
    if idp.token_requests() != 1 {
        return Err("the token was not reused".into());
    }

    println!("5. calls that B refuses:");
    let mut bare = OrdersClient::new(channel.clone());
    let none = bare.get_order(GetOrderRequest { id: "42".into() }).await;
    expect("no token -> GetOrder", code(&none), Code::Unauthenticated)?;
    if let Err(status) = &none {
        println!(
            "     message: {:?}, www-authenticate: {:?}",
            status.message(),
            status.metadata().get("www-authenticate")
        );
    }
    let reporting_token = idp
        .client_credentials_builder("reporting")
        .client_secret("reporting-secret")
        .resource("orders-api")
        .scope("orders:read")
        .build()
        .await?;
    let mut reporting = OrdersClient::new(
        tower::ServiceBuilder::new()
            .layer(reporting_token.grpc_layer()?)
            .service(channel),
    );
    let read = reporting
        .get_order(GetOrderRequest { id: "42".into() })
        .await;
    expect("reporting (orders:read) -> GetOrder", code(&read), Code::Ok)?;
    let denied = reporting
        .create_order(CreateOrderRequest {
            item: "book".into(),
            quantity: 1,
        })
        .await;
    expect(
        "reporting (orders:read) -> CreateOrder",
        code(&denied),
        Code::PermissionDenied,
    )?;
    if let Err(status) = &denied {
        println!("     message: {:?}", status.message());
    }
    println!("6. done");
    Ok(())
}
