//! The sequential model (etcd's KV with revisions) on interned keys and values, with an
//! undo log so the search can step back, and an incremental hash of the state.

use std::collections::HashMap;

use crate::{Compare, CompareResult, CompareTarget, History, KeyValue, Op, OpId, Ret, TxnOp, TxnResult};

/// Interns byte strings to dense `u32`s.
#[derive(Default)]
pub(crate) struct Interner {
    ids: HashMap<Vec<u8>, u32>,
    pub(crate) names: Vec<Vec<u8>>,
}

impl Interner {
    fn id(&mut self, s: &[u8]) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s.to_vec(), i);
        self.names.push(s.to_vec());
        i
    }
}

/// A key's state (or a key as observed), values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kv {
    pub value: u32,
    pub create: i64,
    pub modr: i64,
    pub version: i64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    Value(u32),
    Version(i64),
    Create(i64),
    Mod(i64),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Cmp {
    key: u32,
    result: CompareResult,
    target: Target,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Req {
    Put(u32, u32),
    Get(u32),
    Delete(u32),
}

#[derive(Debug)]
pub(crate) enum POp {
    Put(u32, u32),
    Get(u32),
    Delete(u32),
    Txn { cmp: Box<[Cmp]>, success: Box<[Req]>, failure: Box<[Req]> },
}

impl POp {
    /// Whether some state could make this operation change the store.
    pub fn may_write(&self) -> bool {
        match self {
            POp::Put(..) | POp::Delete(_) => true,
            POp::Get(_) => false,
            POp::Txn { success, failure, .. } => {
                success.iter().chain(failure.iter()).any(|r| matches!(r, Req::Put(..) | Req::Delete(_)))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Res {
    Put,
    Get(Option<Kv>),
    Delete(i64),
}

/// An observed response, interned.
#[derive(Debug)]
pub(crate) struct PRet {
    pub revision: i64,
    pub body: Body,
}

#[derive(Debug)]
pub(crate) enum Body {
    Put,
    Get(Option<Kv>),
    Delete(i64),
    Txn { succeeded: bool, results: Box<[Res]> },
}

impl PRet {
    /// Whether the store changed, judging by the response alone.
    pub fn changed(&self) -> bool {
        match &self.body {
            Body::Put => true,
            Body::Get(_) => false,
            Body::Delete(n) => *n > 0,
            Body::Txn { results, .. } => {
                results.iter().any(|r| matches!(r, Res::Put) || matches!(r, Res::Delete(n) if *n > 0))
            }
        }
    }

    /// The store revision the operation must see before it runs.
    pub fn pre_revision(&self) -> i64 {
        if self.changed() { self.revision - 1 } else { self.revision }
    }
}

/// The history, interned, keeping the order of `History::ops`.
pub(crate) struct Prepared {
    pub ids: Vec<OpId>,
    pub ops: Vec<POp>,
    pub rets: Vec<Option<PRet>>,
    pub calls: Vec<u64>,
    /// Return times (`u64::MAX` for unknown outcome).
    pub returns: Vec<u64>,
    pub keys: Interner,
    pub values: Interner,
    /// Unknown-outcome operations that can never change anything (reads): dropped.
    pub dropped: Vec<OpId>,
}

impl Prepared {
    pub fn new(h: &History) -> Prepared {
        let mut p = Prepared {
            ids: Vec::new(),
            ops: Vec::new(),
            rets: Vec::new(),
            calls: Vec::new(),
            returns: Vec::new(),
            keys: Interner::default(),
            values: Interner::default(),
            dropped: Vec::new(),
        };
        for (id, o) in h.ops() {
            let op = p.op(&o.op);
            if o.ret.is_none() && !op.may_write() {
                p.dropped.push(id);
                continue;
            }
            let ret = o.ret.as_ref().map(|(_, r)| p.ret(r));
            p.ids.push(id);
            p.ops.push(op);
            p.rets.push(ret);
            p.calls.push(o.call);
            p.returns.push(o.ret.as_ref().map_or(u64::MAX, |(t, _)| *t));
        }
        p
    }

    fn req(&mut self, r: &TxnOp) -> Req {
        match r {
            TxnOp::Put { key, value } => Req::Put(self.keys.id(key), self.values.id(value)),
            TxnOp::Get { key } => Req::Get(self.keys.id(key)),
            TxnOp::Delete { key } => Req::Delete(self.keys.id(key)),
        }
    }

    fn op(&mut self, op: &Op) -> POp {
        match op {
            Op::Put { key, value } => POp::Put(self.keys.id(key), self.values.id(value)),
            Op::Get { key } => POp::Get(self.keys.id(key)),
            Op::Delete { key } => POp::Delete(self.keys.id(key)),
            Op::Txn(t) => POp::Txn {
                cmp: t.compare.iter().map(|c| self.cmp(c)).collect(),
                success: t.success.iter().map(|r| self.req(r)).collect(),
                failure: t.failure.iter().map(|r| self.req(r)).collect(),
            },
        }
    }

    fn cmp(&mut self, c: &Compare) -> Cmp {
        let target = match &c.target {
            CompareTarget::Value(v) => Target::Value(self.values.id(v)),
            CompareTarget::Version(n) => Target::Version(*n),
            CompareTarget::CreateRevision(n) => Target::Create(*n),
            CompareTarget::ModRevision(n) => Target::Mod(*n),
        };
        Cmp { key: self.keys.id(&c.key), result: c.result, target }
    }

    fn kv(&mut self, kv: &Option<KeyValue>) -> Option<Kv> {
        kv.as_ref().map(|kv| Kv {
            value: self.values.id(&kv.value),
            create: kv.create_revision,
            modr: kv.mod_revision,
            version: kv.version,
        })
    }

    fn ret(&mut self, r: &Ret) -> PRet {
        match r {
            Ret::Put { revision } => PRet { revision: *revision, body: Body::Put },
            Ret::Get { revision, kv } => PRet { revision: *revision, body: Body::Get(self.kv(kv)) },
            Ret::Delete { revision, deleted } => PRet { revision: *revision, body: Body::Delete(*deleted) },
            Ret::Txn { revision, succeeded, results } => PRet {
                revision: *revision,
                body: Body::Txn {
                    succeeded: *succeeded,
                    results: results
                        .iter()
                        .map(|r| match r {
                            TxnResult::Put => Res::Put,
                            TxnResult::Get(kv) => Res::Get(self.kv(kv)),
                            TxnResult::Delete { deleted } => Res::Delete(*deleted),
                        })
                        .collect(),
                },
            },
        }
    }

    pub fn key_value(&self, kv: Option<Kv>) -> Option<KeyValue> {
        kv.map(|kv| KeyValue {
            value: self.values.names[kv.value as usize].clone(),
            create_revision: kv.create,
            mod_revision: kv.modr,
            version: kv.version,
        })
    }

    /// The public form of a computed response, for reports.
    pub fn response(&self, op: &POp, r: &Resp) -> Ret {
        match op {
            POp::Put(..) => Ret::Put { revision: r.revision },
            POp::Get(_) => Ret::Get { revision: r.revision, kv: self.key_value(r.kv) },
            POp::Delete(_) => Ret::Delete { revision: r.revision, deleted: r.deleted },
            POp::Txn { .. } => Ret::Txn {
                revision: r.revision,
                succeeded: r.succeeded,
                results: r
                    .results
                    .iter()
                    .map(|x| match x {
                        Res::Put => TxnResult::Put,
                        Res::Get(kv) => TxnResult::Get(self.key_value(*kv)),
                        Res::Delete(n) => TxnResult::Delete { deleted: *n },
                    })
                    .collect(),
            },
        }
    }
}

/// A response computed by the model (scratch space, reused).
#[derive(Default)]
pub(crate) struct Resp {
    pub revision: i64,
    pub kv: Option<Kv>,
    pub deleted: i64,
    pub succeeded: bool,
    pub results: Vec<Res>,
}

/// Whether an observed response equals the one the model computed.
pub(crate) fn matches(ret: &PRet, r: &Resp) -> bool {
    ret.revision == r.revision
        && match &ret.body {
            Body::Put => true,
            Body::Get(kv) => *kv == r.kv,
            Body::Delete(n) => *n == r.deleted,
            Body::Txn { succeeded, results } => *succeeded == r.succeeded && results[..] == r.results[..],
        }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub(crate) fn hash64(x: u64) -> u64 {
    mix(x)
}

fn key_hash(k: u32, kv: Option<Kv>) -> u64 {
    match kv {
        None => 0,
        Some(kv) => mix(mix(mix(mix(u64::from(k) ^ (u64::from(kv.value) << 32)) ^ kv.create as u64) ^ kv.modr as u64)
            ^ kv.version as u64),
    }
}

/// The store: revision, keys, and an XOR-of-keys hash kept up to date on every change.
#[derive(Clone)]
pub(crate) struct State {
    pub rev: i64,
    pub keys: Vec<Option<Kv>>,
    pub hash: u64,
}

pub(crate) type Undo = (u32, Option<Kv>);

impl State {
    pub fn new(nkeys: usize) -> State {
        State { rev: 1, keys: vec![None; nkeys], hash: 0 }
    }

    fn set(&mut self, k: u32, new: Option<Kv>, undo: &mut Vec<Undo>) {
        let old = self.keys[k as usize];
        undo.push((k, old));
        self.hash ^= key_hash(k, old) ^ key_hash(k, new);
        self.keys[k as usize] = new;
    }

    /// Reverts key changes back to undo-log length `mark` (the revision is the caller's).
    pub fn undo_to(&mut self, undo: &mut Vec<Undo>, mark: usize) {
        while undo.len() > mark {
            let (k, old) = undo.pop().expect("len > mark");
            let cur = self.keys[k as usize];
            self.hash ^= key_hash(k, cur) ^ key_hash(k, old);
            self.keys[k as usize] = old;
        }
    }

    fn put(&mut self, k: u32, v: u32, rev: i64, undo: &mut Vec<Undo>) {
        let new = match self.keys[k as usize] {
            Some(kv) => Kv { value: v, create: kv.create, modr: rev, version: kv.version + 1 },
            None => Kv { value: v, create: rev, modr: rev, version: 1 },
        };
        self.set(k, Some(new), undo);
    }

    /// Deletes `k` if present; returns the number of keys deleted.
    fn delete(&mut self, k: u32, undo: &mut Vec<Undo>) -> i64 {
        if self.keys[k as usize].is_some() {
            self.set(k, None, undo);
            1
        } else {
            0
        }
    }

    fn holds(&self, c: &Cmp, values: &[Vec<u8>]) -> bool {
        let kv = self.keys[c.key as usize];
        let ord = match (c.target, kv) {
            // etcd: a value compare on a missing key is always false.
            (Target::Value(_), None) => return false,
            (Target::Value(v), Some(kv)) => values[kv.value as usize].cmp(&values[v as usize]),
            (Target::Version(n), kv) => kv.map_or(0, |kv| kv.version).cmp(&n),
            (Target::Create(n), kv) => kv.map_or(0, |kv| kv.create).cmp(&n),
            (Target::Mod(n), kv) => kv.map_or(0, |kv| kv.modr).cmp(&n),
        };
        match c.result {
            CompareResult::Equal => ord.is_eq(),
            CompareResult::NotEqual => ord.is_ne(),
            CompareResult::Less => ord.is_lt(),
            CompareResult::Greater => ord.is_gt(),
        }
    }

    /// Runs `op`, logging key changes in `undo`, and writes its response into `out`.
    /// Returns whether the store changed (and so the revision was bumped).
    pub fn apply(&mut self, op: &POp, values: &[Vec<u8>], undo: &mut Vec<Undo>, out: &mut Resp) -> bool {
        let next = self.rev + 1;
        let changed = match op {
            POp::Put(k, v) => {
                self.put(*k, *v, next, undo);
                true
            }
            POp::Get(k) => {
                out.kv = self.keys[*k as usize];
                false
            }
            POp::Delete(k) => {
                out.deleted = self.delete(*k, undo);
                out.deleted > 0
            }
            POp::Txn { cmp, success, failure } => {
                out.succeeded = cmp.iter().all(|c| self.holds(c, values));
                out.results.clear();
                let mut changed = false;
                // Requests run in order at one revision; later ones see earlier writes.
                for r in if out.succeeded { success.iter() } else { failure.iter() } {
                    match *r {
                        Req::Put(k, v) => {
                            self.put(k, v, next, undo);
                            changed = true;
                            out.results.push(Res::Put);
                        }
                        Req::Get(k) => out.results.push(Res::Get(self.keys[k as usize])),
                        Req::Delete(k) => {
                            let n = self.delete(k, undo);
                            changed |= n > 0;
                            out.results.push(Res::Delete(n));
                        }
                    }
                }
                changed
            }
        };
        if changed {
            self.rev = next;
        }
        out.revision = self.rev;
        changed
    }
}
