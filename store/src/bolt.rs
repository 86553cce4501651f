//! Reading and writing bbolt (BoltDB) database files.
//!
//! etcd's snapshots (the Maintenance.Snapshot RPC, `etcdctl snapshot save`) are
//! bbolt files: two meta pages, a freelist page, and one B+tree per bucket.
//! This module writes such a file from in-memory buckets so that the real
//! `etcdctl snapshot status` / `snapshot restore` accept it, and reads one
//! back (ours or real etcd's) into its top-level buckets.
//!
//! Invariants of what [`write_db`] produces:
//! - page size 4096, pages 0 and 1 are meta pages (txid 0 and 1, same tree),
//!   page 2 is an empty freelist, every other page below the high-water mark
//!   belongs to exactly one B+tree, so bbolt's `tx.Check()` finds no error;
//! - every bucket is written non-inline (a leaf page of its own, even when
//!   empty), leaves hold as many elements as fit in one page, a single element
//!   larger than a page gets a leaf with overflow pages;
//! - branch keys are the first key of the child page.
//!
//! The file does not carry the sha256 trailer that etcd appends in the
//! Snapshot RPC stream; the caller adds it.
//!
//! This module is std only and knows nothing of mvcc or gRPC.

use std::fmt;
use std::io::{self, Write};

/// One top-level bucket: name and its key/value items, sorted by key, keys unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: Vec<u8>,
    pub items: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Why a file could not be read as a bbolt database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoltError {
    /// The file is shorter than the two meta pages.
    TooSmall { len: usize },
    /// Neither meta page has the right magic, version and checksum.
    NoValidMeta,
    /// A page reference points past the end of the file.
    PageOutOfBounds { pgid: u64 },
    /// A page in a bucket tree is neither a branch nor a leaf page.
    InvalidPageType { pgid: u64, flags: u16 },
    /// An element's key or value lies outside its page.
    ElementOutOfBounds { pgid: u64, index: usize },
    /// A tree is deeper than any real database (likely a page cycle).
    TreeTooDeep { pgid: u64 },
    /// A root-level key is not a bucket.
    NotABucket { key: Vec<u8> },
    /// A bucket holds a sub-bucket; etcd never writes these.
    NestedBucket { bucket: Vec<u8>, key: Vec<u8> },
    /// A bucket value is too short for the bucket header.
    BadBucketHeader { bucket: Vec<u8> },
}

impl fmt::Display for BoltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoltError::TooSmall { len } => write!(f, "bolt: file too small ({len} bytes)"),
            BoltError::NoValidMeta => write!(f, "bolt: no valid meta page"),
            BoltError::PageOutOfBounds { pgid } => write!(f, "bolt: page {pgid} out of bounds"),
            BoltError::InvalidPageType { pgid, flags } => {
                write!(f, "bolt: page {pgid}: invalid type {flags:#x}")
            }
            BoltError::ElementOutOfBounds { pgid, index } => {
                write!(f, "bolt: page {pgid}: element {index} out of bounds")
            }
            BoltError::TreeTooDeep { pgid } => write!(f, "bolt: tree too deep at page {pgid}"),
            BoltError::NotABucket { key } => {
                write!(f, "bolt: root key {:?} is not a bucket", String::from_utf8_lossy(key))
            }
            BoltError::NestedBucket { bucket, key } => write!(
                f,
                "bolt: nested bucket {:?} in bucket {:?} is not supported",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(bucket)
            ),
            BoltError::BadBucketHeader { bucket } => {
                write!(f, "bolt: bucket {:?}: bad header", String::from_utf8_lossy(bucket))
            }
        }
    }
}

impl std::error::Error for BoltError {}

const PAGE_SIZE: usize = 4096;
const PAGE_HEADER_SIZE: usize = 16;
/// Both leaf (flags, pos, ksize, vsize) and branch (pos, ksize, pgid) element headers.
const ELEMENT_SIZE: usize = 16;
const BUCKET_HEADER_SIZE: usize = 16;

const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
const FREELIST_PAGE: u16 = 0x10;
const BUCKET_LEAF_FLAG: u32 = 0x01;

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
/// Offset of the checksum inside the meta struct; it covers every byte before it.
const META_CHECKSUM_OFFSET: usize = 56;
const META_SIZE: usize = 64;
/// Depth limit for reading: a B+tree of 4 KiB pages never gets near this.
const MAX_DEPTH: usize = 64;

fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// What a planned page holds; keys and values borrow from the caller's buckets.
enum Body<'a> {
    /// Leaf elements: (element flags, key, value).
    Leaf(Vec<(u32, &'a [u8], &'a [u8])>),
    /// Branch elements: (first key of child, child pgid).
    Branch(Vec<(&'a [u8], u64)>),
}

struct Planned<'a> {
    id: u64,
    /// Number of pages this page spans (1 + overflow).
    span: u64,
    body: Body<'a>,
}

/// Splits `elems` into consecutive groups that each fit in one page, given each element's
/// size; an element that alone exceeds a page forms its own group. Returns the groups
/// with the number of pages each spans.
fn group_pages<T>(elems: Vec<T>, size_of: impl Fn(&T) -> usize) -> Vec<(Vec<T>, u64)> {
    let mut groups = Vec::new();
    let mut cur = Vec::new();
    let mut size = PAGE_HEADER_SIZE;
    for e in elems {
        let esize = ELEMENT_SIZE + size_of(&e);
        if !cur.is_empty() && size + esize > PAGE_SIZE {
            groups.push((std::mem::take(&mut cur), size.div_ceil(PAGE_SIZE) as u64));
            size = PAGE_HEADER_SIZE;
        }
        size += esize;
        cur.push(e);
    }
    if !cur.is_empty() || groups.is_empty() {
        groups.push((cur, size.div_ceil(PAGE_SIZE) as u64));
    }
    groups
}

