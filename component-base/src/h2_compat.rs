//! HTTP/2 leniency for clients that send a `:authority` that is not a URI authority.
//!
//! etcdctl 3.4 (and etcd's Go client before 3.5.1) sends its endpoint verbatim as the
//! `:authority` of per-endpoint calls, e.g. `http://127.0.0.1:2379`. Go's HTTP/2 server
//! accepts that; h2 (under hyper and tonic) resets the stream with PROTOCOL_ERROR. So
//! the server reads a connection through [`AuthorityFix`], which follows the client's
//! HTTP/2 frames, decodes each header block (HPACK, RFC 7541) to keep its state, and
//! forwards blocks untouched while their authority is well formed. From the first
//! malformed authority on, blocks are repaired (the scheme dropped) and re-encoded
//! without compression state. Every other frame, and HTTP/1.1, passes through as is.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::hpack_tables::{HUFFMAN, STATIC_TABLE};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADERS: u8 = 0x1;
const FRAME_CONTINUATION: u8 = 0x9;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;
/// Largest frame payload we emit (the HTTP/2 default maximum).
const MAX_FRAME: usize = 16_384;

/// A header block being assembled from HEADERS + CONTINUATION frames.
struct PendingBlock {
    stream_id: u32,
    flags: u8,
    priority: Option<Vec<u8>>,
    block: Vec<u8>,
    /// The original frames, forwarded as they are when nothing needs repairing.
    raw: Vec<u8>,
}

enum Phase {
    /// Reading the client connection preface.
    Preface,
    /// HTTP/2 frames.
    Frames,
    /// Not HTTP/2 with prior knowledge (HTTP/1.1): bytes pass through.
    Passthrough,
}

/// Wraps a server-side connection. Reads are inspected frame by frame; writes pass
/// through. See the module documentation.
pub struct AuthorityFix<S> {
    inner: S,
    inb: Vec<u8>,
    inpos: usize,
    out: Vec<u8>,
    outpos: usize,
    phase: Phase,
    decoder: Decoder,
    /// Once one block was re-encoded, every later one must be (the server's HPACK
    /// state no longer follows the client's).
    rewriting: bool,
    pending: Option<PendingBlock>,
    eof: bool,
}

