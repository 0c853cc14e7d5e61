//! Newline-delimited JSON frames with a hard size cap.

use std::io;

use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::MAX_FRAME;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    /// The peer sent more than [`MAX_FRAME`] bytes without a newline.
    #[error("frame larger than {MAX_FRAME} bytes")]
    TooBig,
    /// The frame is not the JSON we expect.
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
}

/// Reads one frame; `Ok(None)` on a clean end of stream.
pub async fn read_frame<T, R>(reader: &mut R, buf: &mut Vec<u8>) -> Result<Option<T>, FrameError>
where
    T: DeserializeOwned,
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let mut limited = reader.take(MAX_FRAME as u64 + 1);
    let n = limited.read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if n > MAX_FRAME {
            return Err(FrameError::TooBig);
        }
        return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(Some(serde_json::from_slice(buf)?))
}

/// Writes one frame and flushes it.
pub async fn write_frame<T, W>(writer: &mut W, value: &T) -> io::Result<()>
where
    T: Serialize,
    W: AsyncWrite + Unpin,
{
    let mut bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    writer.write_all(&bytes).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::Request;

    #[tokio::test]
    async fn round_trip_and_eof() {
        let mut out = Vec::new();
        write_frame(&mut out, &Request::Ping).await.unwrap();
        let mut reader = tokio::io::BufReader::new(&out[..]);
        let mut buf = Vec::new();
        let got: Option<Request> = read_frame(&mut reader, &mut buf).await.unwrap();
        assert!(matches!(got, Some(Request::Ping)));
        let end: Option<Request> = read_frame(&mut reader, &mut buf).await.unwrap();
        assert!(end.is_none());
    }

    #[tokio::test]
    async fn oversized_frame_is_refused() {
        let big = vec![b'a'; MAX_FRAME + 10];
        let mut reader = tokio::io::BufReader::new(&big[..]);
        let mut buf = Vec::new();
        let got = read_frame::<Request, _>(&mut reader, &mut buf).await;
        assert!(matches!(got, Err(FrameError::TooBig)));
    }
}
