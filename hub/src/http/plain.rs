//! The connection's plaintext, between TLS (if any) and hyper. Reads are
//! counted for the pre-auth budget and the request-head tracker of
//! [`Conn`]. Writes pass through, except hyper's own answers to requests it
//! cannot parse or hold (a target over 65534 bytes, a head over its buffer
//! or line count, a broken request line or header), which hyper writes as a
//! bare `400`, `414` or `431` with `content-length: 0` before the router
//! sees a request: those are replaced by the hub's JSON error, so every
//! answer has the same shape.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::conn::Conn;
use super::error::error_body;
use super::limits;

/// A connection's plaintext stream.
pub struct Plain<IO> {
    io: IO,
    conn: Arc<Conn>,
    /// hyper's refusal being replaced: the JSON answer, how much of it is
    /// written, and how many bytes of hyper's to report once it all is.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<IO> Plain<IO> {
    /// The plaintext `io` of `conn`.
    pub fn new(io: IO, conn: Arc<Conn>) -> Self {
        Self {
            io,
            conn,
            replacing: None,
        }
    }
}

/// The hub's JSON answer in place of `head` when `head` is one of hyper's
/// bare refusals: a `400`, `414` or `431` status line followed by nothing
/// but `connection: close`, `content-length: 0` and `date`.
fn json_refusal(head: &[u8]) -> Option<Vec<u8>> {
    if head.len() > 512 || !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = text.split("\r\n");
    let code = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let (status, message) = match code {
        "400" => (StatusCode::BAD_REQUEST, limits::NOT_HTTP.to_string()),
        "414" => (StatusCode::URI_TOO_LONG, limits::target_too_long()),
        "431" => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            limits::head_too_large(),
        ),
        _ => return None,
    };
    let (mut empty, mut date) = (false, None);
    for line in lines {
        match line {
            "connection: close" => {}
            "content-length: 0" => empty = true,
            d if d.starts_with("date: ") => date = Some(d),
            _ => return None,
        }
    }
    if !empty {
        return None;
    }
    let body = serde_json::to_vec(&error_body(status, message, None)).ok()?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    );
    if let Some(d) = date {
        out.push_str(d);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<IO: AsyncRead + Unpin> AsyncRead for Plain<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        if !self.conn.read(&buf.filled()[before..]) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "more bytes than a handshake needs",
            )));
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> Plain<IO> {
    /// Writes the JSON answer in place of hyper's `data`; reports `data`
    /// written once the whole answer is.
    fn poll_replace(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some((answer, at, claimed)) = self.replacing.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while *at < answer.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &answer[*at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *at += n;
        }
        let claimed = *claimed;
        self.replacing = None;
        Poll::Ready(Ok(claimed))
    }

    /// Whether `data` starts hyper's refusal (or continues its replacement).
    fn intercepts(&mut self, data: &[u8]) -> bool {
        if self.replacing.is_none()
            && let Some(answer) = json_refusal(data)
        {
            self.replacing = Some((answer, 0, data.len()));
        }
        self.replacing.is_some()
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Plain<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.intercepts(data) {
            return self.poll_replace(cx);
        }
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's refusal is a head alone, in the first buffer.
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if self.intercepts(first) {
            return self.poll_replace(cx);
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::json_refusal;

    #[test]
    fn only_hypers_bare_refusals_are_replaced() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 17:26:08 GMT\r\n\r\n";
        let answer = String::from_utf8(json_refusal(hyper).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("date: Mon, 07 Dec 2026"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["status"], 414);
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(json_refusal(bare).is_some());
        for other in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\nx",
            b"\x81\x05hello",
        ] {
            assert!(json_refusal(other).is_none(), "{other:?}");
        }
    }
}
