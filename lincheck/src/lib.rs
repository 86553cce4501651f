//! `lincheck` checks that a recorded concurrent history of operations on an etcd-v3-like
//! key-value store is linearizable: that every operation can be given one instant between
//! its invocation and its response such that, executed one at a time in that order from an
//! empty store at revision 1, each produces exactly the response the client observed.
//!
//! The model is etcd's KV: one global revision (1 when empty) that every change bumps by
//! exactly one; per key a value, `create_revision`, `mod_revision` and `version`. A put
//! always bumps; a delete bumps only if the key existed; a txn picks its branch from its
//! compares (missing key: value compares are false, the others compare against 0) and bumps
//! once if anything in that branch changed the store. Responses carry the header revision
//! (the store revision after the operation), and that is checked too: it pins every write
//! to one place in the order, which is what makes the search fast.
//!
//! Recording: [`History`] for simulations (a logical clock, or times you supply) and
//! [`Recorder`] for real threads (a mutex and an `Instant`). An operation whose outcome the
//! client does not know (timeout, connection lost) is left without a response: it may have
//! taken effect at any point after its invocation, or never. Operations known to have
//! failed without effect are not recorded (or are [`History::forget`]-ten).
//!
//! What makes a history quick to check: unique values, and every key read now and then.
//! A write whose outcome is unknown and that took effect fills a revision no response
//! reports; the search finds which one by what later reads show. If a key is written by
//! such writes but read only at the very end, many combinations may have to be tried; the
//! step budget ([`Limits`]) then ends the search as inconclusive instead of hanging.
//!
//! The check ([`check`]) is a Wing & Gong / Lowe style depth-first search; see
//! `search.rs` for the algorithm and why each pruning is sound. It depends on nothing but
//! std, and knows nothing about gRPC or the store's code.

use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

mod facts;
mod model;
mod report;
mod search;
mod text;

pub use search::{CheckError, Limits, Linearization, Violation, check, check_with};

/// An operation a client sends, on single keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// A linearizable single-key Range.
    Get {
        key: Vec<u8>,
    },
    /// A single-key DeleteRange.
    Delete {
        key: Vec<u8>,
    },
    Txn(Txn),
}

impl Op {
    pub fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Op {
        Op::Put { key: key.as_ref().to_vec(), value: value.as_ref().to_vec() }
    }
    pub fn get(key: impl AsRef<[u8]>) -> Op {
        Op::Get { key: key.as_ref().to_vec() }
    }
    pub fn delete(key: impl AsRef<[u8]>) -> Op {
        Op::Delete { key: key.as_ref().to_vec() }
    }
    pub fn txn(compare: Vec<Compare>, success: Vec<TxnOp>, failure: Vec<TxnOp>) -> Op {
        Op::Txn(Txn { compare, success, failure })
    }
}

/// etcd's Txn: if every compare holds, `success` runs, else `failure`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub compare: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

/// One request inside a txn branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Get { key: Vec<u8> },
    Delete { key: Vec<u8> },
}

impl TxnOp {
    pub fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> TxnOp {
        TxnOp::Put { key: key.as_ref().to_vec(), value: value.as_ref().to_vec() }
    }
    pub fn get(key: impl AsRef<[u8]>) -> TxnOp {
        TxnOp::Get { key: key.as_ref().to_vec() }
    }
    pub fn delete(key: impl AsRef<[u8]>) -> TxnOp {
        TxnOp::Delete { key: key.as_ref().to_vec() }
    }
}

/// etcd's Compare on a single key: `<target of key> <result> <operand>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compare {
    pub key: Vec<u8>,
    pub result: CompareResult,
    pub target: CompareTarget,
}

impl Compare {
    pub fn value(key: impl AsRef<[u8]>, result: CompareResult, value: impl AsRef<[u8]>) -> Compare {
        Compare { key: key.as_ref().to_vec(), result, target: CompareTarget::Value(value.as_ref().to_vec()) }
    }
    pub fn version(key: impl AsRef<[u8]>, result: CompareResult, version: i64) -> Compare {
        Compare { key: key.as_ref().to_vec(), result, target: CompareTarget::Version(version) }
    }
    pub fn create_revision(key: impl AsRef<[u8]>, result: CompareResult, rev: i64) -> Compare {
        Compare { key: key.as_ref().to_vec(), result, target: CompareTarget::CreateRevision(rev) }
    }
    pub fn mod_revision(key: impl AsRef<[u8]>, result: CompareResult, rev: i64) -> Compare {
        Compare { key: key.as_ref().to_vec(), result, target: CompareTarget::ModRevision(rev) }
    }
}

/// etcd's `Compare.CompareResult`; `Less` means "the key's field is less than the operand".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareResult {
    Equal,
    NotEqual,
    Less,
    Greater,
}

/// etcd's `Compare.CompareTarget` together with its operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareTarget {
    Value(Vec<u8>),
    Version(i64),
    CreateRevision(i64),
    ModRevision(i64),
}

/// A key as a client observed it in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
}

/// What the client observed. `revision` is always the response header's revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    Put {
        revision: i64,
    },
    Get {
        revision: i64,
        kv: Option<KeyValue>,
    },
    Delete {
        revision: i64,
        deleted: i64,
    },
    /// `results` are the responses of the branch taken, in order.
    Txn {
        revision: i64,
        succeeded: bool,
        results: Vec<TxnResult>,
    },
}

