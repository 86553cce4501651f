//! The search for a linearization.
//!
//! Events (invocations and responses) sit in one doubly linked list in time order (at
//! equal times invocations first, so touching intervals overlap), except unknown-outcome
//! operations' invocations, in a list of their own. A *candidate* is an operation invoked
//! before the first response still in the list: nothing it must follow in real time is
//! missing. The search linearizes a candidate if the model accepts it
//! (unlinking its two events), moves on, and undoes it on a dead end (a response reached
//! with its operation not linearized). A cache of visited (set of linearized operations,
//! model state) nodes, all of which failed, stops the search from exploring a node twice.
//!
//! Why the prunings keep the check sound (a history is reported linearizable only when a
//! linearization was built and every step of it checked against the model) and complete
//! (no linearization is missed):
//! - Reads first, without branching. An operation whose response shows it changed nothing
//!   (a get, a delete of nothing, a txn that wrote nothing) and that the model accepts now
//!   is linearized at once, and if the node fails we do not try it elsewhere: in any
//!   linearization from this node it can be moved to the front (it changes no state, it is
//!   a candidate, and moving it earlier breaks no real-time order).
//! - Revisions pin writes. A write whose response carries revision `r` must run at
//!   revision `r - 1`; the model checks it. An unknown-outcome operation is only
//!   linearized where it changes the store, to a revision no completed write reports and
//!   no higher than the highest revision any response reports: elsewhere it would either
//!   change nothing (the same as leaving it out) or make a reported revision impossible
//!   (revisions only grow). Unknown-outcome operations never linearized are placed after
//!   everything else, where nothing observes them: they "did not take effect". Nor is one
//!   linearized where a later response contradicts it: a key it changes, or what a response
//!   shows that revision wrote (`facts.rs`).
//! - The cache stores fingerprints: the revision exactly, the linearized set as two
//!   independent 64-bit hashes and the keys as a third (about 32 bytes a node, whatever the
//!   history's size). A collision could only skip an unexplored node, i.e. report a
//!   spurious violation, never accept a wrong history.
//!
//! There is no per-key partitioning: the global revision couples all keys (a per-key check
//! can accept two keys' histories that no single revision order explains). Revisions make
//! the whole-history search nearly deterministic instead (debug build: 5,000 operations
//! from 16 clients in tens of milliseconds; a 19,000-operation drill history in 0.9 s).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use crate::facts::Facts;
use crate::model::{Prepared, Resp, State, Undo, hash64, matches};
use crate::{History, OpId, report};

/// Bounds on the search; past them [`check_with`] returns [`CheckError::Inconclusive`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Model steps (operations tried).
    pub max_steps: u64,
    pub max_time: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_steps: 20_000_000, max_time: Some(Duration::from_secs(120)) }
    }
}

/// A witness that the history is linearizable.
#[derive(Clone, Debug)]
pub struct Linearization {
    /// Operations in linearization order: every completed one, and the unknown-outcome
    /// ones that took effect.
    pub order: Vec<OpId>,
    /// Unknown-outcome operations that did not take effect (or only after everything).
    pub not_taken: Vec<OpId>,
    /// The store revision after `order`.
    pub final_revision: i64,
    /// Model steps the search took.
    pub steps: u64,
}

/// Why a history is not linearizable. `Display` prints a report for people.
#[derive(Clone, Debug)]
pub struct Violation {
    /// The longest sequence of operations (with every completed operation that had to come
    /// before them) found to be linearizable.
    pub longest_prefix: Vec<OpId>,
    /// Operations none of which could be linearized after that prefix.
    pub blocked: Vec<OpId>,
    pub(crate) report: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

#[derive(Clone, Debug)]
pub enum CheckError {
    /// The history is not linearizable.
    Violation(Box<Violation>),
    /// The search ran out of its [`Limits`] (no verdict).
    Inconclusive {
        steps: u64,
        elapsed: Duration,
        completed_ops: usize,
        /// Where the search was stuck: the longest linearizable prefix it had found.
        stuck: Box<Violation>,
    },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Violation(v) => v.fmt(f),
            CheckError::Inconclusive { steps, elapsed, completed_ops, stuck } => write!(
                f,
                "linearizability check inconclusive: gave up after {steps} steps in {elapsed:?}; the longest \
                 linearizable prefix had {} operations ({completed_ops} completed in the history). Where it \
                 was stuck:\n{stuck}",
                stuck.longest_prefix.len()
            ),
        }
    }
}

impl std::error::Error for CheckError {}