impl<S> AuthorityFix<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            inb: Vec::with_capacity(16 * 1024),
            inpos: 0,
            out: Vec::with_capacity(16 * 1024),
            outpos: 0,
            phase: Phase::Preface,
            decoder: Decoder::new(),
            rewriting: false,
            pending: None,
            eof: false,
        }
    }

    /// Moves every complete unit of input to the output, repairing header blocks.
    fn process(&mut self) -> io::Result<()> {
        loop {
            let avail = &self.inb[self.inpos..];
            match self.phase {
                Phase::Passthrough => {
                    self.out.extend_from_slice(avail);
                    self.inpos = self.inb.len();
                    return Ok(());
                }
                Phase::Preface => {
                    let n = avail.len().min(PREFACE.len());
                    if avail[..n] != PREFACE[..n] {
                        self.phase = Phase::Passthrough;
                        continue;
                    }
                    if n < PREFACE.len() {
                        return Ok(());
                    }
                    self.out.extend_from_slice(PREFACE);
                    self.inpos += PREFACE.len();
                    self.phase = Phase::Frames;
                }
                Phase::Frames => {
                    if avail.len() < 9 || avail.len() < 9 + frame_len(avail) {
                        return Ok(());
                    }
                    let len = frame_len(avail);
                    let frame = &self.inb[self.inpos..self.inpos + 9 + len];
                    self.inpos += 9 + len;
                    let (ty, flags) = (frame[3], frame[4]);
                    let stream_id = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) & 0x7fff_ffff;
                    let payload = &frame[9..];
                    match ty {
                        FRAME_HEADERS => {
                            let (frag, prio) = headers_fragment(payload, flags);
                            self.pending = Some(PendingBlock {
                                stream_id,
                                flags,
                                priority: prio.map(<[u8]>::to_vec),
                                block: frag.to_vec(),
                                raw: frame.to_vec(),
                            });
                        }
                        FRAME_CONTINUATION if self.pending.is_some() => {
                            if let Some(p) = self.pending.as_mut() {
                                p.block.extend_from_slice(payload);
                                p.raw.extend_from_slice(frame);
                            }
                        }
                        _ => {
                            self.out.extend_from_slice(frame);
                            continue;
                        }
                    }
                    if flags & FLAG_END_HEADERS != 0
                        && let Some(p) = self.pending.take()
                    {
                        self.finish_block(p)?;
                    }
                }
            }
        }
    }

    fn finish_block(&mut self, p: PendingBlock) -> io::Result<()> {
        let fields = self.decoder.decode(&p.block).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let malformed = fields.iter().any(|(n, v)| n == b":authority" && !valid_authority(v));
        if !malformed && !self.rewriting {
            self.out.extend_from_slice(&p.raw);
            // A client sends one authority per connection (grpc-go, Go's and Rust's
            // HTTP/2 clients): a well-formed first request means nothing to repair, so
            // the rest of the connection passes through untouched.
            self.phase = Phase::Passthrough;
            return Ok(());
        }
        self.rewriting = true;
        let block = encode(fields.into_iter().filter_map(|(n, v)| {
            if n == b":authority" && !valid_authority(&v) {
                repaired_authority(&v).map(|a| (n, a))
            } else {
                Some((n, v))
            }
        }));
        header_frames(&mut self.out, p.stream_id, p.flags, p.priority.as_deref(), &block);
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFix<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.outpos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.outpos);
                buf.put_slice(&this.out[this.outpos..this.outpos + n]);
                this.outpos += n;
                return Poll::Ready(Ok(()));
            }
            this.out.clear();
            this.outpos = 0;
            if this.inpos > 0 && (this.inpos == this.inb.len() || this.inpos > 64 * 1024) {
                this.inb.drain(..this.inpos);
                this.inpos = 0;
            }
            this.process()?;
            if !this.out.is_empty() {
                continue;
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    if rb.filled().is_empty() {
                        this.eof = true;
                        // Whatever is left incomplete goes through as it is.
                        let rest = this.inb[this.inpos..].to_vec();
                        this.inpos = this.inb.len();
                        this.out.extend_from_slice(&rest);
                    } else {
                        this.inb.extend_from_slice(rb.filled());
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn frame_len(h: &[u8]) -> usize {
    (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2])
}

/// The header block fragment of a HEADERS payload, and its priority fields if any.
fn headers_fragment(payload: &[u8], flags: u8) -> (&[u8], Option<&[u8]>) {
    let mut p = payload;
    let mut pad = 0;
    if flags & FLAG_PADDED != 0 && !p.is_empty() {
        pad = usize::from(p[0]);
        p = &p[1..];
    }
    let mut prio = None;
    if flags & FLAG_PRIORITY != 0 && p.len() >= 5 {
        prio = Some(&p[..5]);
        p = &p[5..];
    }
    (&p[..p.len().saturating_sub(pad)], prio)
}

fn valid_authority(v: &[u8]) -> bool {
    std::str::from_utf8(v).is_ok_and(|s| http::uri::Authority::from_str(s).is_ok())
}

/// "http://host:port/" → "host:port"; None when still not an authority.
fn repaired_authority(v: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.split('/').next()?;
    valid_authority(s.as_bytes()).then(|| s.as_bytes().to_vec())
}

/// HEADERS (+ CONTINUATION) frames carrying `block`.
fn header_frames(out: &mut Vec<u8>, stream_id: u32, flags: u8, prio: Option<&[u8]>, block: &[u8]) {
    let mut first = Vec::new();
    if let Some(p) = prio {
        first.extend_from_slice(p);
    }
    let room = MAX_FRAME - first.len();
    let (head, mut rest) = block.split_at(block.len().min(room));
    first.extend_from_slice(head);
    let mut f = flags & (FLAG_END_STREAM | FLAG_PRIORITY);
    if rest.is_empty() {
        f |= FLAG_END_HEADERS;
    }
    frame(out, FRAME_HEADERS, f, stream_id, &first);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME));
        rest = tail;
        let f = if rest.is_empty() { FLAG_END_HEADERS } else { 0 };
        frame(out, FRAME_CONTINUATION, f, stream_id, chunk);
    }
}