impl Ret {
    pub fn revision(&self) -> i64 {
        match self {
            Ret::Put { revision }
            | Ret::Get { revision, .. }
            | Ret::Delete { revision, .. }
            | Ret::Txn { revision, .. } => *revision,
        }
    }

    fn fits(&self, op: &Op) -> bool {
        matches!(
            (op, self),
            (Op::Put { .. }, Ret::Put { .. })
                | (Op::Get { .. }, Ret::Get { .. })
                | (Op::Delete { .. }, Ret::Delete { .. })
                | (Op::Txn(_), Ret::Txn { .. })
        )
    }
}

/// The response to one request inside a txn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnResult {
    Put,
    Get(Option<KeyValue>),
    Delete { deleted: i64 },
}

/// Names an operation in a [`History`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub usize);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("#{}", self.0))
    }
}

/// One recorded operation.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Only for reports: the checker does not assume a client's operations are sequential.
    pub client: u32,
    pub op: Op,
    pub call: u64,
    /// `None`: outcome unknown (may have taken effect at any time after `call`, or never).
    pub ret: Option<(u64, Ret)>,
}

/// A recorded history. Times are plain `u64`s on one clock; an operation returning at `t`
/// and another invoked at the same `t` count as concurrent.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<Option<Operation>>,
    /// The next logical time: greater than every time recorded so far.
    clock: u64,
    /// Times are nanoseconds (from a [`Recorder`]); only changes how reports print them.
    nanos: bool,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// Records an invocation at the next tick of the history's logical clock.
    pub fn invoke(&mut self, client: u32, op: Op) -> OpId {
        self.invoke_at(self.clock, client, op)
    }

    /// Records the response of `id` at the next tick of the logical clock.
    pub fn complete(&mut self, id: OpId, ret: Ret) {
        self.complete_at(self.clock, id, ret)
    }

    /// Records an invocation at time `t`.
    pub fn invoke_at(&mut self, t: u64, client: u32, op: Op) -> OpId {
        self.clock = self.clock.max(t + 1);
        self.ops.push(Some(Operation { client, op, call: t, ret: None }));
        OpId(self.ops.len() - 1)
    }

    /// Records the response of `id` at time `t`.
    ///
    /// # Panics
    /// If `id` is unknown, forgotten or already completed, if `t` is before its invocation,
    /// or if `ret` is not the response kind of its operation (a bug in the caller).
    pub fn complete_at(&mut self, t: u64, id: OpId, ret: Ret) {
        self.clock = self.clock.max(t + 1);
        let o = self.ops.get_mut(id.0).and_then(Option::as_mut).unwrap_or_else(|| panic!("no operation {id}"));
        assert!(o.ret.is_none(), "operation {id} completed twice");
        assert!(t >= o.call, "operation {id} completes at {t}, before its invocation at {}", o.call);
        assert!(ret.fits(&o.op), "response {ret:?} does not fit operation {:?}", o.op);
        o.ret = Some((t, ret));
    }

    /// Removes an operation known to have had no effect: a read that failed, or a write
    /// that failed before it could reach the store. Never use this for a write whose
    /// outcome is unknown; leave that one uncompleted.
    pub fn forget(&mut self, id: OpId) {
        if let Some(slot) = self.ops.get_mut(id.0) {
            *slot = None;
        }
    }

    /// The recorded (not forgotten) operations.
    pub fn ops(&self) -> impl Iterator<Item = (OpId, &Operation)> {
        self.ops.iter().enumerate().filter_map(|(i, o)| o.as_ref().map(|o| (OpId(i), o)))
    }

    pub fn get(&self, id: OpId) -> Option<&Operation> {
        self.ops.get(id.0).and_then(Option::as_ref)
    }

    /// Number of recorded (not forgotten) operations.
    pub fn len(&self) -> usize {
        self.ops().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn format_time(&self, t: u64) -> String {
        if self.nanos { format!("{:.3}ms", t as f64 / 1e6) } else { t.to_string() }
    }
}

/// A thread-safe recorder for real processes: timestamps are nanoseconds since the
/// recorder was created, taken under its lock and strictly increasing, so the recorded
/// order of events is the order in which the threads reported them. Call [`invoke`] just
/// before sending a request and [`complete`] just after its response arrived.
///
/// [`invoke`]: Recorder::invoke
/// [`complete`]: Recorder::complete
pub struct Recorder {
    start: Instant,
    history: Mutex<History>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { start: Instant::now(), history: Mutex::new(History { nanos: true, ..History::default() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self, h: &History) -> u64 {
        (self.start.elapsed().as_nanos() as u64).max(h.clock)
    }

    pub fn invoke(&self, client: u32, op: Op) -> OpId {
        let mut h = self.lock();
        let t = self.now(&h);
        h.invoke_at(t, client, op)
    }

    pub fn complete(&self, id: OpId, ret: Ret) {
        let mut h = self.lock();
        let t = self.now(&h);
        h.complete_at(t, id, ret)
    }

    /// See [`History::forget`].
    pub fn forget(&self, id: OpId) {
        self.lock().forget(id)
    }

    /// A copy of everything recorded so far.
    pub fn history(&self) -> History {
        self.lock().clone()
    }

    pub fn into_history(self) -> History {
        self.history.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