/// Checks `history` with the default [`Limits`].
pub fn check(history: &History) -> Result<Linearization, CheckError> {
    check_with(history, Limits::default())
}

/// Checks `history`: a linearization, or a violation, or inconclusive past `limits`.
pub fn check_with(history: &History, limits: Limits) -> Result<Linearization, CheckError> {
    let p = Prepared::new(history);
    if let Some(v) = report::duplicate_revisions(history, &p) {
        return Err(CheckError::Violation(Box::new(v)));
    }
    Search::new(&p, limits).run(history)
}

const NIL: u32 = u32::MAX;
/// Up to this many keys, every key is checked against later responses when a gap is
/// filled; beyond, only the keys the filler changed (cheaper, prunes less).
const CHECK_ALL_KEYS: usize = 256;
const HEAD: u32 = 0;
const UNKNOWN_HEAD: u32 = 1;

/// Where a scan of the candidates goes on after a step back.
#[derive(Clone, Copy)]
enum Resume {
    Completed(u32),
    Unknown(u32),
    /// The node was visited before: nothing to try.
    Nothing,
}

struct Entry {
    /// Index into `Prepared::ops`.
    op: u32,
    is_call: bool,
    time: u64,
    /// For a call: its response entry (NIL when the outcome is unknown).
    ret: u32,
    prev: u32,
    next: u32,
}

struct Frame {
    entry: u32,
    /// Linearized without a branch point (a read; see the module doc).
    forced: bool,
    undo_mark: usize,
    old_rev: i64,
}

/// The hashes are already mixed; hash them no further.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

#[derive(PartialEq, Eq)]
struct Visited {
    bits: (u64, u64),
    rev: i64,
    hash: u64,
}

struct Search<'a> {
    p: &'a Prepared,
    limits: Limits,
    start: Instant,
    entries: Vec<Entry>,
    state: State,
    undo: Vec<Undo>,
    resp: Resp,
    /// The linearized set: two XOR-of-random-words hashes.
    bits: (u64, u64),
    cache: HashMap<u64, Vec<Visited>, BuildHasherDefault<PassThrough>>,
    stack: Vec<Frame>,
    /// Per op: completed and its response shows it changed nothing.
    reads: Vec<bool>,
    /// Revisions that completed writes report.
    claimed: std::collections::HashSet<i64>,
    max_rev: i64,
    facts: Facts,
    linearized: Vec<bool>,
    completed: usize,
    done: usize,
    steps: u64,
    next_clock_check: u64,
    /// The deepest stack seen at a dead end (as op indices), kept up to date incrementally:
    /// `stack[..low]` has not changed since it was copied.
    best: Vec<u32>,
    best_done: usize,
    low: usize,
}

