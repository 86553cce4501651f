//! The write-ahead log: what makes a record durable before anything depends on it.
//!
//! Records are appended to preallocated segment files and made durable with one
//! `fdatasync` per append (preallocation means the sync never has to commit a file-size
//! change). The Raft log is kept here (`raft::log`): the state machine in sled is then
//! flushed in the background, and the log keeps every entry newer than the last flushed
//! applied index, so nothing acknowledged is lost whatever instant the process dies.
//! Whole segments are released once every record in them is obsolete.
//!
//! Record: `len: u32 LE | crc32c(seq ‖ payload): u32 LE | seq: u64 LE | payload`, with
//! consecutive sequence numbers. A zero length, or a bad checksum (a torn write at the
//! tail), ends a segment.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One log record: (index, payload).
pub type Record = (u64, Vec<u8>);

/// Size each segment is preallocated to.
pub const SEGMENT_BYTES: u64 = 64 << 20;
const HEADER: usize = 16;

pub struct Wal {
    dir: PathBuf,
    /// (first index, path) of every segment, oldest first; the last one is current.
    segments: Vec<(u64, PathBuf)>,
    /// Sequence number of the next segment file.
    next_seq: u64,
    file: File,
    offset: u64,
    segment_bytes: u64,
    buf: Vec<u8>,
}

fn segment_name(seq: u64, first_index: u64) -> String {
    format!("{seq:016x}-{first_index:016x}.wal")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".wal")?;
    let (a, b) = stem.split_once('-')?;
    Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
}

fn checksum(index: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&index.to_le_bytes()), payload)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads the valid records of one segment; returns them and where they end.
fn read_segment(path: &Path) -> io::Result<(Vec<Record>, u64)> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + HEADER <= data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap_or_default());
        let index = u64::from_le_bytes(data[pos + 8..pos + 16].try_into().unwrap_or_default());
        if len == 0 || pos + HEADER + len > data.len() {
            break;
        }
        let payload = &data[pos + HEADER..pos + HEADER + len];
        if checksum(index, payload) != crc {
            break;
        }
        out.push((index, payload.to_vec()));
        pos += HEADER + len;
    }
    Ok((out, pos as u64))
}

impl Wal {
    /// Opens the log in `dir` (created if missing) and returns every valid record, in order.
    pub fn open(dir: &Path) -> io::Result<(Wal, Vec<Record>)> {
        Self::open_with(dir, SEGMENT_BYTES)
    }

