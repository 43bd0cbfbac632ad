//! Malware scanning with ClamAV's daemon (`--clamd 127.0.0.1:PORT`): a stored object's bytes are
//! streamed to clamd (`INSTREAM`, through the clamav-client crate) as the store sends them, and
//! clamd's verdict read back. An infected upload is deleted and rejected with the stable code
//! `infected`. Counted in the server's meter for `/metrics`: objects scanned by verdict, their
//! bytes, the time spent. The broker reads a presigned upload back from the store on its counted
//! sockets (a scan in the app tier carries every byte once more); the proxy tees the bytes it
//! is storing anyway ([`Scanner::scan_frames`]), so its scan costs no read.

use super::error::ApiError;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Bytes per `INSTREAM` chunk sent to clamd (the crate's chunks are read from the stream as
/// they come; this only caps one).
const CHUNK: usize = 256 * 1024;

/// A clamd to scan with.
#[derive(Clone, Debug)]
pub struct Scanner {
    address: String,
    /// Where its scans are counted (the server's meter).
    meter: std::sync::Arc<crate::metrics::Meter>,
}

impl Scanner {
    /// A scanner sending to clamd at `address` (`HOST:PORT`), counting into `meter`.
    #[must_use]
    pub fn new(address: &str, meter: std::sync::Arc<crate::metrics::Meter>) -> Self {
        Self { address: address.to_owned(), meter }
    }

    /// Whether clamd answers `PING`.
    ///
    /// # Errors
    /// A message naming the address when it does not.
    pub async fn ping(&self) -> Result<(), String> {
        let tcp = clamav_client::tokio::Tcp { host_address: self.address.as_str() };
        match clamav_client::tokio::ping(tcp).await {
            Ok(answer) if answer == clamav_client::PONG => Ok(()),
            Ok(answer) => Err(format!("clamd at {} answered {:?}", self.address, String::from_utf8_lossy(&answer))),
            Err(e) => Err(format!("clamd at {}: {e}", self.address)),
        }
    }

    /// Scans the stored object at `key`, read from the store: `Ok(None)` when clean,
    /// `Ok(Some(signature))` when infected.
    ///
    /// # Errors
    /// 502 `scan_failed` when the object cannot be read or clamd does not answer within `limit`
    /// (the upload stays unverified: it may be tried again).
    pub async fn scan_object(
        &self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        limit: Duration,
    ) -> Result<Option<String>, ApiError> {
        let read = async {
            let object = s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| ApiError::storage(&e))?;
            let body = futures_util::stream::unfold(object.body, |mut body| async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Some((Ok::<Bytes, std::io::Error>(chunk), body)),
                    Ok(None) => None,
                    Err(e) => Some((Err(std::io::Error::other(e)), body)),
                }
            });
            self.send(key, body).await
        };
        self.timed(key, limit, read).await
    }

    /// Scans the bytes that arrive on `frames` (an upload the proxy tees as it stores it) until
    /// the sender goes away: `Ok(None)` when clean, `Ok(Some(signature))` when infected.
    ///
    /// # Errors
    /// 502 `scan_failed` when clamd does not answer within `limit`.
    pub async fn scan_frames(
        &self,
        key: &str,
        frames: tokio::sync::mpsc::Receiver<Bytes>,
        limit: Duration,
    ) -> Result<Option<String>, ApiError> {
        let body = futures_util::stream::unfold(frames, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
        });
        self.timed(key, limit, self.send(key, body)).await
    }

    /// Runs `scan` within `limit`, counting its time and verdict.
    async fn timed(
        &self,
        key: &str,
        limit: Duration,
        scan: impl Future<Output = Result<Option<String>, ApiError>>,
    ) -> Result<Option<String>, ApiError> {
        let started = Instant::now();
        let verdict = tokio::time::timeout(limit, scan).await;
        self.meter.scans.micros.fetch_add(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX), Relaxed);
        let verdict = match verdict {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                self.meter.scans.failed.fetch_add(1, Relaxed);
                return Err(e);
            }
            Err(_) => {
                self.meter.scans.failed.fetch_add(1, Relaxed);
                return Err(ApiError::ScanFailed(format!("scanning {key} took longer than {limit:?}")));
            }
        };
        let counter = if verdict.is_some() { &self.meter.scans.infected } else { &self.meter.scans.clean };
        counter.fetch_add(1, Relaxed);
        Ok(verdict)
    }

    /// Streams `body` to clamd (`INSTREAM`), counting its bytes, and reads the verdict.
    async fn send(
        &self,
        key: &str,
        body: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>>,
    ) -> Result<Option<String>, ApiError> {
        let bytes = &self.meter.scans.bytes;
        let counted = futures_util::StreamExt::inspect(body, |chunk| {
            if let Ok(c) = chunk {
                bytes.fetch_add(c.len() as u64, Relaxed);
            }
        });
        let tcp = clamav_client::tokio::Tcp { host_address: self.address.as_str() };
        let answer = clamav_client::tokio::scan_stream(counted, tcp, Some(CHUNK))
            .await
            .map_err(|e| ApiError::ScanFailed(format!("scanning {key} with clamd at {}: {e}", self.address)))?;
        verdict(&answer).map_err(|e| ApiError::ScanFailed(format!("clamd at {}: {e}", self.address)))
    }
}

/// clamd's answer to `INSTREAM`: `stream: OK` (clean) or `stream: NAME FOUND` (infected).
///
/// # Errors
/// Any other answer (`... ERROR`, a size limit), quoted.
pub fn verdict(answer: &[u8]) -> Result<Option<String>, String> {
    let text = String::from_utf8_lossy(answer);
    let text = text.trim_end_matches('\0').trim();
    let said = text.strip_prefix("stream:").map(str::trim).ok_or_else(|| format!("unexpected answer {text:?}"))?;
    if said == "OK" {
        return Ok(None);
    }
    said.strip_suffix(" FOUND").map(|name| Some(name.to_owned())).ok_or_else(|| format!("answered {said:?}"))
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn clamd_answers_are_read() {
        assert_eq!(verdict(b"stream: OK\0"), Ok(None));
        assert_eq!(
            verdict(b"stream: PresignBench.EICAR-Test-File.UNOFFICIAL FOUND\0"),
            Ok(Some("PresignBench.EICAR-Test-File.UNOFFICIAL".to_owned()))
        );
        assert!(verdict(b"INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(verdict(b"stream: Can't allocate memory ERROR\0").is_err());
    }
}
