use super::*;

/// A server that answers the first request of each connection and drops
/// the connection when a second request arrives on it (as a server does
/// with an idle keep-alive connection it closes just as the client reuses
/// it): every `get` still succeeds, with one retry on a fresh connection.
#[tokio::test]
async fn a_get_survives_a_keep_alive_connection_the_server_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    let server = tokio::spawn(async move {
        // Bounded: at most 4 connections.
        for _ in 0..4 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = 0;
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") => {
                            seen += 1;
                            if seen > 1 {
                                return; // drop the connection unanswered
                            }
                            let body = br#"{"keys":[]}"#;
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n",
                                body.len()
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(body).await;
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    let client = HttpConfig::default().allow_loopback_http().build().unwrap();
    let url = Url::parse(&format!("http://{addr}/jwks")).unwrap();
    for round in 0..2 {
        let fetched = tokio::time::timeout(Duration::from_secs(10), client.get(&url))
            .await
            .expect("bounded");
        assert!(fetched.is_ok(), "round {round}: {:?}", fetched.err());
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the second request met the dropped connection, then took a new one"
    );
    server.abort();
}

#[test]
fn cache_control_max_age() {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::CACHE_CONTROL,
        "public, max-age=600".parse().unwrap(),
    );
    assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
    h.insert(
        http::header::CACHE_CONTROL,
        "no-store, max-age=600".parse().unwrap(),
    );
    assert_eq!(max_age(&h), None);
    h.insert(http::header::CACHE_CONTROL, "max-age=abc".parse().unwrap());
    assert_eq!(max_age(&h), None);
    assert_eq!(max_age(&http::HeaderMap::new()), None);
}