    pub fn open_with(dir: &Path, segment_bytes: u64) -> io::Result<(Wal, Vec<Record>)> {
        fs::create_dir_all(dir)?;
        let mut segs: Vec<(u64, u64, PathBuf)> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                parse_name(&name).map(|(seq, first)| (seq, first, e.path()))
            })
            .collect();
        segs.sort();
        let mut records: Vec<Record> = Vec::new();
        let mut end = 0;
        for (_, _, path) in &segs {
            let (recs, e) = read_segment(path)?;
            for r in recs {
                // Indexes are consecutive; anything else is stale data past a torn write.
                if records.last().is_some_and(|(last, _)| r.0 != last + 1) {
                    break;
                }
                records.push(r);
            }
            end = e;
        }
        let (file, offset, segments) = match segs.last() {
            Some((_, _, path)) => {
                let f = OpenOptions::new().read(true).write(true).open(path)?;
                // Zero everything after the last valid record, so stale bytes from an
                // interrupted write can never be read back as records later.
                let len = f.metadata()?.len();
                f.set_len(end)?;
                f.set_len(len.max(segment_bytes))?;
                f.sync_all()?;
                (f, end, segs.iter().map(|(_, first, p)| (*first, p.clone())).collect())
            }
            None => {
                let path = dir.join(segment_name(0, 1));
                let f = Self::create_segment(&path, segment_bytes)?;
                sync_dir(dir)?;
                (f, 0, vec![(1, path)])
            }
        };
        let next_seq = segs.last().map_or(1, |(seq, _, _)| seq + 1);
        let buf = Vec::with_capacity(1 << 16);
        let wal = Wal { dir: dir.to_path_buf(), segments, next_seq, file, offset, segment_bytes, buf };
        Ok((wal, records))
    }

    fn create_segment(path: &Path, bytes: u64) -> io::Result<File> {
        let f = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        f.set_len(bytes)?;
        f.sync_all()?;
        Ok(f)
    }

    /// Appends the records and makes them durable before returning.
    pub fn append(&mut self, records: &[(u64, &[u8])]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for (index, payload) in records {
            self.buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(&checksum(*index, payload).to_le_bytes());
            self.buf.extend_from_slice(&index.to_le_bytes());
            self.buf.extend_from_slice(payload);
        }
        if self.offset + self.buf.len() as u64 > self.segment_bytes && self.offset > 0 {
            self.rotate(records[0].0)?;
        }
        if self.offset + self.buf.len() as u64 > self.segment_bytes {
            // A group larger than a segment: grow this segment to hold it.
            self.file.set_len(self.offset + self.buf.len() as u64)?;
        }
        self.file.seek(SeekFrom::Start(self.offset))?;
        self.file.write_all(&self.buf)?;
        self.file.sync_data()?;
        self.offset += self.buf.len() as u64;
        Ok(())
    }

    fn rotate(&mut self, first_index: u64) -> io::Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = self.dir.join(segment_name(seq, first_index));
        self.file = Self::create_segment(&path, self.segment_bytes)?;
        sync_dir(&self.dir)?;
        self.segments.push((first_index, path));
        self.offset = 0;
        Ok(())
    }

    /// Deletes segments whose records are all at or below `index` (already durable in
    /// the backend). The current segment is always kept.
    pub fn release_to(&mut self, index: u64) -> io::Result<()> {
        while self.segments.len() > 1 && self.segments[1].0 <= index + 1 {
            let (_, path) = self.segments.remove(0);
            fs::remove_file(&path)?;
        }
        Ok(())
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut w, recs) = Wal::open_with(dir.path(), 4096).unwrap();
            assert!(recs.is_empty());
            w.append(&[(1, b"a"), (2, b"bb")]).unwrap();
            w.append(&[(3, b"ccc")]).unwrap();
        }
        let (mut w, recs) = Wal::open_with(dir.path(), 4096).unwrap();
        assert_eq!(recs, vec![(1, b"a".to_vec()), (2, b"bb".to_vec()), (3, b"ccc".to_vec())]);
        w.append(&[(4, b"d")]).unwrap();
        drop(w);
        let (_, recs) = Wal::open_with(dir.path(), 4096).unwrap();
        assert_eq!(recs.len(), 4, "appends continue after the last valid record");
    }

    #[test]
    fn a_torn_tail_is_ignored_and_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path;
        {
            let (mut w, _) = Wal::open_with(dir.path(), 4096).unwrap();
            w.append(&[(1, b"good")]).unwrap();
            w.append(&[(2, b"torn")]).unwrap();
            path = w.segments[0].1.clone();
        }
        // Corrupt the second record's payload, as a crash mid-write would.
        let mut data = fs::read(&path).unwrap();
        data[HEADER + 4 + HEADER] ^= 0xff;
        fs::write(&path, &data).unwrap();
        let (mut w, recs) = Wal::open_with(dir.path(), 4096).unwrap();
        assert_eq!(recs, vec![(1, b"good".to_vec())]);
        w.append(&[(2, b"again")]).unwrap();
        drop(w);
        let (_, recs) = Wal::open_with(dir.path(), 4096).unwrap();
        assert_eq!(recs, vec![(1, b"good".to_vec()), (2, b"again".to_vec())]);
    }

    #[test]
    fn segments_rotate_and_are_released_once_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open_with(dir.path(), 256).unwrap();
        let payload = vec![7u8; 100];
        for i in 1..=10u64 {
            w.append(&[(i, &payload)]).unwrap();
        }
        assert!(w.segment_count() > 3);
        w.release_to(6).unwrap();
        drop(w);
        let (_, recs) = Wal::open_with(dir.path(), 256).unwrap();
        let first = recs.first().unwrap().0;
        assert!(first <= 7, "records after the released index are kept (first {first})");
        assert_eq!(recs.last().unwrap().0, 10);
        assert!(recs.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    }
}