/// Assigns page ids to a B+tree over `elems` (sorted by key) and returns its root pgid.
fn plan_tree<'a>(elems: Vec<(u32, &'a [u8], &'a [u8])>, next: &mut u64, pages: &mut Vec<Planned<'a>>) -> u64 {
    let mut level: Vec<(&'a [u8], u64)> = Vec::new();
    for (group, span) in group_pages(elems, |e| e.1.len() + e.2.len()) {
        // An empty bucket is one empty leaf; its branch key is never used.
        let first: &'a [u8] = group.first().map_or(&[], |e| e.1);
        level.push((first, *next));
        pages.push(Planned { id: *next, span, body: Body::Leaf(group) });
        *next += span;
    }
    // Branch levels, bottom up, until one page is left.
    while level.len() > 1 {
        let mut upper = Vec::new();
        for (group, span) in group_pages(level, |e| e.0.len()) {
            upper.push((group[0].0, *next));
            pages.push(Planned { id: *next, span, body: Body::Branch(group) });
            *next += span;
        }
        level = upper;
    }
    level[0].1
}

fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Serialises a planned page into `buf` (resized to its span, zero padded).
fn render(p: &Planned<'_>, buf: &mut Vec<u8>) {
    buf.clear();
    buf.resize(p.span as usize * PAGE_SIZE, 0);
    put_u64(buf, 0, p.id);
    put_u32(buf, 12, (p.span - 1) as u32);
    match &p.body {
        Body::Leaf(elems) => {
            put_u16(buf, 8, LEAF_PAGE);
            put_u16(buf, 10, elems.len() as u16);
            let mut data = PAGE_HEADER_SIZE + elems.len() * ELEMENT_SIZE;
            for (i, (flags, k, v)) in elems.iter().enumerate() {
                let eh = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
                put_u32(buf, eh, *flags);
                put_u32(buf, eh + 4, (data - eh) as u32);
                put_u32(buf, eh + 8, k.len() as u32);
                put_u32(buf, eh + 12, v.len() as u32);
                buf[data..data + k.len()].copy_from_slice(k);
                data += k.len();
                buf[data..data + v.len()].copy_from_slice(v);
                data += v.len();
            }
        }
        Body::Branch(elems) => {
            put_u16(buf, 8, BRANCH_PAGE);
            put_u16(buf, 10, elems.len() as u16);
            let mut data = PAGE_HEADER_SIZE + elems.len() * ELEMENT_SIZE;
            for (i, (k, pgid)) in elems.iter().enumerate() {
                let eh = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
                put_u32(buf, eh, (data - eh) as u32);
                put_u32(buf, eh + 4, k.len() as u32);
                put_u64(buf, eh + 8, *pgid);
                buf[data..data + k.len()].copy_from_slice(k);
                data += k.len();
            }
        }
    }
}

fn meta_page(id: u64, root: u64, freelist: u64, high_water: u64, txid: u64) -> Vec<u8> {
    let mut buf = vec![0u8; PAGE_SIZE];
    put_u64(&mut buf, 0, id);
    put_u16(&mut buf, 8, META_PAGE);
    let m = PAGE_HEADER_SIZE;
    put_u32(&mut buf, m, MAGIC);
    put_u32(&mut buf, m + 4, VERSION);
    put_u32(&mut buf, m + 8, PAGE_SIZE as u32);
    put_u32(&mut buf, m + 12, 0); // flags
    put_u64(&mut buf, m + 16, root); // root bucket: root pgid
    put_u64(&mut buf, m + 24, 0); // root bucket: sequence
    put_u64(&mut buf, m + 32, freelist);
    put_u64(&mut buf, m + 40, high_water);
    put_u64(&mut buf, m + 48, txid);
    let sum = fnv1a64(&buf[m..m + META_CHECKSUM_OFFSET]);
    put_u64(&mut buf, m + META_CHECKSUM_OFFSET, sum);
    buf
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Checks the size limits of the format and that `items` are strictly ascending.
fn check_sorted<'a>(what: &str, keys: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
    let mut prev: Option<&[u8]> = None;
    for k in keys {
        if k.is_empty() || k.len() > u32::MAX as usize {
            return Err(invalid_input(format!("bolt: {what}: key of length {}", k.len())));
        }
        if prev.is_some_and(|p| p >= k) {
            return Err(invalid_input(format!("bolt: {what}: keys not sorted and unique")));
        }
        prev = Some(k);
    }
    Ok(())
}

/// Writes a complete bbolt database holding `buckets` (sorted by name) to `w`; returns
/// bytes written.
///
/// Fails with `InvalidInput` if bucket names or keys are empty, unsorted or duplicated,
/// or a value is 4 GiB or larger.
pub fn write_db<W: Write>(w: &mut W, buckets: &[Bucket]) -> io::Result<u64> {
    check_sorted("bucket names", buckets.iter().map(|b| b.name.as_slice()))?;
    for b in buckets {
        let name = String::from_utf8_lossy(&b.name);
        check_sorted(&format!("bucket {name:?}"), b.items.iter().map(|(k, _)| k.as_slice()))?;
        if b.items.iter().any(|(_, v)| v.len() > u32::MAX as usize) {
            return Err(invalid_input(format!("bolt: bucket {name:?}: value too large")));
        }
    }

    // Pages 0 and 1: meta; 2: freelist; data pages from 3 on.
    let freelist_pgid = 2;
    let mut next = 3;
    let mut pages: Vec<Planned<'_>> = Vec::new();
    let mut roots = Vec::with_capacity(buckets.len());
    for b in buckets {
        let elems = b.items.iter().map(|(k, v)| (0, k.as_slice(), v.as_slice())).collect();
        roots.push(plan_tree(elems, &mut next, &mut pages));
    }
    // Bucket header: root pgid, sequence (etcd never uses bucket sequences).
    let headers: Vec<[u8; BUCKET_HEADER_SIZE]> = roots
        .iter()
        .map(|&root| {
            let mut h = [0u8; BUCKET_HEADER_SIZE];
            h[..8].copy_from_slice(&root.to_le_bytes());
            h
        })
        .collect();
    let root_elems =
        buckets.iter().zip(&headers).map(|(b, h)| (BUCKET_LEAF_FLAG, b.name.as_slice(), h.as_slice())).collect();
    let root = plan_tree(root_elems, &mut next, &mut pages);
    let high_water = next;

    let mut written = 0u64;
    for id in 0..2 {
        let page = meta_page(id, root, freelist_pgid, high_water, id);
        w.write_all(&page)?;
        written += page.len() as u64;
    }
    let mut freelist = vec![0u8; PAGE_SIZE];
    put_u64(&mut freelist, 0, freelist_pgid);
    put_u16(&mut freelist, 8, FREELIST_PAGE);
    w.write_all(&freelist)?;
    written += freelist.len() as u64;

    // plan_tree hands out ids in the order it pushes pages, so this is file order.
    debug_assert!(pages.windows(2).all(|w| w[0].id + w[0].span == w[1].id));
    let mut buf = Vec::new();
    for p in &pages {
        render(p, &mut buf);
        w.write_all(&buf)?;
        written += buf.len() as u64;
    }
    debug_assert_eq!(written, high_water * PAGE_SIZE as u64);
    Ok(written)
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

fn get_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn get_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn get_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

struct Meta {
    page_size: usize,
    root: u64,
    txid: u64,
}

/// Parses the meta struct at the start of `m`, if its magic, version and checksum hold.
fn parse_meta(m: &[u8]) -> Option<Meta> {
    if m.len() < META_SIZE
        || get_u32(m, 0) != MAGIC
        || get_u32(m, 4) != VERSION
        || get_u64(m, META_CHECKSUM_OFFSET) != fnv1a64(&m[..META_CHECKSUM_OFFSET])
    {
        return None;
    }
    let page_size = get_u32(m, 8) as usize;
    if page_size < 512 || !page_size.is_power_of_two() {
        return None;
    }
    Some(Meta { page_size, root: get_u64(m, 16), txid: get_u64(m, 48) })
}

/// One element of a leaf page: (flags, key, value).
type LeafElem<'a> = (u32, &'a [u8], &'a [u8]);

struct Reader<'a> {
    data: &'a [u8],
    page_size: usize,
}

impl<'a> Reader<'a> {
    /// The bytes of page `pgid`, including its overflow pages.
    fn page(&self, pgid: u64) -> Result<&'a [u8], BoltError> {
        let oob = BoltError::PageOutOfBounds { pgid };
        let start =
            usize::try_from(pgid).ok().and_then(|p| p.checked_mul(self.page_size)).ok_or_else(|| oob.clone())?;
        let head = self.data.get(start..).filter(|d| d.len() >= PAGE_HEADER_SIZE).ok_or_else(|| oob.clone())?;
        let span = (get_u32(head, 12) as usize + 1).checked_mul(self.page_size).ok_or_else(|| oob.clone())?;
        // The last page of a file may be cut short (bbolt does not pad it).
        Ok(&head[..span.min(head.len())])
    }

    /// Appends every leaf element of the tree rooted at `pgid` to `out`, in key order.
    fn walk(&self, pgid: u64, depth: usize, out: &mut Vec<LeafElem<'a>>) -> Result<(), BoltError> {
        if depth > MAX_DEPTH {
            return Err(BoltError::TreeTooDeep { pgid });
        }
        let page = self.page(pgid)?;
        let flags = get_u16(page, 8);
        if flags & LEAF_PAGE != 0 {
            return leaf_elems(page, pgid, out);
        }
        if flags & BRANCH_PAGE == 0 {
            return Err(BoltError::InvalidPageType { pgid, flags });
        }
        let count = get_u16(page, 10) as usize;
        for i in 0..count {
            let eh = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
            let oob = || BoltError::ElementOutOfBounds { pgid, index: i };
            let e = page.get(eh..eh + ELEMENT_SIZE).ok_or_else(oob)?;
            self.walk(get_u64(e, 8), depth + 1, out)?;
        }
        Ok(())
    }

    /// All key/value pairs of the bucket whose header-plus-inline-page is `value`.
    fn bucket(&self, name: &[u8], value: &'a [u8]) -> Result<Vec<LeafElem<'a>>, BoltError> {
        let bad = || BoltError::BadBucketHeader { bucket: name.to_vec() };
        if value.len() < BUCKET_HEADER_SIZE {
            return Err(bad());
        }
        let root = get_u64(value, 0);
        let mut out = Vec::new();
        if root == 0 {
            // Inline bucket: a leaf page follows the header inside the value.
            let page = &value[BUCKET_HEADER_SIZE..];
            if page.len() < PAGE_HEADER_SIZE {
                return Err(bad());
            }
            leaf_elems(page, 0, &mut out)?;
        } else {
            self.walk(root, 0, &mut out)?;
        }
        Ok(out)
    }
}

/// Appends the elements of leaf page `page` (id `pgid`, for errors) to `out`.
fn leaf_elems<'a>(page: &'a [u8], pgid: u64, out: &mut Vec<LeafElem<'a>>) -> Result<(), BoltError> {
    let count = get_u16(page, 10) as usize;
    for i in 0..count {
        let oob = || BoltError::ElementOutOfBounds { pgid, index: i };
        let eh = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        let e = page.get(eh..eh + ELEMENT_SIZE).ok_or_else(oob)?;
        let (flags, pos) = (get_u32(e, 0), get_u32(e, 4) as usize);
        let (ksize, vsize) = (get_u32(e, 8) as usize, get_u32(e, 12) as usize);
        let kstart = eh.checked_add(pos).ok_or_else(oob)?;
        let vstart = kstart.checked_add(ksize).ok_or_else(oob)?;
        let vend = vstart.checked_add(vsize).ok_or_else(oob)?;
        let key = page.get(kstart..vstart).ok_or_else(oob)?;
        let value = page.get(vstart..vend).ok_or_else(oob)?;
        out.push((flags, key, value));
    }
    Ok(())
}

