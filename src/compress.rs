//! IMAP COMPRESS=DEFLATE (RFC 4978): a raw DEFLATE stream each way over a
//! connection, for links where bytes cost more than CPU.

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// When a job asks servers to compress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressMode {
    /// When the server offers it and is not on this computer or its local
    /// network: there, the link is fast and compressing only costs CPU.
    #[default]
    Auto,
    /// Whenever the server offers it.
    Always,
    Never,
}

impl CompressMode {
    /// Whether a connection to `peer`, whose round trip took `round_trip`
    /// once logged in, should be compressed. Auto judges by what was
    /// measured as well as by the address: a proxy or tunnel on the local
    /// network may lead to a distant server, and then the link is slow.
    pub fn wanted_for(self, peer: Option<IpAddr>, round_trip: std::time::Duration) -> bool {
        match self {
            CompressMode::Always => true,
            CompressMode::Never => false,
            CompressMode::Auto => peer.is_some_and(|ip| !is_local(ip)) || round_trip >= DISTANT,
        }
    }
}

/// A round trip from which a server counts as distant (a LAN's are well
/// under a millisecond).
pub const DISTANT: std::time::Duration = std::time::Duration::from_millis(5);

/// Loopback, private, link-local and unique-local addresses.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_local(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Size of the buffer for compressed bytes read from the connection.
const READ_BUF: usize = 64 * 1024;
/// Compressed bytes waiting for the connection beyond which writes wait.
const WRITE_HIGH_WATER: usize = 256 * 1024;

/// A connection whose bytes are DEFLATE-compressed each way. Writes are
/// sync-flushed on `flush`, so that every command reaches the server whole.
#[derive(Debug)]
pub struct Deflate<S> {
    inner: S,
    inflate: Decompress,
    rbuf: Box<[u8]>,
    rpos: usize,
    rlen: usize,
    /// The last inflate filled the caller's buffer: more may be pending
    /// inside the decompressor without new input.
    rfull: bool,
    deflate: Compress,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Bytes were compressed since the last sync flush.
    unsynced: bool,
}

impl<S> Deflate<S> {
    pub fn new(inner: S) -> Deflate<S> {
        Deflate {
            inner,
            // Raw DEFLATE, no zlib header (RFC 4978, section 4).
            inflate: Decompress::new(false),
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            rpos: 0,
            rlen: 0,
            rfull: false,
            // The fastest level: most of the gain on mail, little CPU.
            deflate: Compress::new(Compression::fast(), false),
            wbuf: Vec::new(),
            wpos: 0,
            unsynced: false,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn corrupt(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("compressed data garbled: {e}"),
    )
}

impl<S: AsyncWrite + Unpin> Deflate<S> {
    /// Writes the compressed bytes waiting; `Ready` once none are left.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wpos < self.wbuf.len() {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.wbuf[self.wpos..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        self.wbuf.clear();
        self.wpos = 0;
        Poll::Ready(Ok(()))
    }

    /// Compresses `input` into the write buffer; returns how much was taken
    /// (all of it).
    fn compress(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            self.wbuf.reserve(input.len() - taken + 64);
            let (in_before, out_before) = (self.deflate.total_in(), self.deflate.total_out());
            self.deflate
                .compress_vec(&input[taken..], &mut self.wbuf, flush)
                .map_err(corrupt)?;
            taken += (self.deflate.total_in() - in_before) as usize;
            let made = self.deflate.total_out() - out_before;
            // All input taken, and output stopped short of the room it had
            // (or made nothing): nothing more is pending for this flush.
            if taken == input.len() && (self.wbuf.len() < self.wbuf.capacity() || made == 0) {
                return Ok(taken);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.rpos < this.rlen || this.rfull {
                let out = buf.initialize_unfilled();
                let (in_before, out_before) = (this.inflate.total_in(), this.inflate.total_out());
                let status = this
                    .inflate
                    .decompress(&this.rbuf[this.rpos..this.rlen], out, FlushDecompress::None)
                    .map_err(corrupt)?;
                let used = (this.inflate.total_in() - in_before) as usize;
                let made = (this.inflate.total_out() - out_before) as usize;
                this.rpos += used;
                this.rfull = made == out.len();
                if made > 0 {
                    buf.advance(made);
                    return Poll::Ready(Ok(()));
                }
                if status == Status::StreamEnd {
                    return Poll::Ready(Ok(()));
                }
                if used > 0 {
                    continue;
                }
            }
            // Nothing more to inflate without new input: keep what is left
            // (a block's start) and read more after it.
            this.rbuf.copy_within(this.rpos..this.rlen, 0);
            this.rlen -= this.rpos;
            this.rpos = 0;
            if this.rlen == this.rbuf.len() {
                return Poll::Ready(Err(corrupt("no progress on a full buffer")));
            }
            let mut rb = ReadBuf::new(&mut this.rbuf[this.rlen..]);
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                // The connection closed: end of stream for the reader too.
                return Poll::Ready(Ok(()));
            }
            this.rlen += n;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.wbuf.len() - this.wpos >= WRITE_HIGH_WATER {
            std::task::ready!(this.poll_drain(cx))?;
        }
        let taken = this.compress(data, FlushCompress::None)?;
        this.unsynced |= taken > 0;
        // Send what is ready without waiting; flush sends the rest.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unsynced {
            this.compress(&[], FlushCompress::Sync)?;
            this.unsynced = false;
        }
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn text(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        let mut x: u32 = 7;
        while v.len() < n {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let word = ["Subject: ", "hello ", "world ", "\r\n", "migrate ", "mail "]
                [(x >> 16) as usize % 6];
            v.extend_from_slice(word.as_bytes());
        }
        v.truncate(n);
        v
    }

    #[tokio::test]
    async fn writes_are_raw_deflate_a_server_can_inflate_at_each_flush() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let mut z = Deflate::new(client);
        let command = b"A1 APPEND INBOX {5+}\r\nhello\r\n";
        z.write_all(command).await.unwrap();
        z.flush().await.unwrap();
        // What the server got so far inflates to the whole command: the
        // sync flush left nothing behind in the compressor.
        let mut wire = vec![0u8; 4096];
        let n = server.read(&mut wire).await.unwrap();
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&wire[..n])
            .read_to_end(&mut out)
            .ok();
        assert_eq!(out, command);
        // A big write, compressed well below its size.
        let big = text(300_000);
        z.write_all(&big).await.unwrap();
        z.flush().await.unwrap();
        drop(z);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(
            rest.len() < big.len() / 2,
            "{} of {}",
            rest.len(),
            big.len()
        );
        let mut all = wire[..n].to_vec();
        all.extend_from_slice(&rest);
        let mut inflated = Vec::new();
        let mut d = flate2::Decompress::new(false);
        inflated.reserve(big.len() + command.len() + 16);
        d.decompress_vec(&all, &mut inflated, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(&inflated[..command.len()], command);
        assert_eq!(&inflated[command.len()..], &big[..]);
    }

