//! The harness's own HTTP/1.1 client against raw servers on 127.0.0.1 that behave as real ones
//! do at the edges: a kept-alive connection the server has closed meanwhile is replaced, not
//! failed; an answer sent with `Connection: close` is a status, not an I/O error.

use presign_bench::client::http::{Http, full};
use presign_bench::loadgen::Failure;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads one request head (these requests have no body).
async fn read_head(socket: &mut tokio::net::TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// A server that answers each connection's first request with `answer`, then closes it.
async fn one_answer_per_connection(answer: &'static str) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU64::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Relaxed);
            tokio::spawn(async move {
                if read_head(&mut socket).await {
                    let _ = socket.write_all(answer.as_bytes()).await;
                }
                // The connection ends here, whatever the answer said about keeping it.
            });
        }
    });
    (url, connections)
}

fn get(url: &str) -> http::Request<presign_bench::client::http::Body> {
    http::Request::get(url).body(full(bytes::Bytes::new())).unwrap()
}

#[tokio::test]
async fn a_kept_alive_connection_the_server_closed_is_replaced() {
    // The answer promises keep-alive, then the server closes: the idle connection in the pool is
    // dead when the next request comes, and that request must go on a new connection.
    let (url, connections) = one_answer_per_connection("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
    let client = Http::new(Duration::from_secs(10));
    for round in 1..=3 {
        let answer = client.send(get(&url)).await;
        assert!(
            matches!(answer, Ok((http::StatusCode::OK, ref body)) if body.as_ref() == b"ok"),
            "round {round}: {answer:?}"
        );
        // Let the server's close reach the client's idle connection.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(connections.load(Relaxed), 3, "each request on a new connection");
}

#[tokio::test]
async fn an_answer_with_connection_close_is_a_status_not_an_io_error() {
    let (url, _) = one_answer_per_connection(
        "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 4\r\n\r\nbusy",
    )
    .await;
    let client = Http::new(Duration::from_secs(10));
    for _ in 0..5 {
        match client.send(get(&url)).await {
            Ok((status, body)) => assert_eq!((status.as_u16(), body.as_ref()), (503, &b"busy"[..])),
            Err(f) => panic!("a 503 that closes its connection came back as {f:?}"),
        }
    }
    // And a server that closes without answering is an I/O failure, not a status.
    let (url, _) = one_answer_per_connection("").await;
    assert!(matches!(client.send(get(&url)).await, Err(Failure::Io)));
}
