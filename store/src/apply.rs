//! The state machine: every mutation of the store goes through [`StateMachine::apply`],
//! keyed by its log index. One call is one atomic backend batch that also records the
//! applied (consistent) index, so after a crash the data and the index agree. Today the
//! log is a local sequence; Raft's committed entries feed the same function.
//!
//! Validation that depends on state (lease exists, key exists, revision compacted) is
//! done here, before anything changes, so a rejected request changes nothing.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;
use proto::etcdserverpb::{
    AlarmMember, AlarmRequest, AlarmResponse, AlarmType, CompactionRequest, CompactionResponse, Compare,
    DeleteRangeRequest, DeleteRangeResponse, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest,
    LeaseKeepAliveResponse, LeaseRevokeRequest, LeaseRevokeResponse, Member, PutRequest, PutResponse, RangeRequest,
    RangeResponse, RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse, alarm_request::AlarmAction, compare,
    range_request, request_op, response_op,
};
use proto::mvccpb::{Event, KeyValue};

use crate::backend::{Backend, BackendError, Bucket, WriteBatch};
use crate::lease::{LeaseRecord, Lessor};
use crate::mvcc::{META_CONSISTENT_INDEX, Mvcc, MvccError, RangeOptions, WriteTxn};

pub(crate) const MEMBER_ATTR_PREFIX: &[u8] = b"attr/";

pub(crate) fn member_key(id: u64) -> Vec<u8> {
    let mut k = MEMBER_ATTR_PREFIX.to_vec();
    k.extend_from_slice(format!("{id:016x}").as_bytes());
    k
}

/// A request that changes state (or must be ordered with changes, like a Txn).
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compaction(CompactionRequest),
    LeaseGrant(LeaseGrantRequest),
    LeaseRevoke(LeaseRevokeRequest),
    Alarm(AlarmRequest),
    /// A keep-alive received by a follower, renewed on every member.
    LeaseRenew(LeaseKeepAliveRequest),
    /// A member announcing its name and client URLs (etcd publishes these through the
    /// log too, so every member can list every other's client URLs).
    PublishMember(Member),
    /// New peer URLs for a member (etcd's MemberUpdate).
    UpdateMember(Member),
}

#[derive(Debug)]
pub enum Response {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compaction(CompactionResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    Alarm(AlarmResponse),
    LeaseRenew(LeaseKeepAliveResponse),
    PublishMember,
    UpdateMember,
}

/// A request rejected by the state machine; the caller maps it to etcd's gRPC error.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Mvcc(#[from] MvccError),
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("lease not found")]
    LeaseNotFound,
    #[error("lease already exists")]
    LeaseExists,
    #[error("database space exceeded")]
    NoSpace,
    #[error("undecodable log entry")]
    BadEntry,
    /// Raft refused the proposal (no leader known, or a leadership transfer is under
    /// way): it reached no log, so it certainly did not take effect.
    #[error("proposal dropped")]
    ProposalDropped,
}

impl From<BackendError> for ApplyError {
    fn from(e: BackendError) -> Self {
        ApplyError::Mvcc(MvccError::Backend(e))
    }
}