    #[tokio::test]
    async fn reads_inflate_what_the_server_compressed_in_any_chunking() {
        let big = text(200_000);
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"* OK [COMPRESSIONACTIVE]\r\n").unwrap();
        e.write_all(&big).unwrap();
        let wire = e.finish().unwrap();
        let (mut server, client) = tokio::io::duplex(64);
        let feeder = tokio::spawn(async move {
            // Odd chunk sizes: block boundaries fall anywhere.
            for chunk in wire.chunks(37) {
                server.write_all(chunk).await.unwrap();
            }
        });
        let mut z = Deflate::new(client);
        let mut got = Vec::new();
        let mut small = [0u8; 100];
        // Small reads first (the decompressor keeps output pending), then
        // the rest.
        for _ in 0..10 {
            let n = z.read(&mut small).await.unwrap();
            got.extend_from_slice(&small[..n]);
        }
        z.read_to_end(&mut got).await.unwrap();
        feeder.await.unwrap();
        let mut want = b"* OK [COMPRESSIONACTIVE]\r\n".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(got.len(), want.len());
        assert!(got == want);
    }

    #[tokio::test]
    async fn garbage_is_an_error_not_a_hang() {
        let (mut server, client) = tokio::io::duplex(64);
        server.write_all(&[0xff; 32]).await.unwrap();
        drop(server);
        let mut z = Deflate::new(client);
        let mut out = Vec::new();
        let e = z.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn auto_compresses_beyond_the_local_network_or_when_the_link_is_slow() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let near = std::time::Duration::from_micros(300);
        let far = std::time::Duration::from_millis(40);
        for local in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.9",
            "172.16.0.1",
            "169.254.1.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(!CompressMode::Auto.wanted_for(ip(local), near), "{local}");
            assert!(CompressMode::Always.wanted_for(ip(local), near), "{local}");
            // A local address, yet 40 ms away (a proxy, a tunnel): slow.
            assert!(CompressMode::Auto.wanted_for(ip(local), far), "{local}");
            assert!(!CompressMode::Never.wanted_for(ip(local), far), "{local}");
        }
        for remote in ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(CompressMode::Auto.wanted_for(ip(remote), near), "{remote}");
            assert!(
                !CompressMode::Never.wanted_for(ip(remote), near),
                "{remote}"
            );
        }
        assert!(!CompressMode::Auto.wanted_for(None, near));
    }
}
