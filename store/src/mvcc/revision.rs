//! `Revision { main, sub }` and its on-disk key form, as etcd lays it out: 8-byte
//! big-endian main, `_`, 8-byte big-endian sub, and a trailing `t` for a tombstone.
//! Big-endian keeps the key bucket ordered by revision.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

pub const REV_BYTES_LEN: usize = 17;
pub const MARKED_REV_BYTES_LEN: usize = 18;
const TOMBSTONE_MARK: u8 = b't';

impl Revision {
    pub fn new(main: i64, sub: i64) -> Self {
        Self { main, sub }
    }

    pub fn to_bytes(self, tombstone: bool) -> Vec<u8> {
        let mut b = Vec::with_capacity(MARKED_REV_BYTES_LEN);
        b.extend_from_slice(&self.main.to_be_bytes());
        b.push(b'_');
        b.extend_from_slice(&self.sub.to_be_bytes());
        if tombstone {
            b.push(TOMBSTONE_MARK);
        }
        b
    }

    /// Parses a key-bucket key; returns the revision and whether it is a tombstone.
    pub fn from_bytes(b: &[u8]) -> Option<(Revision, bool)> {
        if b.len() != REV_BYTES_LEN && b.len() != MARKED_REV_BYTES_LEN {
            return None;
        }
        let main = i64::from_be_bytes(b[0..8].try_into().ok()?);
        let sub = i64::from_be_bytes(b[9..17].try_into().ok()?);
        let tomb = b.len() == MARKED_REV_BYTES_LEN && b[17] == TOMBSTONE_MARK;
        Some((Revision { main, sub }, tomb))
    }

    /// The smallest key-bucket key at or after `main`.
    pub fn start_key(main: i64) -> Vec<u8> {
        Revision::new(main, 0).to_bytes(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_bytes_round_trip_and_sort_by_revision() {
        let cases = [(Revision::new(1, 0), false), (Revision::new(5, 3), true), (Revision::new(i64::MAX, 7), false)];
        for (r, t) in cases {
            assert_eq!(Revision::from_bytes(&r.to_bytes(t)), Some((r, t)));
        }
        assert!(Revision::new(2, 0).to_bytes(false) > Revision::new(1, 9).to_bytes(true));
        assert!(Revision::new(1, 1).to_bytes(false) > Revision::new(1, 0).to_bytes(true));
        assert_eq!(Revision::from_bytes(b"short"), None);
    }
}