impl<'a> Search<'a> {
    fn new(p: &'a Prepared, limits: Limits) -> Search<'a> {
        let n = p.ops.len();
        // Completed operations' events in one list; unknown-outcome operations' invocations
        // in another, scanned only where a revision gap comes next.
        // (time, is a response, op)
        let mut events: Vec<(u64, bool, u32)> = Vec::new();
        let mut unknown: Vec<(u64, bool, u32)> = Vec::new();
        for i in 0..n {
            match p.rets[i] {
                Some(_) => {
                    events.push((p.calls[i], false, i as u32));
                    events.push((p.returns[i], true, i as u32));
                }
                None => unknown.push((p.calls[i], false, i as u32)),
            }
        }
        // Invocations (false) before responses (true) at equal times.
        events.sort_unstable();
        unknown.sort_unstable();
        let head = || Entry { op: NIL, is_call: false, time: 0, ret: NIL, prev: NIL, next: NIL };
        let mut entries = vec![head(), head()];
        let mut call_entry = vec![NIL; n];
        for (list, events) in [(HEAD, &events), (UNKNOWN_HEAD, &unknown)] {
            let mut prev = list;
            for &(time, is_ret, op) in events {
                let idx = entries.len() as u32;
                entries.push(Entry { op, is_call: !is_ret, time, ret: NIL, prev, next: NIL });
                entries[prev as usize].next = idx;
                prev = idx;
                if is_ret {
                    entries[call_entry[op as usize] as usize].ret = idx;
                } else {
                    call_entry[op as usize] = idx;
                }
            }
        }
        let reads = p.rets.iter().map(|r| r.as_ref().is_some_and(|r| !r.changed())).collect();
        let claimed = p.rets.iter().flatten().filter(|r| r.changed()).map(|r| r.revision).collect();
        let max_rev = p.rets.iter().flatten().map(|r| r.revision).max().unwrap_or(1);
        let facts = Facts::new(p, &claimed, max_rev);
        Search {
            p,
            limits,
            start: Instant::now(),
            entries,
            state: State::new(p.keys.names.len()),
            undo: Vec::new(),
            resp: Resp::default(),
            bits: (0, 0),
            cache: HashMap::default(),
            stack: Vec::new(),
            reads,
            claimed,
            max_rev,
            facts,
            linearized: vec![false; n],
            completed: p.rets.iter().filter(|r| r.is_some()).count(),
            done: 0,
            steps: 0,
            next_clock_check: 0,
            best: Vec::new(),
            best_done: 0,
            low: 0,
        }
    }

    fn lift(&mut self, e: u32) {
        let (prev, next, ret) = {
            let x = &self.entries[e as usize];
            (x.prev, x.next, x.ret)
        };
        self.entries[prev as usize].next = next;
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        if ret != NIL {
            let (rp, rn) = (self.entries[ret as usize].prev, self.entries[ret as usize].next);
            self.entries[rp as usize].next = rn;
            if rn != NIL {
                self.entries[rn as usize].prev = rp;
            }
        }
    }

    fn unlift(&mut self, e: u32) {
        let ret = self.entries[e as usize].ret;
        if ret != NIL {
            let (rp, rn) = (self.entries[ret as usize].prev, self.entries[ret as usize].next);
            self.entries[rp as usize].next = ret;
            if rn != NIL {
                self.entries[rn as usize].prev = ret;
            }
        }
        let (prev, next) = (self.entries[e as usize].prev, self.entries[e as usize].next);
        self.entries[prev as usize].next = e;
        if next != NIL {
            self.entries[next as usize].prev = e;
        }
    }

    /// Tries to linearize the operation of call entry `e` now; on success it is pushed.
    fn try_linearize(&mut self, e: u32, forced: bool) -> bool {
        let i = self.entries[e as usize].op as usize;
        if self.p.rets[i].is_none() && !self.gap_next() {
            return false;
        }
        self.steps += 1;
        let (mark, old_rev) = (self.undo.len(), self.state.rev);
        let changed = self.state.apply(&self.p.ops[i], &self.p.values.names, &mut self.undo, &mut self.resp);
        let ok = match &self.p.rets[i] {
            Some(ret) => matches(ret, &self.resp),
            // Every key (or, with very many keys, every key it changed) must still be able to
            // become what later responses show: it took a revision others may have needed.
            None => {
                let (g, keys) = (self.state.rev, &self.state.keys);
                let fits = |k: u32| self.facts.consistent(k, keys[k as usize], g, &self.linearized);
                changed
                    && self.facts.made_here(g, keys)
                    && if keys.len() <= CHECK_ALL_KEYS {
                        (0..keys.len() as u32).all(fits)
                    } else {
                        self.undo[mark..].iter().all(|&(k, _)| fits(k))
                    }
            }
        };
        if !ok {
            self.state.undo_to(&mut self.undo, mark);
            self.state.rev = old_rev;
            return false;
        }
        self.lift(e);
        self.flip(i);
        if self.p.rets[i].is_some() {
            self.done += 1;
        }
        self.stack.push(Frame { entry: e, forced, undo_mark: mark, old_rev });
        true
    }

    /// Whether an unknown-outcome operation may change the store now: only to a revision
    /// no response reports, and no higher than the highest one reported.
    fn gap_next(&self) -> bool {
        let next = self.state.rev + 1;
        next <= self.max_rev && !self.claimed.contains(&next)
    }

    fn flip(&mut self, i: usize) {
        self.linearized[i] = !self.linearized[i];
        self.bits.0 ^= hash64(i as u64);
        self.bits.1 ^= hash64((i as u64) ^ 0xa076_1d64_78bd_642f);
    }

    fn pop(&mut self) -> Option<Frame> {
        let f = self.stack.pop()?;
        let i = self.entries[f.entry as usize].op as usize;
        self.state.undo_to(&mut self.undo, f.undo_mark);
        self.state.rev = f.old_rev;
        self.unlift(f.entry);
        self.flip(i);
        self.low = self.low.min(self.stack.len());
        if self.p.rets[i].is_some() {
            self.done -= 1;
        }
        Some(f)
    }

    /// Records the current node as visited; false if it already was.
    fn visit(&mut self) -> bool {
        let v = Visited { bits: self.bits, rev: self.state.rev, hash: self.state.hash };
        let key = v.bits.0 ^ hash64(v.rev as u64 ^ 0x5bd1_e995) ^ v.hash;
        let bucket = self.cache.entry(key).or_default();
        if bucket.contains(&v) {
            return false;
        }
        bucket.push(v);
        true
    }

    fn out_of_budget(&mut self) -> bool {
        if self.steps > self.limits.max_steps {
            return true;
        }
        if self.steps < self.next_clock_check {
            return false;
        }
        self.next_clock_check = self.steps + 4096;
        self.limits.max_time.is_some_and(|t| self.start.elapsed() > t)
    }

    fn run(mut self, h: &History) -> Result<Linearization, CheckError> {
        let mut resume: Resume;
        'node: loop {
            // Completed reads the model accepts here, in one pass over the candidates.
            let mut e = self.entries[HEAD as usize].next;
            while e != NIL && self.entries[e as usize].is_call {
                let i = self.entries[e as usize].op as usize;
                if self.reads[i] && self.try_linearize(e, true) {
                    let (next, ret) = (self.entries[e as usize].next, self.entries[e as usize].ret);
                    e = if next == ret { self.entries[ret as usize].next } else { next };
                } else {
                    e = self.entries[e as usize].next;
                }
            }
            if self.done == self.completed {
                return Ok(self.linearization());
            }
            if self.out_of_budget() {
                self.note_best();
                return Err(CheckError::Inconclusive {
                    steps: self.steps,
                    elapsed: self.start.elapsed(),
                    completed_ops: self.completed,
                    stuck: Box::new(report::violation(h, self.p, &self.best)),
                });
            }
            resume = if self.visit() { Resume::Completed(self.entries[HEAD as usize].next) } else { Resume::Nothing };
            'scan: loop {
                // Writes, then unknown-outcome operations: each is a branch point.
                match resume {
                    Resume::Completed(mut e) => {
                        while e != NIL && self.entries[e as usize].is_call {
                            let i = self.entries[e as usize].op as usize;
                            if !self.reads[i] && self.try_linearize(e, false) {
                                continue 'node;
                            }
                            e = self.entries[e as usize].next;
                        }
                        resume = Resume::Unknown(self.entries[UNKNOWN_HEAD as usize].next);
                        continue 'scan;
                    }
                    Resume::Unknown(mut e) if self.gap_next() => {
                        let until = self.first_pending_return();
                        while e != NIL && self.entries[e as usize].time <= until {
                            if self.try_linearize(e, false) {
                                continue 'node;
                            }
                            e = self.entries[e as usize].next;
                        }
                    }
                    Resume::Unknown(_) | Resume::Nothing => {}
                }
                // Dead end: step back to the last branch point.
                self.note_best();
                loop {
                    let Some(f) = self.pop() else {
                        return Err(CheckError::Violation(Box::new(report::violation(h, self.p, &self.best))));
                    };
                    if !f.forced {
                        let (op, next) = (self.entries[f.entry as usize].op, self.entries[f.entry as usize].next);
                        resume = if self.p.rets[op as usize].is_some() {
                            Resume::Completed(next)
                        } else {
                            Resume::Unknown(next)
                        };
                        continue 'scan;
                    }
                }
            }
        }
    }

    /// When the earliest response still pending happened: unknown-outcome operations
    /// invoked later cannot come next.
    fn first_pending_return(&self) -> u64 {
        let mut e = self.entries[HEAD as usize].next;
        while e != NIL && self.entries[e as usize].is_call {
            e = self.entries[e as usize].next;
        }
        if e == NIL { u64::MAX } else { self.entries[e as usize].time }
    }

    /// Keeps the stack as the longest prefix if it is.
    fn note_best(&mut self) {
        if self.done > self.best_done {
            self.best_done = self.done;
            self.best.truncate(self.low);
            let entries = &self.entries;
            self.best.extend(self.stack[self.low..].iter().map(|f| entries[f.entry as usize].op));
            self.low = self.stack.len();
        }
    }

    fn linearization(&self) -> Linearization {
        let mut linearized = vec![false; self.p.ops.len()];
        let order = self
            .stack
            .iter()
            .map(|f| {
                let i = self.entries[f.entry as usize].op as usize;
                linearized[i] = true;
                self.p.ids[i]
            })
            .collect();
        let mut not_taken: Vec<OpId> = (0..self.p.ops.len())
            .filter(|&i| !linearized[i])
            .map(|i| self.p.ids[i])
            .chain(self.p.dropped.iter().copied())
            .collect();
        not_taken.sort();
        Linearization { order, not_taken, final_revision: self.state.rev, steps: self.steps }
    }
}
