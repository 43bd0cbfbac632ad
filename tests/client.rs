//! The harness's own HTTP/1.1 client against raw servers on 127.0.0.1 that behave as real ones
//! do at the edges: a kept-alive connection the server has closed meanwhile is replaced, not
//! failed; an answer sent with `Connection: close` is a status, not an I/O error; and the
//! framing of what it sends and reads (`client::h1`) is HTTP/1.1's, byte for byte.

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

/// A server whose connections each answer requests with `answers` in turn (then close), and the
/// bytes of every request it read, whole (head and body, however framed), with its connection's
/// number.
async fn scripted(answers: &'static [&'static str]) -> (String, Arc<std::sync::Mutex<Vec<(u64, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut number = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            number += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for answer in answers {
                    let Some(request) = read_request(&mut socket, &mut buf).await else { return };
                    log.lock().unwrap().push((number, request));
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

/// One whole request from `socket` (`buf` keeps what came after it).
async fn read_request(socket: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = request.parse(buf) {
            let value = |name: &str| {
                request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.to_vec())
            };
            let end = if value("transfer-encoding").is_some() {
                buf.windows(5).position(|w| w == b"0\r\n\r\n").map(|i| i + 5)
            } else {
                let length: usize =
                    value("content-length").map_or(0, |v| String::from_utf8(v).unwrap().parse().unwrap());
                (buf.len() >= head + length).then_some(head + length)
            };
            if let Some(end) = end {
                let rest = buf.split_off(end);
                return Some(String::from_utf8(std::mem::replace(buf, rest)).unwrap());
            }
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Responses framed every way HTTP/1.1 frames them, on one kept-alive connection where the
/// framing allows: by length, chunked (in pieces, with an extension and a trailer), after a 100
/// Continue, to a HEAD (a length but no body), 204, and at last delimited by the connection's end.
#[tokio::test]
async fn responses_are_read_in_every_framing_and_the_connection_kept_while_it_can_be() {
    let (url, seen) = scripted(&[
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\nx-a: 2\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\nuntil the end",
    ])
    .await;
    let client = Http::new(Duration::from_secs(10));
    let (status, headers, body) = client.send_with_headers(get(&format!("{url}/a"))).await.unwrap();
    assert_eq!((status.as_u16(), body.as_ref()), (200, &b"hello"[..]));
    assert_eq!(headers.get_all("x-a").iter().collect::<Vec<_>>(), ["1", "2"], "every value of a header");
    let (status, length, sha256) = client.send_digest(get(&format!("{url}/b"))).await.unwrap();
    assert_eq!((status.as_u16(), length), (200, 13));
    assert_eq!(
        sha256,
        <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(b"abc0123456789")),
        "chunks hashed in order"
    );
    let (status, body) = client.send(get(&format!("{url}/c"))).await.unwrap();
    assert_eq!((status.as_u16(), body.as_ref()), (201, &b"ok"[..]), "1xx skipped");
    let head = http::Request::head(format!("{url}/d")).body(full(bytes::Bytes::new())).unwrap();
    let (status, body) = client.send(head).await.unwrap();
    assert_eq!((status.as_u16(), body.len()), (200, 0), "a HEAD's length is not a body");
    assert_eq!(client.send(get(&format!("{url}/e"))).await.unwrap().0.as_u16(), 204);
    let (status, body) = client.send(get(&format!("{url}/f"))).await.unwrap();
    assert_eq!((status.as_u16(), body.as_ref()), (200, &b"until the end"[..]));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|(connection, _)| *connection == 1), "one connection for all: {seen:?}");
}

/// Requests framed as hyper frames them: a known length said once, a length the caller set kept
/// (the body then streamed in pieces), a body of unknown length chunked (an empty piece skipped),
/// no length on a GET, no chunked framing without a body.
#[tokio::test]
async fn requests_are_framed_as_http_1_1_frames_them() {
    use presign_bench::client::http::chunks;
    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    let (url, seen) = scripted(&[OK, OK, OK, OK, OK]).await;
    let client = Http::new(Duration::from_secs(10));
    let post = http::Request::post(format!("{url}/v1/uploads?x=1"))
        .header("authorization", "Bearer t")
        .body(full(r#"{"size":1}"#))
        .unwrap();
    client.send(post).await.unwrap();
    let pieces = chunks(vec![bytes::Bytes::from_static(b"abc"), bytes::Bytes::from_static(b"defg")]);
    let put = http::Request::put(format!("{url}/k")).header("content-length", "7").body(pieces).unwrap();
    client.send(put).await.unwrap();
    // An empty piece does not end the chunked body early.
    let with_empty =
        chunks(vec![bytes::Bytes::from_static(b"abc"), bytes::Bytes::new(), bytes::Bytes::from_static(b"defg")]);
    client.send(http::Request::post(format!("{url}/s")).body(with_empty).unwrap()).await.unwrap();
    client.send(get(&format!("{url}/g"))).await.unwrap();
    // No body: a chunked framing asked for is dropped, or the server would wait for a last chunk.
    let empty = http::Request::post(format!("{url}/e")).header("transfer-encoding", "chunked").body(full("")).unwrap();
    client.send(empty).await.unwrap();
    let seen = seen.lock().unwrap();
    let host = url.trim_start_matches("http://");
    assert_eq!(
        seen[0].1,
        format!(
            "POST /v1/uploads?x=1 HTTP/1.1\r\nauthorization: Bearer t\r\nhost: {host}\r\ncontent-length: 10\r\n\r\n{{\"size\":1}}"
        )
    );
    assert_eq!(seen[1].1, format!("PUT /k HTTP/1.1\r\ncontent-length: 7\r\nhost: {host}\r\n\r\nabcdefg"));
    assert_eq!(
        seen[2].1,
        format!(
            "POST /s HTTP/1.1\r\nhost: {host}\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )
    );
    assert_eq!(seen[3].1, format!("GET /g HTTP/1.1\r\nhost: {host}\r\n\r\n"));
    assert_eq!(seen[4].1, format!("POST /e HTTP/1.1\r\nhost: {host}\r\n\r\n"));
}
