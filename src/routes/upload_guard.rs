//! The raw body of a multipart upload, guarded before the multipart parser reads it. The
//! parser buffers a part's header until its blank line and rescans the buffer on every
//! read, so a header that never ends would grow memory and burn a worker; and a body sent
//! a byte at a time would hold a connection. Here the body is cut off when it passes its
//! size, when a part's header passes 8 KiB, when it pauses longer than the body deadline
//! (shorter under pressure), or when it takes longer than two minutes in all.

use actix_web::error::PayloadError;
use actix_web::web::{Bytes, Payload};
use futures::StreamExt;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use tokio::time::Instant;

/// Why a body was cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breach {
    TooLarge,
    HeaderTooLong,
    TooSlow,
}

const MAX_PART_HEADER: usize = 8 * 1024;
const MAX_DURATION: Duration = Duration::from_secs(120);

/// Finds where parts' headers begin and end in the body as it streams past, across chunk
/// edges: a header begins after a boundary line (`--boundary`) and ends at its blank line.
struct Scanner {
    delimiter: Vec<u8>,
    in_header: bool,
    /// Where the current header began (absolute offset), while in one.
    header_from: usize,
    /// The last bytes of the previous chunk (a needle may straddle two chunks).
    tail: Vec<u8>,
    seen: usize,
}

impl Scanner {
    fn new(boundary: &str) -> Self {
        Self {
            delimiter: format!("--{boundary}").into_bytes(),
            in_header: false,
            header_from: 0,
            tail: Vec::new(),
            seen: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), Breach> {
        let start = self.seen - self.tail.len();
        let mut hay = std::mem::take(&mut self.tail);
        hay.extend_from_slice(chunk);
        self.seen += chunk.len();
        let mut pos = 0;
        loop {
            if self.in_header {
                match memchr::memmem::find(&hay[pos..], b"\r\n\r\n") {
                    Some(i) => {
                        self.in_header = false;
                        pos += i + 4;
                    }
                    None => {
                        if self.seen - self.header_from > MAX_PART_HEADER {
                            return Err(Breach::HeaderTooLong);
                        }
                        break;
                    }
                }
            } else {
                match memchr::memmem::find(&hay[pos..], &self.delimiter) {
                    Some(i) => {
                        self.in_header = true;
                        pos += i + self.delimiter.len();
                        self.header_from = start + pos;
                    }
                    None => break,
                }
            }
        }
        let keep = self.delimiter.len().max(4) - 1;
        let from = hay.len().saturating_sub(keep).max(pos);
        self.tail = hay[from..].to_vec();
        Ok(())
    }
}

/// The multipart boundary named by a `Content-Type` header, if any.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// `payload` as a stream the parser can read, cut off at the first breach; the breach is
/// left in the returned cell for the answer.
pub fn guard(
    payload: Payload,
    boundary: &str,
    max_bytes: usize,
    idle: Duration,
) -> (
    impl futures::Stream<Item = Result<Bytes, PayloadError>> + 'static,
    Rc<Cell<Option<Breach>>>,
) {
    let breach = Rc::new(Cell::new(None));
    let ends = Instant::now() + MAX_DURATION;
    let noted = breach.clone();
    let state = Some((payload, Scanner::new(boundary)));
    let stream = futures::stream::unfold(state, move |state| {
        let breach = noted.clone();
        async move {
            let (mut payload, mut scan) = state?;
            let cut = |b: Breach, error: PayloadError| {
                breach.set(Some(b));
                Some((Err(error), None))
            };
            let until = (Instant::now() + idle).min(ends);
            let bytes = match tokio::time::timeout_at(until, payload.next()).await {
                Err(_) => {
                    let slow = std::io::Error::new(std::io::ErrorKind::TimedOut, "too slow");
                    return cut(Breach::TooSlow, PayloadError::Io(slow));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(e), None)),
                Ok(Some(Ok(bytes))) => bytes,
            };
            if scan.seen + bytes.len() > max_bytes {
                return cut(Breach::TooLarge, PayloadError::Overflow);
            }
            if let Err(b) = scan.feed(&bytes) {
                let bad = std::io::Error::new(std::io::ErrorKind::InvalidData, "part header");
                return cut(b, PayloadError::Io(bad));
            }
            Some((Ok(bytes), Some((payload, scan))))
        }
    })
    // The parser may poll again after the end.
    .fuse();
    (stream, breach)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_across_chunk_edges_and_an_endless_one_is_cut() {
        let mut s = Scanner::new("XB");
        s.feed(b"--X").unwrap();
        s.feed(b"B\r\nContent-Disposition: form-data; name=\"kind\"\r")
            .unwrap();
        assert!(s.in_header);
        s.feed(b"\n\r\nother\r\n--XB\r\nContent-Disposition: x\r\n\r\n")
            .unwrap();
        assert!(!s.in_header);
        s.feed(&vec![b'a'; 64 * 1024]).unwrap();
        let mut endless = Scanner::new("XB");
        endless.feed(b"--XB\r\nX-Pad: ").unwrap();
        let mut cut = Ok(());
        for _ in 0..20 {
            cut = endless.feed(&[b'A'; 1024]);
            if cut.is_err() {
                break;
            }
        }
        assert_eq!(cut, Err(Breach::HeaderTooLong));
    }

    #[test]
    fn the_boundary_is_read_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(
            boundary("multipart/form-data;boundary=XY").as_deref(),
            Some("XY")
        );
        assert_eq!(boundary("multipart/form-data"), None);
    }
}
