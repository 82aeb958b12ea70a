//! A minimal HTTP/1.1 client for the load generator: one keep-alive connection, one
//! request in flight, the request written with one `write` and the answer parsed in
//! place. The generator shares the machine with the server it measures, so every
//! microsecond it spends is one the server does not get; a general client (a driver
//! task per connection, a channel between it and the caller, a header map per request)
//! costs about twice as much per request as this.
//!
//! Only what `counterfoil serve` answers is understood: a status line, headers and a
//! body of `Content-Length` bytes. Anything else (a chunked answer, a malformed head)
//! is an error naming what was seen, never a guess.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most headers an answer may carry.
const MAX_HEADERS: usize = 32;

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    /// What was read and not yet consumed: the answer being parsed.
    buf: Vec<u8>,
    /// The request being sent: head and body, reused between requests.
    out: Vec<u8>,
    /// Set when the last answer said `Connection: close`.
    closed: bool,
}

/// An answer: its status and where its body lies in [`Conn::body`].
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    body: (usize, usize),
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
            out: Vec::with_capacity(1024),
            closed: false,
        })
    }

    /// Whether the server said it closes this connection after its last answer.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Sends `head` (the request line and headers, without `Content-Length` and the
    /// blank line) and `body`, and reads the whole answer.
    pub async fn request(&mut self, head: &[u8], body: &[u8]) -> Result<Answer> {
        self.out.clear();
        self.out.extend_from_slice(head);
        self.out.extend_from_slice(b"Content-Length: ");
        self.out
            .extend_from_slice(itoa_buf(body.len(), &mut [0u8; 20]));
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body);
        self.stream
            .write_all(&self.out)
            .await
            .context("sending the request")?;
        self.read_answer().await
    }

    /// The body of `answer`, the last one read.
    pub fn body(&self, answer: &Answer) -> &[u8] {
        &self.buf[answer.body.0..answer.body.1]
    }

    async fn read_answer(&mut self) -> Result<Answer> {
        self.buf.clear();
        loop {
            if let Some((status, head_len, length, close)) = parse_head(&self.buf)? {
                let end = head_len + length;
                while self.buf.len() < end {
                    self.fill().await?;
                }
                if self.buf.len() > end {
                    bail!(
                        "the server sent {} bytes past the end of its answer",
                        self.buf.len() - end
                    );
                }
                self.closed = close;
                return Ok(Answer {
                    status,
                    body: (head_len, end),
                });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<()> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(4096);
        }
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .context("reading the answer")?;
        if n == 0 {
            bail!("the server closed the connection mid-answer");
        }
        Ok(())
    }
}

/// Status, head length, body length and `Connection: close` of a complete head in
/// `buf`; `None` while the head is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, usize, bool)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf).context("parsing the answer's head")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = resp.code.unwrap_or(0);
    let mut length = None;
    let mut close = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).context("Content-Length is not text")?;
            length = Some(
                text.trim()
                    .parse::<usize>()
                    .with_context(|| format!("Content-Length {text:?} is not a number"))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!(
                "the answer uses Transfer-Encoding {:?}, which this client does not read",
                String::from_utf8_lossy(h.value)
            );
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    match length {
        Some(n) => Ok(Some((status, head_len, n, close))),
        None => bail!("answer {status} has no Content-Length"),
    }
}

/// `n` in decimal, written into `buf`.
fn itoa_buf(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_parsed_once_complete() {
        let text = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\nhello";
        assert!(parse_head(&text[..20]).unwrap().is_none());
        let (status, head, len, close) = parse_head(text).unwrap().unwrap();
        assert_eq!((status, len, close), (201, 5, false));
        assert_eq!(&text[head..head + len], b"hello");
    }

    #[test]
    fn connection_close_is_noticed_and_chunked_refused() {
        let close =
            b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            parse_head(close).unwrap().unwrap(),
            (413, close.len(), 0, true)
        );
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        let e = parse_head(chunked).unwrap_err().to_string();
        assert!(e.contains("Transfer-Encoding"), "{e}");
        let none = b"HTTP/1.1 200 OK\r\n\r\n";
        assert!(
            parse_head(none)
                .unwrap_err()
                .to_string()
                .contains("Content-Length")
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0usize, 7, 10, 512, 1_000_001] {
            assert_eq!(itoa_buf(n, &mut [0u8; 20]), n.to_string().as_bytes());
        }
    }
}
