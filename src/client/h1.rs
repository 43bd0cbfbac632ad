//! HTTP/1.1 on a connection the caller drives: the load generator's hot path.
//!
//! A request is written from its parts into the connection's one buffer, its body too when it is
//! small and already there, and sent with one write; the response's head is parsed in place with
//! `httparse` and its body taken from the same buffer, without a copy when it arrived whole. This
//! is what wrk does (a prepared request, a parser over its read buffer). hyper's client
//! connection, which this replaces on the hot path, builds a header map and a body channel per
//! response and runs its dispatcher's state machine for every request:
//! `presign-bench calibrate --duration 3s --rounds 3` on this 2-core machine measured the harness
//! at 0.83× wrk's `/healthz` requests per second and 0.55× wrk's requests per client CPU-second on
//! the presign request with hyper's connection (figures with this one are in the README). HTTP/2
//! stays hyper's ([`super::http`]).
//!
//! The framing rules are hyper's own (`hyper::proto::h1::role`), so servers see the same bytes:
//! a `Content-Length` or `Transfer-Encoding` the caller set is kept; otherwise an empty body sends
//! no length, a body of known size its `Content-Length`, and one of unknown size is chunked
//! (none for GET and HEAD). A response body is delimited by `Content-Length`, chunked, or the
//! connection's end; HEAD responses, 1xx, 204 and 304 have none. A connection is reused only
//! after a response read to its end with nothing unasked after it, unless either side said
//! `Connection: close`.

use crate::loadgen::Failure;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use sha2::Digest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A request body: what [`super::http::Body`] is.
type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

/// Bodies up to this size that are already there go out in the request's one write.
const INLINE_BODY: u64 = 64 * 1024;
/// The most a response head may take.
const MAX_HEAD: usize = 64 * 1024;
/// Headers a response may have.
const MAX_HEADERS: usize = 64;

/// What happens to a response body.
#[derive(Clone, Copy, Debug)]
pub enum Sink {
    /// Kept whole.
    Collect,
    /// Hashed as it arrives, then dropped.
    Digest,
}

/// A response body, as its [`Sink`] left it.
#[derive(Debug)]
pub enum Received {
    /// The whole body.
    Body(Bytes),
    /// Its length and SHA-256.
    Digest {
        /// Bytes.
        bytes: u64,
        /// Digest.
        sha256: [u8; 32],
    },
}

impl Received {
    /// The body (empty when it was only hashed).
    #[must_use]
    pub fn into_body(self) -> Bytes {
        match self {
            Self::Body(body) => body,
            Self::Digest { .. } => Bytes::new(),
        }
    }

    /// The body's length and SHA-256.
    #[must_use]
    pub fn into_digest(self) -> (u64, [u8; 32]) {
        match self {
            Self::Body(body) => (body.len() as u64, sha2::Sha256::digest(&body).into()),
            Self::Digest { bytes, sha256 } => (bytes, sha256),
        }
    }
}

/// A response: status, headers (empty unless asked for) and body.
pub type Answer = (StatusCode, HeaderMap, Received);

/// An HTTP/1.1 connection.
#[derive(Debug)]
pub struct Conn<T> {
    io: T,
    /// Bytes read and not yet used.
    read: BytesMut,
    /// The request being written.
    write: Vec<u8>,
}

