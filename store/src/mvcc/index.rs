//! The in-memory key index: for each key, the revisions at which it was written, in
//! order, each marked when it is a deletion (tombstone). Values live in the backend,
//! addressed by revision. Rebuilt from the key bucket at start-up, as etcd does.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::revision::Revision;

#[derive(Clone, Debug, Default)]
pub struct KeyIndex {
    /// (revision, tombstone), ascending.
    revs: Vec<(Revision, bool)>,
}

impl KeyIndex {
    /// The revision holding the key's value at `at`, or None when absent or deleted.
    pub fn get(&self, at: i64) -> Option<Revision> {
        let n = self.revs.partition_point(|(r, _)| r.main <= at);
        match n.checked_sub(1).map(|i| self.revs[i]) {
            Some((r, false)) => Some(r),
            _ => None,
        }
    }

    /// The latest entry (including tombstones).
    pub fn last(&self) -> Option<(Revision, bool)> {
        self.revs.last().copied()
    }

    pub fn push(&mut self, rev: Revision, tombstone: bool) {
        self.revs.push((rev, tombstone));
    }

    /// Drops history at or below `at` except the value live at `at`; returns the
    /// dropped revisions with their tombstone marks.
    pub fn compact(&mut self, at: i64) -> Vec<(Revision, bool)> {
        let n = self.revs.partition_point(|(r, _)| r.main <= at);
        if n == 0 {
            return Vec::new();
        }
        let keep_last = !self.revs[n - 1].1;
        let cut = if keep_last { n - 1 } else { n };
        self.revs.drain(..cut).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }
}

/// Key → history, ordered by key.
#[derive(Default, Debug)]
pub struct TreeIndex {
    keys: BTreeMap<Vec<u8>, KeyIndex>,
}

/// The `[key, end)` interval of a request, etcd-style: empty `end` means the single
/// key; `end == [0]` means every key from `key` on.
pub fn range_bounds<'a>(key: &'a [u8], end: &'a [u8]) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    if end.is_empty() {
        (Bound::Included(key), Bound::Included(key))
    } else if end == [0] {
        (Bound::Included(key), Bound::Unbounded)
    } else {
        (Bound::Included(key), Bound::Excluded(end))
    }
}

fn valid(b: &(Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match (b.0, b.1) {
        (Bound::Included(s), Bound::Excluded(e)) => s < e,
        _ => true,
    }
}

impl TreeIndex {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn get(&self, key: &[u8], at: i64) -> Option<Revision> {
        self.keys.get(key).and_then(|k| k.get(at))
    }

    pub fn key_index(&self, key: &[u8]) -> Option<&KeyIndex> {
        self.keys.get(key)
    }

    pub fn push(&mut self, key: &[u8], rev: Revision, tombstone: bool) {
        match self.keys.get_mut(key) {
            Some(k) => k.push(rev, tombstone),
            None => {
                let mut k = KeyIndex::default();
                k.push(rev, tombstone);
                self.keys.insert(key.to_vec(), k);
            }
        }
    }

    /// Live keys in `[key, end)` at `at`, with the revision of their value, in key order.
    /// Visits every live key; `f` returns false to stop.
    pub fn visit(&self, key: &[u8], end: &[u8], at: i64, f: &mut dyn FnMut(&[u8], Revision) -> bool) {
        let b = range_bounds(key, end);
        if !valid(&b) {
            return;
        }
        for (k, ki) in self.keys.range::<[u8], _>(b) {
            if let Some(r) = ki.get(at)
                && !f(k, r)
            {
                return;
            }
        }
    }

    /// Compacts every key at `at`; returns the revisions to delete from the backend.
    pub fn compact(&mut self, at: i64) -> Vec<(Revision, bool)> {
        let mut dropped = Vec::new();
        self.keys.retain(|_, ki| {
            dropped.extend(ki.compact(at));
            !ki.is_empty()
        });
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(m: i64) -> Revision {
        Revision::new(m, 0)
    }

    #[test]
    fn key_index_get_follows_generations() {
        let mut k = KeyIndex::default();
        k.push(r(2), false);
        k.push(r(4), false);
        k.push(r(6), true);
        k.push(r(8), false);
        let table = [
            (1, None),
            (2, Some(2)),
            (3, Some(2)),
            (4, Some(4)),
            (5, Some(4)),
            (6, None),
            (7, None),
            (8, Some(8)),
            (100, Some(8)),
        ];
        for (at, want) in table {
            assert_eq!(k.get(at).map(|r| r.main), want, "at {at}");
        }
    }

    #[test]
    fn compaction_keeps_the_value_live_at_the_compaction_revision() {
        let mut k = KeyIndex::default();
        for (m, t) in [(2, false), (4, false), (6, true), (8, false), (9, false)] {
            k.push(r(m), t);
        }
        let dropped: Vec<i64> = k.compact(5).iter().map(|(r, _)| r.main).collect();
        assert_eq!(dropped, vec![2]);
        assert_eq!(k.get(5).map(|r| r.main), Some(4));
        let dropped: Vec<i64> = k.compact(7).iter().map(|(r, _)| r.main).collect();
        assert_eq!(dropped, vec![4, 6], "a tombstone at or below the compaction goes too");
        assert_eq!(k.get(8).map(|r| r.main), Some(8));
        let dropped: Vec<i64> = k.compact(9).iter().map(|(r, _)| r.main).collect();
        assert_eq!(dropped, vec![8]);
        assert!(!k.is_empty());
    }

    #[test]
    fn visit_respects_etcd_range_conventions() {
        let mut t = TreeIndex::default();
        for (i, k) in [b"a", b"b", b"c"].iter().enumerate() {
            t.push(*k, r(i as i64 + 1), false);
        }
        let keys = |key: &[u8], end: &[u8]| {
            let mut out = Vec::new();
            t.visit(key, end, 10, &mut |k, _| {
                out.push(k.to_vec());
                true
            });
            out
        };
        assert_eq!(keys(b"b", b""), vec![b"b".to_vec()]);
        assert_eq!(keys(b"a", b"c"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(keys(b"b", b"\0"), vec![b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(keys(b"c", b"a"), Vec::<Vec<u8>>::new(), "end before start is empty");
    }
}
