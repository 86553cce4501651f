//! What completed responses say about each key at given revisions, so that the search can
//! reject an unknown-outcome operation's effect as soon as it is tried when a later
//! response contradicts it, instead of discovering that at the end of the history.
//!
//! Every rule here is a necessary condition of any linearization, so rejecting what breaks
//! one loses nothing: after a change at revision `g`, a key's `mod_revision` only grows
//! while it exists; a key re-created after a delete has a `create_revision` above `g`;
//! within one incarnation the version counts the puts, and puts at revisions in `(g, r]`
//! come from completed writes that report those revisions or from unknown-outcome ones
//! filling the revisions nobody reports.

use std::collections::{BTreeMap, HashSet};

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
        f
    }

    /// Whether key `k`, being `s` right after an unknown-outcome operation made revision
    /// `g`, can still be what the next response showing it says. `linearized[i]`: whether
    /// operation `i` is already placed.
    pub fn consistent(&self, k: u32, s: Option<Kv>, g: i64, linearized: &[bool]) -> bool {
        let k = k as usize;
        let Some((&r, &o)) = self.seen[k].range(g..).next() else { return true };
        match (s, o) {
            (_, Some(o)) if o.modr < g || (o.modr == g && s != Some(o)) => false,
            (Some(kv), Some(o)) if o.create == kv.create => {
                // The same incarnation: no delete in between, and as many puts as versions.
                let puts = o.version - kv.version;
                let known = count(&self.puts[k], g, r);
                count(&self.dels[k], g, r) == 0 && puts >= known && puts <= known + count(&self.gaps, g, r)
            }
            (_, Some(o)) => o.create > g,
            (Some(_), None) => {
                count(&self.dels[k], g, r) > 0
                    || (count(&self.gaps, g, r) > 0 && self.maybe_deleters[k].iter().any(|&d| !linearized[d as usize]))
            }
            (None, None) => true,
        }
    }
}