/// Parses a bbolt database file (as produced by [`write_db`] or by real etcd) into its
/// top-level buckets, sorted by name. Bytes after the last page (such as the sha256
/// trailer of an etcd snapshot) are ignored.
pub fn read_db(data: &[u8]) -> Result<Vec<Bucket>, BoltError> {
    if data.len() < PAGE_HEADER_SIZE + META_SIZE {
        return Err(BoltError::TooSmall { len: data.len() });
    }
    let meta0 = parse_meta(&data[PAGE_HEADER_SIZE..]);
    // Meta page 1 sits one page in; if meta 0 is damaged, assume the default page size.
    let ps = meta0.as_ref().map_or(PAGE_SIZE, |m| m.page_size);
    let meta1 = data.get(ps + PAGE_HEADER_SIZE..).and_then(parse_meta).filter(|m| m.page_size == ps);
    let meta = match (meta0, meta1) {
        (Some(a), Some(b)) => {
            if a.txid >= b.txid {
                a
            } else {
                b
            }
        }
        (Some(m), None) | (None, Some(m)) => m,
        (None, None) => return Err(BoltError::NoValidMeta),
    };

    let reader = Reader { data, page_size: meta.page_size };
    let mut root = Vec::new();
    reader.walk(meta.root, 0, &mut root)?;
    let mut buckets = Vec::with_capacity(root.len());
    for (flags, name, value) in root {
        if flags & BUCKET_LEAF_FLAG == 0 {
            return Err(BoltError::NotABucket { key: name.to_vec() });
        }
        let elems = reader.bucket(name, value)?;
        let mut items = Vec::with_capacity(elems.len());
        for (flags, k, v) in elems {
            if flags & BUCKET_LEAF_FLAG != 0 {
                return Err(BoltError::NestedBucket { bucket: name.to_vec(), key: k.to_vec() });
            }
            items.push((k.to_vec(), v.to_vec()));
        }
        buckets.push(Bucket { name: name.to_vec(), items });
    }
    Ok(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const ETCD: &str = "/usr/bin/etcd";
    const ETCDCTL: &str = "/usr/bin/etcdctl";

    fn have(bin: &str) -> bool {
        if Path::new(bin).exists() {
            return true;
        }
        println!("skipping: {bin} not installed");
        false
    }

    fn bucket(name: &str, items: Vec<(Vec<u8>, Vec<u8>)>) -> Bucket {
        Bucket { name: name.as_bytes().to_vec(), items }
    }

    fn write_to_vec(buckets: &[Bucket]) -> Vec<u8> {
        let mut out = Vec::new();
        let n = write_db(&mut out, buckets).expect("write_db");
        assert_eq!(n, out.len() as u64);
        out
    }

    /// Runs etcdctl (API v3) and returns its stdout, panicking with stderr on failure.
    fn etcdctl(args: &[&str]) -> String {
        let out = Command::new(ETCDCTL).env("ETCDCTL_API", "3").args(args).output().expect("run etcdctl");
        assert!(out.status.success(), "etcdctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// The integer after `"field":` in etcdctl's JSON output.
    fn json_u64(json: &str, field: &str) -> u64 {
        let pat = format!("\"{field}\":");
        let rest = &json[json.find(&pat).unwrap_or_else(|| panic!("{field} in {json}")) + pat.len()..];
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        rest[..end].parse().expect("number")
    }

    /// `etcdctl snapshot status -w json` of `path`: (hash, revision, totalKey).
    fn snapshot_status(path: &Path) -> (u64, u64, u64) {
        let json = etcdctl(&["snapshot", "status", path.to_str().expect("utf-8 path"), "-w", "json"]);
        (json_u64(&json, "hash"), json_u64(&json, "revision"), json_u64(&json, "totalKey"))
    }

    use component_base::ports::free_port;

    /// A real single-member etcd on loopback, killed on drop.
    struct Etcd {
        child: Child,
        client_url: String,
        log: PathBuf,
    }

    impl Etcd {
        fn peer_url(port: u16) -> String {
            format!("http://127.0.0.1:{port}")
        }

        fn start(data_dir: &Path, peer_port: u16, log: PathBuf) -> Etcd {
            let client_url = format!("http://127.0.0.1:{}", free_port());
            let peer_url = Etcd::peer_url(peer_port);
            let log_file = std::fs::File::create(&log).expect("log file");
            let child = Command::new(ETCD)
                .args(["--name", "m1", "--data-dir", data_dir.to_str().expect("utf-8 path")])
                .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
                .args(["--initial-cluster", &format!("m1={peer_url}")])
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("spawn etcd");
            let etcd = Etcd { child, client_url, log };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let ok = Command::new(ETCDCTL)
                    .env("ETCDCTL_API", "3")
                    .args(["--endpoints", &etcd.client_url, "--dial-timeout=1s", "--command-timeout=2s"])
                    .args(["endpoint", "health"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                if ok {
                    return etcd;
                }
                assert!(Instant::now() < deadline, "etcd did not start: {}", etcd.log_tail());
                std::thread::sleep(Duration::from_millis(200));
            }
        }

        fn log_tail(&self) -> String {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        }

        fn ctl(&self, args: &[&str]) -> String {
            let mut all = vec!["--endpoints", &self.client_url];
            all.extend_from_slice(args);
            etcdctl(&all)
        }
    }

    impl Drop for Etcd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// etcd's key bucket key: 8-byte big-endian main revision, '_', 8-byte sub revision.
    fn rev_key(main: u64, sub: u64) -> Vec<u8> {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&sub.to_be_bytes());
        k
    }

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A marshaled mvccpb.KeyValue (key=1, create_revision=2, mod_revision=3,
    /// version=4, value=5).
    fn key_value(key: &[u8], value: &[u8], create: u64, modrev: u64, version: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, bytes) in [(0x0a, key), (0x2a, value)] {
            if tag == 0x2a {
                for (tag, n) in [(0x10, create), (0x18, modrev), (0x20, version)] {
                    out.push(tag);
                    varint(&mut out, n);
                }
            }
            out.push(tag);
            varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        out
    }

    /// A database laid out like etcd 3.4's backend: revisions 2..=4 in "key"
    /// (foo=bar, foo=baz, hello=world) and consistent_index in "meta".
    fn etcd_layout() -> Vec<Bucket> {
        let mut buckets = vec![
            bucket(
                "key",
                vec![
                    (rev_key(2, 0), key_value(b"foo", b"bar", 2, 2, 1)),
                    (rev_key(3, 0), key_value(b"foo", b"baz", 2, 3, 2)),
                    (rev_key(4, 0), key_value(b"hello", b"world", 4, 4, 1)),
                ],
            ),
            bucket("meta", vec![(b"consistent_index".to_vec(), 7u64.to_be_bytes().to_vec())]),
        ];
        for name in ["alarm", "auth", "authRoles", "authUsers", "cluster", "lease", "members", "members_removed"] {
            buckets.push(bucket(name, Vec::new()));
        }
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        buckets
    }

    #[test]
    fn round_trip_small_and_empty() {
        let buckets = vec![
            bucket("a", vec![(b"k1".to_vec(), b"v1".to_vec()), (b"k2".to_vec(), Vec::new())]),
            bucket("empty", Vec::new()),
        ];
        let data = write_to_vec(&buckets);
        // meta, meta, freelist, two bucket leaves, root leaf.
        assert_eq!(data.len(), 6 * PAGE_SIZE);
        assert_eq!(read_db(&data).expect("read_db"), buckets);
        assert_eq!(read_db(&write_to_vec(&[])).expect("read_db"), Vec::new());
    }

    #[test]
    fn round_trip_many_keys_uses_branch_pages() {
        let items: Vec<_> = (0..100_000u64).map(|i| (rev_key(i, 0), format!("value-{i}").into_bytes())).collect();
        // Enough buckets that the root tree itself needs a branch page.
        let mut buckets: Vec<_> = (0..400).map(|i| bucket(&format!("b{i:04}"), Vec::new())).collect();
        buckets.push(bucket("key", items));
        let data = write_to_vec(&buckets);
        let root = read_root(&data);
        assert_eq!(get_u16(&data[root as usize * PAGE_SIZE..], 8), BRANCH_PAGE);
        let key_root = bucket_root(&data, b"key");
        // 100,000 leaves' worth of keys need two branch levels above the leaves.
        let top = &data[key_root as usize * PAGE_SIZE..];
        assert_eq!(get_u16(top, 8), BRANCH_PAGE);
        let child = get_u64(top, PAGE_HEADER_SIZE + 8);
        assert_eq!(get_u16(&data[child as usize * PAGE_SIZE..], 8), BRANCH_PAGE);
        assert_eq!(read_db(&data).expect("read_db"), buckets);
        check_with_etcdctl(&data, 99_999, 100_000);
    }

    #[test]
    fn round_trip_big_values_use_overflow_pages() {
        let big = |n: usize, seed: u8| (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let buckets = vec![bucket(
            "key",
            vec![
                (rev_key(1, 0), big(1536 * 1024, 1)),
                (rev_key(2, 0), b"small".to_vec()),
                (rev_key(3, 0), big(5000, 2)),
                (rev_key(4, 0), big(4070, 3)),
            ],
        )];
        let data = write_to_vec(&buckets);
        // The first leaf holds only the 1.5 MiB value and spans 385 pages.
        let first_leaf = &data[3 * PAGE_SIZE..];
        assert_eq!(get_u16(first_leaf, 10), 1);
        assert_eq!(get_u32(first_leaf, 12), 384);
        assert_eq!(read_db(&data).expect("read_db"), buckets);
        check_with_etcdctl(&data, 4, 4);
    }

    #[test]
    fn write_rejects_unsorted_input() {
        let dup = vec![bucket("a", vec![(b"k".to_vec(), Vec::new()), (b"k".to_vec(), Vec::new())])];
        assert!(write_db(&mut Vec::new(), &dup).is_err());
        let unsorted = vec![bucket("b", Vec::new()), bucket("a", Vec::new())];
        assert!(write_db(&mut Vec::new(), &unsorted).is_err());
    }

    #[test]
    fn read_rejects_damaged_files() {
        let mut data = write_to_vec(&etcd_layout());
        // Meta 0 parses, but the tree it names is past the end.
        assert!(matches!(read_db(&data[..100]), Err(BoltError::PageOutOfBounds { .. })));
        assert_eq!(read_db(&data[..10]), Err(BoltError::TooSmall { len: 10 }));
        // Damage meta 0: meta 1 still describes the same tree.
        data[PAGE_HEADER_SIZE + 20] ^= 0xff;
        assert_eq!(read_db(&data).expect("meta 1 used"), etcd_layout());
        data[PAGE_SIZE + PAGE_HEADER_SIZE + 20] ^= 0xff;
        assert_eq!(read_db(&data), Err(BoltError::NoValidMeta));
        // A truncated file fails cleanly instead of panicking.
        let data = write_to_vec(&etcd_layout());
        for len in [3 * PAGE_SIZE, 4 * PAGE_SIZE + 100, data.len() - PAGE_SIZE] {
            assert!(read_db(&data[..len]).is_err(), "truncated at {len}");
        }
    }

    fn read_root(data: &[u8]) -> u64 {
        get_u64(data, PAGE_HEADER_SIZE + 16)
    }

    /// The root pgid of top-level bucket `name`, found by a linear scan of the root leaves.
    fn bucket_root(data: &[u8], name: &[u8]) -> u64 {
        let reader = Reader { data, page_size: PAGE_SIZE };
        let mut root = Vec::new();
        reader.walk(read_root(data), 0, &mut root).expect("walk");
        let (_, _, v) = root.into_iter().find(|e| e.1 == name).expect("bucket");
        get_u64(v, 0)
    }

    /// Runs bbolt's own consistency check (`snapshot status` calls `tx.Check()`) and
    /// compares revision and key count.
    fn check_with_etcdctl(data: &[u8], revision: u64, total_keys: u64) {
        if !have(ETCDCTL) {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("snap.db");
        std::fs::write(&path, data).expect("write file");
        let (_, rev, keys) = snapshot_status(&path);
        assert_eq!((rev, keys), (revision, total_keys));
    }

    #[test]
    fn etcd_layout_accepted_by_etcdctl_snapshot_status() {
        let buckets = etcd_layout();
        // 3 revisions + consistent_index.
        check_with_etcdctl(&write_to_vec(&buckets), 4, 4);
    }

    #[test]
    fn etcdctl_check_catches_unreachable_page() {
        // Proves check_with_etcdctl can fail: one extra page below the high-water mark
        // that no tree references and the freelist does not list.
        if !have(ETCDCTL) {
            return;
        }
        let mut data = write_to_vec(&etcd_layout());
        let high_water = (data.len() / PAGE_SIZE) as u64;
        data.resize(data.len() + PAGE_SIZE, 0);
        for id in 0..2 {
            let page = meta_page(id, read_root(&data), 2, high_water + 1, id);
            data[id as usize * PAGE_SIZE..][..PAGE_SIZE].copy_from_slice(&page);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("snap.db");
        std::fs::write(&path, &data).expect("write file");
        let out = Command::new(ETCDCTL)
            .env("ETCDCTL_API", "3")
            .args(["snapshot", "status", path.to_str().expect("utf-8 path")])
            .output()
            .expect("run etcdctl");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("unreachable unfreed"), "{stderr}");
    }

    #[test]
    fn reads_real_etcd_snapshot() {
        if !have(ETCD) || !have(ETCDCTL) {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let etcd = Etcd::start(&dir.path().join("data"), free_port(), dir.path().join("etcd.log"));
        etcd.ctl(&["put", "foo", "bar"]);
        etcd.ctl(&["put", "foo", "baz"]);
        etcd.ctl(&["put", "gone", "x"]);
        etcd.ctl(&["del", "gone"]);
        let snap = dir.path().join("snap.db");
        etcd.ctl(&["snapshot", "save", snap.to_str().expect("utf-8 path")]);
        drop(etcd);

        let data = std::fs::read(&snap).expect("read snapshot");
        let buckets = read_db(&data).expect("read_db of real snapshot");
        let names: Vec<_> = buckets.iter().map(|b| String::from_utf8_lossy(&b.name).into_owned()).collect();
        println!("buckets: {names:?}");
        for want in ["alarm", "auth", "authRoles", "authUsers", "cluster", "key", "lease", "members", "meta"] {
            assert!(names.iter().any(|n| n == want), "bucket {want} missing from {names:?}");
        }
        let find = |name: &str| buckets.iter().find(|b| b.name == name.as_bytes()).expect("bucket");
        let keys = &find("key").items;
        // Revisions 2..=5: two puts of foo, a put of gone, a tombstone for gone.
        let revs: Vec<_> = keys.iter().map(|(k, _)| k.clone()).collect();
        let mut tombstone = rev_key(5, 0);
        tombstone.push(b't');
        assert_eq!(revs, vec![rev_key(2, 0), rev_key(3, 0), rev_key(4, 0), tombstone]);
        assert_eq!(keys[1].1, key_value(b"foo", b"baz", 2, 3, 2));
        let meta = &find("meta").items;
        let ci = meta.iter().find(|(k, _)| k == b"consistent_index").expect("consistent_index");
        assert_eq!(ci.1.len(), 8);
        for (k, v) in meta {
            println!("meta {:?} = {v:?}", String::from_utf8_lossy(k));
        }

        // Rewriting the same content gives a file etcdctl hashes identically.
        let (hash, rev, total) = snapshot_status(&snap);
        let ours = dir.path().join("ours.db");
        std::fs::write(&ours, write_to_vec(&buckets)).expect("write");
        assert_eq!(snapshot_status(&ours), (hash, rev, total));
        assert_eq!(rev, 5);
    }

    #[test]
    fn etcd_layout_restored_and_served_by_real_etcd() {
        if !have(ETCD) || !have(ETCDCTL) {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let snap = dir.path().join("snap.db");
        std::fs::write(&snap, write_to_vec(&etcd_layout())).expect("write");
        let data_dir = dir.path().join("restored");
        let peer_port = free_port();
        // Our file has no sha256 trailer (the Snapshot RPC appends one), hence the flag.
        etcdctl(&[
            "snapshot",
            "restore",
            snap.to_str().expect("utf-8 path"),
            "--skip-hash-check",
            "--data-dir",
            data_dir.to_str().expect("utf-8 path"),
            "--name",
            "m1",
            "--initial-cluster",
            &format!("m1={}", Etcd::peer_url(peer_port)),
            "--initial-advertise-peer-urls",
            &Etcd::peer_url(peer_port),
        ]);
        let etcd = Etcd::start(&data_dir, peer_port, dir.path().join("etcd.log"));
        assert_eq!(etcd.ctl(&["get", "foo", "--print-value-only"]), "baz\n");
        assert_eq!(etcd.ctl(&["get", "hello", "--print-value-only"]), "world\n");
        assert_eq!(etcd.ctl(&["get", "foo", "--rev", "2", "--print-value-only"]), "bar\n");
        // The restored store keeps accepting writes at the next revision.
        etcd.ctl(&["put", "new", "1"]);
        let json = etcd.ctl(&["get", "new", "-w", "json"]);
        assert_eq!(json_u64(&json, "mod_revision"), 5, "{json}");
    }
}