fn frame(out: &mut Vec<u8>, ty: u8, flags: u8, id: u32, payload: &[u8]) {
    let len = payload.len();
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
}

/// An HPACK decoder (RFC 7541) with its dynamic table.
pub struct Decoder {
    dynamic: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
}

type Field = (Vec<u8>, Vec<u8>);

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self { dynamic: VecDeque::new(), size: 0, max: 4096 }
    }

    fn get(&self, idx: usize) -> Result<Field, &'static str> {
        match idx {
            0 => Err("index 0"),
            1..=61 => {
                let (n, v) = STATIC_TABLE[idx - 1];
                Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            }
            _ => self.dynamic.get(idx - 62).cloned().ok_or("index beyond the dynamic table"),
        }
    }

    fn insert(&mut self, f: Field) {
        let sz = f.0.len() + f.1.len() + 32;
        while self.size + sz > self.max {
            match self.dynamic.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
        if sz <= self.max {
            self.size += sz;
            self.dynamic.push_front(f);
        }
    }

    fn evict(&mut self) {
        while self.size > self.max {
            match self.dynamic.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
    }

    /// Decodes one complete header block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, &'static str> {
        let mut r = Reader { b: block, pos: 0 };
        let mut out = Vec::new();
        while let Some(&b) = r.peek() {
            if b & 0x80 != 0 {
                let idx = r.int(7)?;
                out.push(self.get(idx)?);
            } else if b & 0xc0 == 0x40 {
                let idx = r.int(6)?;
                let name = if idx == 0 { r.string()? } else { self.get(idx)?.0 };
                let value = r.string()?;
                self.insert((name.clone(), value.clone()));
                out.push((name, value));
            } else if b & 0xe0 == 0x20 {
                self.max = r.int(5)?;
                self.evict();
            } else {
                let idx = r.int(4)?;
                let name = if idx == 0 { r.string()? } else { self.get(idx)?.0 };
                let value = r.string()?;
                out.push((name, value));
            }
        }
        Ok(out)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<&u8> {
        self.b.get(self.pos)
    }

    fn next(&mut self) -> Result<u8, &'static str> {
        let b = *self.b.get(self.pos).ok_or("truncated header block")?;
        self.pos += 1;
        Ok(b)
    }

    fn int(&mut self, prefix: u32) -> Result<usize, &'static str> {
        let mask = (1usize << prefix) - 1;
        let mut v = usize::from(self.next()?) & mask;
        if v < mask {
            return Ok(v);
        }
        let mut shift = 0;
        loop {
            let b = self.next()?;
            v = v
                .checked_add((usize::from(b) & 0x7f).checked_shl(shift).ok_or("integer overflow")?)
                .ok_or("integer overflow")?;
            shift += 7;
            if b & 0x80 == 0 || shift > 28 {
                return Ok(v);
            }
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, &'static str> {
        let huffman = self.peek().is_some_and(|b| b & 0x80 != 0);
        let len = self.int(7)?;
        let end = self.pos.checked_add(len).filter(|e| *e <= self.b.len()).ok_or("truncated string")?;
        let raw = &self.b[self.pos..end];
        self.pos = end;
        if huffman { huffman_decode(raw) } else { Ok(raw.to_vec()) }
    }
}

/// The canonical-code decoding tables: for each bit length, the first code, how many
/// codes have that length, and where their symbols start in `symbols`.
struct HuffmanTables {
    first: [u32; 31],
    count: [u32; 31],
    offset: [usize; 31],
    symbols: Vec<u16>,
}

