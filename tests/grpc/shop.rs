//! The `shop.v1.Orders` service the gRPC suite serves, and its plumbing:
//! a tonic server on 127.0.0.1 behind a layer and method guards, and
//! channels to it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use oauth2_guard::grpc::{MethodGuards, RequestClaimsExt};
use oauth2_guard::AuthLayer;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};

use super::pb::orders_server::{Orders, OrdersServer};
use super::pb::{CreateOrderRequest, GetOrderRequest, ImportSummary, Order, WatchOrdersRequest};

/// The handlers: they answer with the caller's `sub` (or `anonymous`) and
/// record the `jti` of each token they saw.
#[derive(Clone, Default)]
pub struct Shop {
    pub seen_jtis: Arc<Mutex<Vec<String>>>,
}

impl Shop {
    fn caller<T>(&self, req: &Request<T>) -> String {
        match req.claims() {
            Some(c) => {
                if let Some(jti) = c.jti() {
                    self.seen_jtis.lock().unwrap().push(jti.to_owned());
                }
                c.subject().unwrap_or("no-sub").to_owned()
            }
            None => "anonymous".to_owned(),
        }
    }

    pub fn last_jti(&self) -> String {
        self.seen_jtis
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a call was seen")
    }
}

#[tonic::async_trait]
impl Orders for Shop {
    async fn get_order(&self, req: Request<GetOrderRequest>) -> Result<Response<Order>, Status> {
        let by = self.caller(&req);
        Ok(Response::new(Order {
            id: req.into_inner().id,
            item: "book".into(),
            quantity: 1,
            created_by: by,
        }))
    }

    async fn create_order(
        &self,
        req: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        // The guard already required `orders:write`; the helper for `?`.
        let by = req
            .require_claims()?
            .subject()
            .unwrap_or("no-sub")
            .to_owned();
        let _ = self.caller(&req);
        let r = req.into_inner();
        Ok(Response::new(Order {
            id: "o-1".into(),
            item: r.item,
            quantity: r.quantity,
            created_by: by,
        }))
    }

    type WatchOrdersStream = Pin<Box<dyn Stream<Item = Result<Order, Status>> + Send>>;

    async fn watch_orders(
        &self,
        req: Request<WatchOrdersRequest>,
    ) -> Result<Response<Self::WatchOrdersStream>, Status> {
        let by = self.caller(&req);
        let n = req.into_inner().count;
        let orders = (0..n).map(move |i| {
            Ok(Order {
                id: format!("o-{i}"),
                item: "book".into(),
                quantity: 1,
                created_by: by.clone(),
            })
        });
        Ok(Response::new(Box::pin(futures_util::stream::iter(orders))))
    }

    async fn import_orders(
        &self,
        req: Request<Streaming<CreateOrderRequest>>,
    ) -> Result<Response<ImportSummary>, Status> {
        let _ = self.caller(&req);
        let mut stream = req.into_inner();
        let mut imported = 0;
        while let Some(order) = stream.next().await {
            order?;
            imported += 1;
        }
        Ok(Response::new(ImportSummary { imported }))
    }
}

/// Serves `shop` on 127.0.0.1 behind `layer` and `guards`; returns the address.
pub async fn serve(layer: AuthLayer, guards: MethodGuards, shop: Shop) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .layer(guards)
            .add_service(OrdersServer::new(shop))
            .serve_with_incoming(incoming),
    );
    addr
}

/// A channel to `addr`, every call bounded to 5 s.
pub async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the test server")
}