impl Request {
    /// The log encoding: one tag byte, then the protobuf message.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, body) = match self {
            Request::Put(r) => (1u8, r.encode_to_vec()),
            Request::DeleteRange(r) => (2, r.encode_to_vec()),
            Request::Txn(r) => (3, r.encode_to_vec()),
            Request::Compaction(r) => (4, r.encode_to_vec()),
            Request::LeaseGrant(r) => (5, r.encode_to_vec()),
            Request::LeaseRevoke(r) => (6, r.encode_to_vec()),
            Request::Alarm(r) => (7, r.encode_to_vec()),
            Request::LeaseRenew(r) => (8, r.encode_to_vec()),
            Request::PublishMember(r) => (9, r.encode_to_vec()),
            Request::UpdateMember(r) => (10, r.encode_to_vec()),
        };
        let mut out = Vec::with_capacity(body.len() + 1);
        out.push(tag);
        out.extend_from_slice(&body);
        out
    }

    pub fn decode(b: &[u8]) -> Result<Request, ApplyError> {
        let (&tag, body) = b.split_first().ok_or(ApplyError::BadEntry)?;
        let bad = |_| ApplyError::BadEntry;
        Ok(match tag {
            1 => Request::Put(PutRequest::decode(body).map_err(bad)?),
            2 => Request::DeleteRange(DeleteRangeRequest::decode(body).map_err(bad)?),
            3 => Request::Txn(TxnRequest::decode(body).map_err(bad)?),
            4 => Request::Compaction(CompactionRequest::decode(body).map_err(bad)?),
            5 => Request::LeaseGrant(LeaseGrantRequest::decode(body).map_err(bad)?),
            6 => Request::LeaseRevoke(LeaseRevokeRequest::decode(body).map_err(bad)?),
            7 => Request::Alarm(AlarmRequest::decode(body).map_err(bad)?),
            8 => Request::LeaseRenew(LeaseKeepAliveRequest::decode(body).map_err(bad)?),
            9 => Request::PublishMember(Member::decode(body).map_err(bad)?),
            10 => Request::UpdateMember(Member::decode(body).map_err(bad)?),
            _ => return Err(ApplyError::BadEntry),
        })
    }

    /// Whether this request would add data (refused while NOSPACE is raised).
    pub fn adds_data(&self) -> bool {
        match self {
            Request::Put(_) | Request::LeaseGrant(_) => true,
            Request::Txn(t) => txn_has_put(t),
            _ => false,
        }
    }
}

fn txn_has_put(t: &TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).any(|op| match &op.request {
        Some(request_op::Request::RequestPut(_)) => true,
        Some(request_op::Request::RequestTxn(t)) => txn_has_put(t),
        _ => false,
    })
}

/// The outcome of applying one entry: the response (or error), the atomic batch to
/// write, and the watch events it produced.
pub struct Applied {
    pub result: Result<Response, ApplyError>,
    pub batch: WriteBatch,
    pub events: Vec<Event>,
}

pub struct StateMachine {
    pub mvcc: Mvcc,
    pub lessor: Lessor,
    pub(crate) alarms: Mutex<Vec<AlarmMember>>,
    pub(crate) applied: AtomicU64,
}

fn header(rev: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { revision: rev, ..Default::default() })
}

impl StateMachine {
    /// Opens the state over `backend`: MVCC index, leases and their keys, alarms, and
    /// the applied index.
    pub fn open(backend: Arc<dyn Backend>, min_lease_ttl: i64) -> Result<Self, ApplyError> {
        let sm = Self {
            mvcc: Mvcc::open(backend)?,
            lessor: Lessor::new(min_lease_ttl),
            alarms: Mutex::new(Vec::new()),
            applied: AtomicU64::new(0),
        };
        sm.load_derived()?;
        Ok(sm)
    }