fn huffman_tables() -> &'static HuffmanTables {
    static T: OnceLock<HuffmanTables> = OnceLock::new();
    T.get_or_init(|| {
        let mut by_len: Vec<(u8, u32, u16)> =
            HUFFMAN.iter().enumerate().map(|(sym, &(code, len))| (len, code, sym as u16)).collect();
        by_len.sort_unstable();
        let mut t = HuffmanTables { first: [0; 31], count: [0; 31], offset: [0; 31], symbols: Vec::with_capacity(257) };
        for (i, &(len, code, sym)) in by_len.iter().enumerate() {
            let l = usize::from(len);
            if t.count[l] == 0 {
                t.first[l] = code;
                t.offset[l] = i;
            }
            // RFC 7541's code is canonical: codes of one length are consecutive.
            debug_assert_eq!(code, t.first[l] + t.count[l]);
            t.count[l] += 1;
            t.symbols.push(sym);
        }
        t
    })
}

fn huffman_decode(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    let t = huffman_tables();
    let mut out = Vec::with_capacity(raw.len() * 8 / 5);
    let (mut code, mut len) = (0u32, 0usize);
    for byte in raw {
        for i in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> i) & 1);
            len += 1;
            if len > 30 {
                return Err("invalid Huffman code");
            }
            if t.count[len] > 0 && code >= t.first[len] && code - t.first[len] < t.count[len] {
                let sym = t.symbols[t.offset[len] + (code - t.first[len]) as usize];
                if sym == 256 {
                    return Err("EOS in a Huffman string");
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            }
        }
    }
    // What remains must be padding: at most 7 one-bits.
    if len > 7 || code != (1u32 << len) - 1 {
        return Err("invalid Huffman padding");
    }
    Ok(out)
}

/// Encodes fields as literals without indexing and without Huffman coding, so the
/// receiver's dynamic table never changes.
pub fn encode(fields: impl IntoIterator<Item = Field>) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.push(0x00);
        put_string(&mut out, &n);
        put_string(&mut out, &v);
    }
    out
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    let mut len = s.len();
    if len < 127 {
        out.push(len as u8);
    } else {
        out.push(127);
        len -= 127;
        while len >= 128 {
            out.push((len % 128 + 128) as u8);
            len /= 128;
        }
        out.push(len as u8);
    }
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 7541 C.4: requests with Huffman coding, sharing one dynamic table.
    #[test]
    fn decodes_the_rfc_examples_with_huffman_and_the_dynamic_table() {
        let mut d = Decoder::new();
        let f = d.decode(&hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")).unwrap();
        assert_eq!(f[3], (b":authority".to_vec(), b"www.example.com".to_vec()));
        let f = d.decode(&hex("828684be5886a8eb10649cbf")).unwrap();
        assert_eq!(f[3], (b":authority".to_vec(), b"www.example.com".to_vec()), "from the dynamic table");
        assert_eq!(f[4], (b"cache-control".to_vec(), b"no-cache".to_vec()));
        let f = d.decode(&hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")).unwrap();
        assert_eq!(f[4], (b"custom-key".to_vec(), b"custom-value".to_vec()));
        assert_eq!(d.size, 164, "table size as in the RFC");
    }

    #[test]
    fn encoding_round_trips_and_authorities_are_repaired() {
        let fields =
            vec![(b":authority".to_vec(), b"http://127.0.0.1:2379".to_vec()), (b"x".to_vec(), vec![b'v'; 300])];
        let mut d = Decoder::new();
        assert_eq!(d.decode(&encode(fields.clone())).unwrap(), fields);
        assert!(!valid_authority(b"http://127.0.0.1:2379"));
        assert!(valid_authority(b"127.0.0.1:2379"));
        assert_eq!(repaired_authority(b"http://127.0.0.1:2379").unwrap(), b"127.0.0.1:2379");
        assert_eq!(repaired_authority(b"https://etcd.local:2379/").unwrap(), b"etcd.local:2379");
        assert_eq!(repaired_authority(b"#initially=[x]"), None);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut d = Decoder::new();
        for bad in [&[0xbf_u8][..], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], &[0x40, 0x85, 0xff], &[0x00, 0x05, b'a']] {
            assert!(d.decode(bad).is_err(), "{bad:?}");
        }
    }
}