/// How a response body ends.
enum Framing {
    None,
    Length(u64),
    Chunked,
    Close,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Conn<T> {
    /// A connection over `io`.
    pub fn new(io: T) -> Self {
        Self { io, read: BytesMut::with_capacity(16 * 1024), write: Vec::with_capacity(1024) }
    }

    /// Whether an idle connection can take a request: false when the server has closed it (or
    /// sent something nobody asked for) meanwhile. Does not wait.
    pub fn is_open(&mut self) -> bool {
        use futures_util::FutureExt;
        let mut byte = [0u8; 1];
        self.io.read(&mut byte).now_or_never().is_none()
    }

    /// Sends `request` (origin-form URI, `Host` set) and reads its response into `sink`, with
    /// its headers when `headers`. Returns whether the connection can take another request.
    ///
    /// # Errors
    /// [`Failure::Io`] when the connection fails or the response is not HTTP/1.1.
    pub async fn exchange(
        &mut self,
        request: http::Request<Body>,
        sink: Sink,
        headers: bool,
    ) -> Result<(Answer, bool), Failure> {
        let head_only = request.method() == Method::HEAD;
        let close_asked =
            request.headers().get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if let Err(failure) = self.send(request).await {
            // A server may answer before it has read the whole body (a store refusing a PUT on
            // its signature) and stop reading: its answer, if it came, is the result.
            let (status, map, framing, _) = self.head(head_only, headers).await.map_err(|_| failure.clone())?;
            let (received, _) = self.body(framing, sink).await.map_err(|_| failure)?;
            return Ok(((status, map, received), false));
        }
        let (status, map, framing, close) = self.head(head_only, headers).await?;
        let (received, ended) = self.body(framing, sink).await?;
        let reusable = !close && !close_asked && !ended && self.read.is_empty();
        Ok(((status, map, received), reusable))
    }

    /// Writes the request: head and small body in one write, a larger one as it comes.
    async fn send(&mut self, request: http::Request<Body>) -> Result<(), Failure> {
        use http_body::Body as _;
        let (parts, mut body) = request.into_parts();
        let w = &mut self.write;
        w.clear();
        w.extend_from_slice(parts.method.as_str().as_bytes());
        w.push(b' ');
        w.extend_from_slice(parts.uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str).as_bytes());
        w.extend_from_slice(b" HTTP/1.1\r\n");
        // No body: a chunked framing the caller asked for would leave the server waiting for its
        // last chunk, so it goes, as hyper drops it.
        let empty = body.is_end_stream();
        for (name, value) in &parts.headers {
            if empty && name == TRANSFER_ENCODING {
                continue;
            }
            w.extend_from_slice(name.as_str().as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(value.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        let exact = body.size_hint().exact();
        let chunked = if empty {
            false
        } else if let Some(te) = parts.headers.get(TRANSFER_ENCODING) {
            te.as_bytes().ends_with(b"chunked")
        } else if parts.headers.contains_key(CONTENT_LENGTH) {
            false
        } else if let Some(n) = exact {
            w.extend_from_slice(b"content-length: ");
            w.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            w.extend_from_slice(b"\r\n");
            false
        } else if matches!(parts.method, Method::GET | Method::HEAD) {
            w.extend_from_slice(b"\r\n");
            self.io.write_all(&self.write).await.map_err(|_| Failure::Io)?;
            // TLS may hold written bytes until flushed.
            return self.io.flush().await.map_err(|_| Failure::Io);
        } else {
            w.extend_from_slice(b"transfer-encoding: chunked\r\n");
            true
        };
        w.extend_from_slice(b"\r\n");
        if !chunked && exact.is_some_and(|n| n <= INLINE_BODY) {
            // Frames that are ready now join the head (a throttled body's are not).
            while let Some(Some(frame)) = futures_util::FutureExt::now_or_never(body.frame()) {
                let Ok(frame) = frame;
                if let Ok(data) = frame.into_data() {
                    self.write.extend_from_slice(&data);
                }
            }
        }
        self.io.write_all(&self.write).await.map_err(|_| Failure::Io)?;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame;
            let Ok(data) = frame.into_data() else { continue };
            if data.is_empty() {
                // An empty chunk would end a chunked body.
                continue;
            }
            if chunked {
                let size = format!("{:x}\r\n", data.len());
                self.io.write_all(size.as_bytes()).await.map_err(|_| Failure::Io)?;
                self.io.write_all(&data).await.map_err(|_| Failure::Io)?;
                self.io.write_all(b"\r\n").await.map_err(|_| Failure::Io)?;
            } else {
                self.io.write_all(&data).await.map_err(|_| Failure::Io)?;
            }
        }
        if chunked {
            self.io.write_all(b"0\r\n\r\n").await.map_err(|_| Failure::Io)?;
        }
        // TLS may hold written bytes until flushed.
        self.io.flush().await.map_err(|_| Failure::Io)
    }

    /// Reads more into the buffer; `Ok(false)` at the connection's end.
    async fn fill(&mut self) -> Result<bool, Failure> {
        if self.read.capacity() - self.read.len() < 4096 {
            self.read.reserve(16 * 1024);
        }
        Ok(self.io.read_buf(&mut self.read).await.map_err(|_| Failure::Io)? > 0)
    }

    /// Reads and parses the response head (skipping 1xx): status, headers when asked, framing,
    /// and whether the server closes the connection.
    async fn head(&mut self, head_only: bool, want: bool) -> Result<(StatusCode, HeaderMap, Framing, bool), Failure> {
        loop {
            match self.parse_head(head_only, want)? {
                Some((status, ..)) if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS => {}
                Some(head) => return Ok(head),
                None => {
                    if !self.fill().await? {
                        return Err(Failure::Io);
                    }
                }
            }
        }
    }

    /// The head at the start of the buffer, taken out of it (`None`: not all of it is there).
    /// Not async, so the parser's header slots are not part of every request's future (which is
    /// moved, and so copied, as it is set up: the profile showed the copies).
    fn parse_head(
        &mut self,
        head_only: bool,
        want: bool,
    ) -> Result<Option<(StatusCode, HeaderMap, Framing, bool)>, Failure> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        let used = match response.parse(&self.read) {
            Ok(httparse::Status::Complete(used)) => used,
            Ok(httparse::Status::Partial) if self.read.len() < MAX_HEAD => return Ok(None),
            _ => return Err(Failure::Io),
        };
        let status = StatusCode::from_u16(response.code.unwrap_or(0)).map_err(|_| Failure::Io)?;
        let (mut length, mut chunked, mut close) = (None, false, response.version == Some(0));
        let mut map = HeaderMap::new();
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<u64>().ok());
                length = Some(n.ok_or(Failure::Io)?);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h.value.trim_ascii().to_ascii_lowercase().ends_with(b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                close =
                    h.value.eq_ignore_ascii_case(b"close") || (close && !h.value.eq_ignore_ascii_case(b"keep-alive"));
            }
            if want {
                let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| Failure::Io)?;
                map.append(name, HeaderValue::from_bytes(h.value).map_err(|_| Failure::Io)?);
            }
        }
        self.read.advance(used);
        let framing = if head_only || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            Framing::None
        } else if chunked {
            Framing::Chunked
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            Framing::Close
        };
        Ok(Some((status, map, framing, close)))
    }

    /// Reads the body; also returns whether the connection ended with it.
    async fn body(&mut self, framing: Framing, sink: Sink) -> Result<(Received, bool), Failure> {
        let mut out = Out::new(sink);
        match framing {
            Framing::None => {}
            Framing::Length(n) => self.exactly(n, &mut out).await?,
            Framing::Chunked => loop {
                let size = loop {
                    match httparse::parse_chunk_size(&self.read) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            self.read.advance(used);
                            break size;
                        }
                        Ok(httparse::Status::Partial) if self.read.len() < MAX_HEAD => {
                            if !self.fill().await? {
                                return Err(Failure::Io);
                            }
                        }
                        _ => return Err(Failure::Io),
                    }
                };
                if size == 0 {
                    self.trailers().await?;
                    break;
                }
                self.exactly(size, &mut out).await?;
                self.crlf().await?;
            },
            Framing::Close => {
                loop {
                    out.take(self.read.split());
                    if !self.fill().await? {
                        break;
                    }
                }
                return Ok((out.finish(), true));
            }
        }
        Ok((out.finish(), false))
    }

    /// Passes the next `n` bytes to `out`.
    async fn exactly(&mut self, n: u64, out: &mut Out) -> Result<(), Failure> {
        let mut left = n;
        loop {
            let here = u64::try_from(self.read.len()).unwrap_or(u64::MAX).min(left);
            out.take(self.read.split_to(usize::try_from(here).unwrap_or(usize::MAX)));
            left -= here;
            if left == 0 {
                return Ok(());
            }
            if let Out::Collect(b) = out {
                b.reserve(usize::try_from(left).unwrap_or(0).min(16 << 20));
            }
            if !self.fill().await? {
                return Err(Failure::Io);
            }
        }
    }

    /// Skips the trailer fields after the last chunk, up to the empty line that ends the body.
    async fn trailers(&mut self) -> Result<(), Failure> {
        loop {
            match self.read.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.read.advance(2);
                    return Ok(());
                }
                Some(end) => self.read.advance(end + 2),
                None if self.read.len() < MAX_HEAD => {
                    if !self.fill().await? {
                        return Err(Failure::Io);
                    }
                }
                None => return Err(Failure::Io),
            }
        }
    }

    /// Reads the CRLF after a chunk.
    async fn crlf(&mut self) -> Result<(), Failure> {
        while self.read.len() < 2 {
            if !self.fill().await? {
                return Err(Failure::Io);
            }
        }
        if &self.read[..2] != b"\r\n" {
            return Err(Failure::Io);
        }
        self.read.advance(2);
        Ok(())
    }
}

/// Where body bytes go.
enum Out {
    Collect(BytesMut),
    Digest(sha2::Sha256, u64),
}

impl Out {
    fn new(sink: Sink) -> Self {
        match sink {
            Sink::Collect => Self::Collect(BytesMut::new()),
            Sink::Digest => Self::Digest(sha2::Sha256::new(), 0),
        }
    }

    fn take(&mut self, bytes: BytesMut) {
        match self {
            // The first piece is kept as it is (no copy when the body came in one read).
            Self::Collect(b) if b.is_empty() => *b = bytes,
            Self::Collect(b) => b.extend_from_slice(&bytes),
            Self::Digest(h, n) => {
                h.update(&bytes);
                *n += bytes.len() as u64;
            }
        }
    }

    fn finish(self) -> Received {
        match self {
            Self::Collect(b) => Received::Body(b.freeze()),
            Self::Digest(h, bytes) => Received::Digest { bytes, sha256: h.finalize().into() },
        }
    }
}
