//! What completed responses say about each key at given revisions, so that the search can
//! reject an unknown-outcome operation's effect as soon as it is tried when a later
//! response contradicts it, instead of discovering that at the end of the history.
//!
//! Every rule here is a necessary condition of any linearization, so rejecting what breaks
//! one loses nothing: after a change at revision `g`, a key's `mod_revision` only grows
//! while it exists; a key re-created after a delete has a `create_revision` above `g`;
//! within one incarnation the version counts the puts, and puts at revisions in `(g, r]`
//! come from completed writes that report those revisions or from unknown-outcome ones
//! filling the revisions nobody reports. And a key that a response shows as last changed
//! (or created) at a revision nobody reports was changed (created) by the operation that
//! fills that revision.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Body, Kv, POp, Prepared, Req, Res};

pub(crate) struct Facts {
    /// Per key: revision -> the key as a response showed it at exactly that revision.
    seen: Vec<BTreeMap<i64, Option<Kv>>>,
    /// Per key: sorted revisions at which completed operations put / deleted it.
    puts: Vec<Vec<i64>>,
    dels: Vec<Vec<i64>>,
    /// Per key: unknown-outcome operations that may delete it.
    maybe_deleters: Vec<Vec<u32>>,
    /// Sorted revisions up to the highest reported that no completed write reports.
    gaps: Vec<i64>,
    /// Per gap revision: keys some response shows as last changed (`true`: exactly as
    /// shown) or created (`false`) at that revision; the operation filling it must do that.
    made_at: HashMap<i64, Vec<(u32, Kv, bool)>>,
}

/// How many of `sorted` lie in `(lo, hi]`.
fn count(sorted: &[i64], lo: i64, hi: i64) -> i64 {
    (sorted.partition_point(|&x| x <= hi) - sorted.partition_point(|&x| x <= lo)) as i64
}

impl Facts {
    pub fn new(p: &Prepared, claimed: &HashSet<i64>, max_rev: i64) -> Facts {
        let n = p.keys.names.len();
        let mut f = Facts {
            seen: vec![BTreeMap::new(); n],
            puts: vec![Vec::new(); n],
            dels: vec![Vec::new(); n],
            maybe_deleters: vec![Vec::new(); n],
            gaps: (2..=max_rev).filter(|r| !claimed.contains(r)).collect(),
            made_at: HashMap::new(),
        };
        for (i, op) in p.ops.iter().enumerate() {
            let Some(ret) = &p.rets[i] else {
                match op {
                    POp::Delete(k) => f.maybe_deleters[*k as usize].push(i as u32),
                    POp::Txn { success, failure, .. } => {
                        for r in success.iter().chain(failure.iter()) {
                            if let Req::Delete(k) = r {
                                f.maybe_deleters[*k as usize].push(i as u32);
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            };
            let rev = ret.revision;
            match (op, &ret.body) {
                (POp::Get(k), Body::Get(kv)) => {
                    f.seen[*k as usize].entry(rev).or_insert(*kv);
                }
                (POp::Put(k, _), Body::Put) => f.puts[*k as usize].push(rev),
                (POp::Delete(k), Body::Delete(d)) if *d > 0 => f.dels[*k as usize].push(rev),
                (POp::Txn { success, failure, .. }, Body::Txn { succeeded, results }) => {
                    let branch = if *succeeded { success } else { failure };
                    if branch.len() != results.len() {
                        continue; // malformed: the model rejects it anyway
                    }
                    let changed = ret.changed();
                    for (req, res) in branch.iter().zip(results.iter()) {
                        match (*req, *res) {
                            // Reads inside a txn that wrote something may see its own writes.
                            (Req::Get(k), Res::Get(kv)) if !changed => {
                                f.seen[k as usize].entry(rev).or_insert(kv);
                            }
                            (Req::Put(k, _), Res::Put) => f.puts[k as usize].push(rev),
                            (Req::Delete(k), Res::Delete(d)) if d > 0 => f.dels[k as usize].push(rev),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        for v in f.puts.iter_mut().chain(f.dels.iter_mut()) {
            v.sort_unstable();
        }
        for (k, seen) in f.seen.iter().enumerate() {
            for o in seen.values().flatten() {
                if !claimed.contains(&o.modr) {
                    f.made_at.entry(o.modr).or_default().push((k as u32, *o, true));
                }
                if o.create != o.modr && !claimed.contains(&o.create) {
                    f.made_at.entry(o.create).or_default().push((k as u32, *o, false));
                }
            }
        }
        f
    }

    /// Whether key `k`, being `s` at revision `g` (just made by an unknown-outcome
    /// operation), can still become what the next response showing it says.
    /// `linearized[i]`: whether operation `i` is already placed.
    pub fn consistent(&self, k: u32, s: Option<Kv>, g: i64, linearized: &[bool]) -> bool {
        let k = k as usize;
        let Some((&r, &o)) = self.seen[k].range(g..).next() else { return true };
        match (s, o) {
            (Some(kv), Some(o)) if o.create == kv.create => {
                // The same incarnation: mod_revision only grows, no delete in between, and
                // as many puts as versions, from completed writes or gap fillers.
                let puts = o.version - kv.version;
                let known = count(&self.puts[k], g, r);
                (o.modr > kv.modr || o == kv)
                    && count(&self.dels[k], g, r) == 0
                    && puts >= known
                    && puts <= known + count(&self.gaps, g, r)
            }
            // Another incarnation: created after g, and if the key exists now, deleted first.
            (Some(_), Some(o)) => o.create > g && self.deletable(k, g, o.create - 1, linearized),
            (None, Some(o)) => o.create > g,
            (Some(_), None) => self.deletable(k, g, r, linearized),
            (None, None) => true,
        }
    }

    /// Whether the store, right after an unknown-outcome operation made revision `g`, holds
    /// what responses show was written at `g`.
    pub fn made_here(&self, g: i64, keys: &[Option<Kv>]) -> bool {
        self.made_at.get(&g).is_none_or(|made| {
            made.iter().all(|&(k, o, exact)| match keys[k as usize] {
                Some(kv) if exact => kv == o,
                Some(kv) => kv.create == g,
                None => false,
            })
        })
    }

    /// Whether something can delete key `k` at a revision in `(lo, hi]`: a completed delete
    /// reporting such a revision, or an unknown-outcome one not placed yet and a gap there.
    fn deletable(&self, k: usize, lo: i64, hi: i64, linearized: &[bool]) -> bool {
        count(&self.dels[k], lo, hi) > 0
            || (count(&self.gaps, lo, hi) > 0 && self.maybe_deleters[k].iter().any(|&d| !linearized[d as usize]))
    }
}