    /// Rebuilds what is kept in memory beside the MVCC index (leases and their keys,
    /// alarms, the applied index) from the backend.
    pub(crate) fn load_derived(&self) -> Result<(), ApplyError> {
        let backend = self.mvcc.backend();
        self.lessor.clear();
        for (_, v) in backend.scan(Bucket::Lease, b"", None)? {
            if let Ok(rec) = LeaseRecord::decode(v.as_slice()) {
                self.lessor.grant(rec.id, rec.ttl);
            }
        }
        for kv in self.mvcc.range(b"\0", b"\0", RangeOptions::default())?.kvs {
            if kv.lease != 0 {
                self.lessor.attach(kv.lease, &kv.key);
            }
        }
        let mut alarms = Vec::new();
        for (_, v) in backend.scan(Bucket::Alarm, b"", None)? {
            if let Ok(a) = AlarmMember::decode(v.as_slice()) {
                alarms.push(a);
            }
        }
        *self.alarms.lock().unwrap_or_else(|e| e.into_inner()) = alarms;
        let applied = backend
            .get(Bucket::Meta, META_CONSISTENT_INDEX)?
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0);
        self.applied.store(applied, Ordering::Release);
        self.mvcc.set_written(applied);
        Ok(())
    }

    pub fn applied_index(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Attributes members have published, by id.
    pub fn published_members(&self) -> Vec<Member> {
        let Ok(items) = self.mvcc.backend().scan(Bucket::Members, MEMBER_ATTR_PREFIX, Some(b"attr0")) else {
            return Vec::new();
        };
        items.iter().filter_map(|(_, v)| Member::decode(v.as_slice()).ok()).collect()
    }

    pub fn alarms(&self) -> Vec<AlarmMember> {
        self.alarms.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn no_space(&self) -> bool {
        self.alarms().iter().any(|a| a.alarm == AlarmType::Nospace as i32)
    }

    /// Applies log entry `index`. Nothing reaches the backend here: the caller writes
    /// `batch` (atomically, with the consistent index inside) and flushes before it
    /// publishes or acknowledges.
    pub fn apply(&self, index: u64, req: &Request) -> Applied {
        let mut txn = self.mvcc.write_txn();
        let result = self.apply_in(&mut txn, req);
        txn.put_raw(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), index.to_be_bytes().to_vec());
        let (batch, events) = txn.end();
        self.applied.store(index, Ordering::Release);
        Applied { result, batch, events }
    }

    /// Records that log entry `index`, which changes no data (an empty leader entry, a
    /// configuration change), has been applied. Returns the batch to write.
    pub fn apply_noop(&self, index: u64) -> WriteBatch {
        let mut b = WriteBatch::default();
        b.put(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), index.to_be_bytes().to_vec());
        self.applied.store(index, Ordering::Release);
        b
    }

    fn apply_in(&self, txn: &mut WriteTxn<'_>, req: &Request) -> Result<Response, ApplyError> {
        if req.adds_data() && self.no_space() {
            return Err(ApplyError::NoSpace);
        }
        match req {
            Request::Put(p) => {
                self.check_put(txn, p)?;
                let r = self.put(txn, p)?;
                Ok(Response::Put(PutResponse { header: header(txn.write_rev()), ..r }))
            }
            Request::DeleteRange(d) => {
                let r = self.delete_range(txn, d)?;
                Ok(Response::DeleteRange(DeleteRangeResponse { header: header(txn.read_rev()), ..r }))
            }
            Request::Txn(t) => {
                let r = self.txn(txn, t)?;
                Ok(Response::Txn(TxnResponse { header: header(txn.read_rev()), ..r }))
            }
            Request::Compaction(c) => {
                txn.compact(c.revision)?;
                Ok(Response::Compaction(CompactionResponse { header: header(txn.read_rev()) }))
            }
            Request::LeaseGrant(g) => {
                if self.lessor.exists(g.id) {
                    return Err(ApplyError::LeaseExists);
                }
                let ttl = self.lessor.grant(g.id, g.ttl);
                let rec = LeaseRecord { id: g.id, ttl, remaining_ttl: 0 };
                txn.put_raw(Bucket::Lease, g.id.to_be_bytes().to_vec(), rec.encode_to_vec());
                Ok(Response::LeaseGrant(LeaseGrantResponse {
                    header: header(txn.read_rev()),
                    id: g.id,
                    ttl,
                    error: String::new(),
                }))
            }
            Request::LeaseRevoke(r) => {
                let keys = self.lessor.revoke(r.id).ok_or(ApplyError::LeaseNotFound)?;
                for k in keys {
                    txn.delete_range(&k, b"");
                }
                txn.delete_raw(Bucket::Lease, r.id.to_be_bytes().to_vec());
                Ok(Response::LeaseRevoke(LeaseRevokeResponse { header: header(txn.read_rev()) }))
            }
            Request::Alarm(a) => Ok(Response::Alarm(self.alarm(txn, a))),
            Request::PublishMember(m) => {
                txn.put_raw(Bucket::Members, member_key(m.id), m.encode_to_vec());
                Ok(Response::PublishMember)
            }
            Request::UpdateMember(m) => {
                let mut rec = self.member_record(m.id).ok_or(ApplyError::MemberNotFound)?;
                rec.peer_ur_ls = m.peer_ur_ls.clone();
                txn.put_raw(Bucket::Members, crate::membership::member_record_key(m.id), rec.encode_to_vec());
                Ok(Response::UpdateMember)
            }
            Request::LeaseRenew(r) => {
                let ttl = self.lessor.renew(r.id).unwrap_or(0);
                Ok(Response::LeaseRenew(LeaseKeepAliveResponse { header: header(txn.read_rev()), id: r.id, ttl }))
            }
        }
    }

    fn alarm(&self, txn: &mut WriteTxn<'_>, a: &AlarmRequest) -> AlarmResponse {
        let mut alarms = self.alarms.lock().unwrap_or_else(|e| e.into_inner());
        let key = |m: &AlarmMember| {
            let mut k = m.member_id.to_be_bytes().to_vec();
            k.extend_from_slice(&m.alarm.to_be_bytes());
            k
        };
        let m = AlarmMember { member_id: a.member_id, alarm: a.alarm };
        let changed = match AlarmAction::try_from(a.action) {
            Ok(AlarmAction::Activate) if a.alarm != AlarmType::None as i32 => {
                if !alarms.contains(&m) {
                    alarms.push(m);
                    txn.put_raw(Bucket::Alarm, key(&m), m.encode_to_vec());
                }
                vec![m]
            }
            Ok(AlarmAction::Deactivate) => {
                let before = alarms.len();
                alarms.retain(|x| *x != m);
                if alarms.len() != before {
                    txn.delete_raw(Bucket::Alarm, key(&m));
                    vec![m]
                } else {
                    vec![]
                }
            }
            _ => alarms.iter().filter(|x| a.alarm == AlarmType::None as i32 || x.alarm == a.alarm).copied().collect(),
        };
        AlarmResponse { header: header(txn.read_rev()), alarms: changed }
    }

    fn check_put(&self, txn: &WriteTxn<'_>, p: &PutRequest) -> Result<(), ApplyError> {
        if p.ignore_value || p.ignore_lease {
            txn.get(&p.key)?.ok_or(ApplyError::KeyNotFound)?;
        }
        if p.lease != 0 && !self.lessor.exists(p.lease) {
            return Err(ApplyError::LeaseNotFound);
        }
        Ok(())
    }

    fn put(&self, txn: &mut WriteTxn<'_>, p: &PutRequest) -> Result<PutResponse, ApplyError> {
        let prev = txn.get(&p.key)?;
        let (value, lease) = match &prev {
            Some(prev) => (
                if p.ignore_value { prev.value.clone() } else { p.value.clone() },
                if p.ignore_lease { prev.lease } else { p.lease },
            ),
            None => (p.value.clone(), p.lease),
        };
        if let Some(prev) = &prev
            && prev.lease != 0
            && prev.lease != lease
        {
            self.lessor.detach(prev.lease, &p.key);
        }
        txn.put(&p.key, value, lease)?;
        if lease != 0 {
            self.lessor.attach(lease, &p.key);
        }
        Ok(PutResponse { header: None, prev_kv: if p.prev_kv { prev } else { None } })
    }

    fn delete_range(&self, txn: &mut WriteTxn<'_>, d: &DeleteRangeRequest) -> Result<DeleteRangeResponse, ApplyError> {
        let prev = txn.range(&d.key, &d.range_end, RangeOptions::default())?.kvs;
        for kv in &prev {
            if kv.lease != 0 {
                self.lessor.detach(kv.lease, &kv.key);
            }
        }
        let deleted = txn.delete_range(&d.key, &d.range_end).len() as i64;
        Ok(DeleteRangeResponse { header: None, deleted, prev_kvs: if d.prev_kv { prev } else { Vec::new() } })
    }

    fn txn(&self, txn: &mut WriteTxn<'_>, t: &TxnRequest) -> Result<TxnResponse, ApplyError> {
        let mut succeeded = true;
        for c in &t.compare {
            if !self.compare(txn, c)? {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded { &t.success } else { &t.failure };
        self.check_ops(txn, ops)?;
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let r = match &op.request {
                Some(request_op::Request::RequestRange(r)) => response_op::Response::ResponseRange(range(txn, r)?),
                Some(request_op::Request::RequestPut(p)) => {
                    let mut r = self.put(txn, p)?;
                    r.header = header(txn.write_rev());
                    response_op::Response::ResponsePut(r)
                }
                Some(request_op::Request::RequestDeleteRange(d)) => {
                    let mut r = self.delete_range(txn, d)?;
                    r.header = header(txn.read_rev());
                    response_op::Response::ResponseDeleteRange(r)
                }
                Some(request_op::Request::RequestTxn(t)) => {
                    // etcd leaves a nested txn's header empty.
                    let mut r = self.txn(txn, t)?;
                    r.header = Some(ResponseHeader::default());
                    response_op::Response::ResponseTxn(r)
                }
                None => continue,
            };
            responses.push(ResponseOp { response: Some(r) });
        }
        Ok(TxnResponse { header: None, succeeded, responses })
    }

    /// Validates the branch about to run, before any of it runs.
    fn check_ops(&self, txn: &WriteTxn<'_>, ops: &[RequestOp]) -> Result<(), ApplyError> {
        for op in ops {
            match &op.request {
                Some(request_op::Request::RequestPut(p)) => self.check_put(txn, p)?,
                Some(request_op::Request::RequestRange(r)) if r.revision != 0 => {
                    if r.revision > txn.read_rev() {
                        return Err(MvccError::FutureRev.into());
                    }
                    if r.revision < self.mvcc.compact_rev() {
                        return Err(MvccError::Compacted.into());
                    }
                }
                Some(request_op::Request::RequestTxn(t)) => {
                    // Nested: validate whichever branch it would take now.
                    let mut ok = true;
                    for c in &t.compare {
                        if !self.compare(txn, c)? {
                            ok = false;
                            break;
                        }
                    }
                    self.check_ops(txn, if ok { &t.success } else { &t.failure })?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn compare(&self, txn: &WriteTxn<'_>, c: &Compare) -> Result<bool, ApplyError> {
        let kvs = txn.range(&c.key, &c.range_end, RangeOptions::default())?.kvs;
        let target = compare::CompareTarget::try_from(c.target).unwrap_or(compare::CompareTarget::Version);
        if kvs.is_empty() {
            if target == compare::CompareTarget::Value {
                return Ok(false);
            }
            return Ok(compare_kv(c, target, &KeyValue::default()));
        }
        Ok(kvs.iter().all(|kv| compare_kv(c, target, kv)))
    }
}

fn compare_kv(c: &Compare, target: compare::CompareTarget, kv: &KeyValue) -> bool {
    use compare::{CompareResult, CompareTarget, TargetUnion};
    let ord = match (target, &c.target_union) {
        (CompareTarget::Value, Some(TargetUnion::Value(v))) => kv.value.as_slice().cmp(v.as_slice()),
        (CompareTarget::Value, _) => kv.value.as_slice().cmp(&[]),
        (t, u) => {
            let want = match u {
                Some(TargetUnion::Version(x))
                | Some(TargetUnion::CreateRevision(x))
                | Some(TargetUnion::ModRevision(x))
                | Some(TargetUnion::Lease(x)) => *x,
                _ => 0,
            };
            let have = match t {
                CompareTarget::Version => kv.version,
                CompareTarget::Create => kv.create_revision,
                CompareTarget::Mod => kv.mod_revision,
                CompareTarget::Lease => kv.lease,
                CompareTarget::Value => unreachable!("handled above"),
            };
            have.cmp(&want)
        }
    };
    match CompareResult::try_from(c.result).unwrap_or(CompareResult::Equal) {
        CompareResult::Equal => ord.is_eq(),
        CompareResult::Greater => ord.is_gt(),
        CompareResult::Less => ord.is_lt(),
        CompareResult::NotEqual => ord.is_ne(),
    }
}

/// A raw MVCC range: `(key, range_end, options)`.
pub type RawRange<'a> = &'a dyn Fn(&[u8], &[u8], RangeOptions) -> Result<crate::mvcc::RangeResult, MvccError>;

/// etcd's Range semantics on top of an MVCC range: filters, sort, limit with `more`.
pub fn range_with(raw: RawRange<'_>, r: &RangeRequest) -> Result<RangeResponse, MvccError> {
    use range_request::{SortOrder, SortTarget};
    let order = SortOrder::try_from(r.sort_order).unwrap_or(SortOrder::None);
    let target = SortTarget::try_from(r.sort_target).unwrap_or(SortTarget::Key);
    let filtered =
        r.min_mod_revision != 0 || r.max_mod_revision != 0 || r.min_create_revision != 0 || r.max_create_revision != 0;
    let mut limit = r.limit;
    if order != SortOrder::None || filtered {
        limit = 0;
    }
    if limit > 0 {
        limit += 1;
    }
    let rr = raw(&r.key, &r.range_end, RangeOptions { limit, rev: r.revision, count_only: r.count_only })?;
    let mut kvs = rr.kvs;
    if filtered {
        kvs.retain(|kv| {
            (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
                && (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
                && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
                && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
        });
    }
    let order = if target != SortTarget::Key && order == SortOrder::None { SortOrder::Ascend } else { order };
    if order != SortOrder::None {
        let key = |a: &KeyValue, b: &KeyValue| match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if order == SortOrder::Descend {
            kvs.sort_by(|a, b| key(b, a));
        } else {
            kvs.sort_by(key);
        }
    }
    let mut more = false;
    if r.limit > 0 && kvs.len() > r.limit as usize {
        kvs.truncate(r.limit as usize);
        more = true;
    }
    if r.keys_only {
        for kv in &mut kvs {
            kv.value.clear();
        }
    }
    Ok(RangeResponse { header: header(rr.rev), kvs, more, count: rr.count })
}

fn range(txn: &WriteTxn<'_>, r: &RangeRequest) -> Result<RangeResponse, MvccError> {
    range_with(&|k, e, o| txn.range(k, e, o), r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn sm() -> StateMachine {
        StateMachine::open(Arc::new(MemoryBackend::new()), 2).unwrap()
    }

    fn run(sm: &StateMachine, i: u64, req: Request) -> Result<Response, ApplyError> {
        let a = sm.apply(i, &req);
        sm.mvcc.write(a.batch, i).unwrap();
        sm.mvcc.publish();
        a.result
    }

    fn put(k: &str, v: &str) -> Request {
        Request::Put(PutRequest { key: k.into(), value: v.into(), ..Default::default() })
    }

    #[test]
    fn request_log_encoding_round_trips() {
        let r = put("a", "b");
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        assert!(Request::decode(&[99]).is_err());
        assert!(Request::decode(&[]).is_err());
    }

    #[test]
    fn a_rejected_put_changes_nothing() {
        let sm = sm();
        let bad = Request::Put(PutRequest { key: b"a".to_vec(), lease: 42, ..Default::default() });
        assert!(matches!(run(&sm, 1, bad), Err(ApplyError::LeaseNotFound)));
        let ign = Request::Put(PutRequest { key: b"a".to_vec(), ignore_value: true, ..Default::default() });
        assert!(matches!(run(&sm, 2, ign), Err(ApplyError::KeyNotFound)));
        assert_eq!(sm.mvcc.current_rev(), 1);
        assert_eq!(sm.applied_index(), 2, "rejected entries still advance the applied index");
    }

    #[test]
    fn txn_compares_missing_keys_like_etcd() {
        let sm = sm();
        run(&sm, 1, put("a", "1")).unwrap();
        let txn = |target: compare::CompareTarget, union: compare::TargetUnion, key: &str| {
            Request::Txn(TxnRequest {
                compare: vec![Compare {
                    result: 0,
                    target: target as i32,
                    key: key.into(),
                    range_end: vec![],
                    target_union: Some(union),
                }],
                success: vec![RequestOp {
                    request: Some(request_op::Request::RequestPut(PutRequest {
                        key: b"ok".to_vec(),
                        ..Default::default()
                    })),
                }],
                failure: vec![],
            })
        };
        let ok = |r: Result<Response, ApplyError>| match r.unwrap() {
            Response::Txn(t) => t.succeeded,
            _ => panic!(),
        };
        assert!(ok(run(&sm, 2, txn(compare::CompareTarget::Version, compare::TargetUnion::Version(0), "missing"))));
        assert!(!ok(run(&sm, 3, txn(compare::CompareTarget::Value, compare::TargetUnion::Value(vec![]), "missing"))));
        assert!(ok(run(&sm, 4, txn(compare::CompareTarget::Value, compare::TargetUnion::Value(b"1".to_vec()), "a"))));
    }

    #[test]
    fn lease_revoke_deletes_attached_keys_in_one_revision() {
        let sm = sm();
        run(&sm, 1, Request::LeaseGrant(LeaseGrantRequest { ttl: 1, id: 7 })).unwrap();
        for (i, k) in ["a", "b"].iter().enumerate() {
            run(
                &sm,
                2 + i as u64,
                Request::Put(PutRequest { key: k.as_bytes().to_vec(), lease: 7, ..Default::default() }),
            )
            .unwrap();
        }
        assert_eq!(sm.lessor.time_to_live(7).unwrap().granted, 2, "TTL raised to the minimum");
        let rev = sm.mvcc.current_rev();
        run(&sm, 4, Request::LeaseRevoke(LeaseRevokeRequest { id: 7 })).unwrap();
        assert_eq!(sm.mvcc.current_rev(), rev + 1);
        assert_eq!(sm.mvcc.range(b"a", b"c", RangeOptions::default()).unwrap().count, 0);
    }
}
