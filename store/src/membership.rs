//! Cluster membership as the state machine records it, and whole-state snapshots.
//!
//! Raft's configuration changes (add, remove, promote) are applied here in the same
//! batch as the applied index and the new configuration state, so a restarted member
//! knows exactly which configuration its applied index belongs to. The member records
//! (`member/<id>`: peer URLs, learner flag) are the membership; the attributes members
//! publish (`attr/<id>`: name, client URLs) complete what MemberList shows.
//!
//! A snapshot is the replicated content of the backend at the applied index (keys,
//! leases, alarms, members, configuration, bookkeeping), never this member's identity.

use prost::Message as _;
use proto::etcdserverpb::Member;
use protobuf::Message as _;
use raft::eraftpb::ConfState;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::apply::{ApplyError, StateMachine, member_key};
use crate::backend::{BackendError, Bucket, WriteBatch};
use crate::mvcc::META_CONSISTENT_INDEX;

const MEMBER_PREFIX: &[u8] = b"member/";
/// Members removed from the cluster: refused forever after (etcd keeps them too).
const REMOVED_PREFIX: &[u8] = b"removed/";
const CONF_STATE_KEY: &[u8] = b"confstate";

/// Meta keys that describe this member rather than the replicated state.
pub const META_MEMBER_ID: &[u8] = b"member_id";
pub const META_CLUSTER_ID: &[u8] = b"cluster_id";
pub const META_TERM: &[u8] = b"term";
/// (index, term) of the last snapshot installed here (local: a snapshot made from this
/// state does not carry it).
const META_SNAPSHOT: &[u8] = b"installed_snapshot";
/// (index, term) of a snapshot being installed: written (and flushed) before the old
/// state is removed, deleted by the install's last batch. A member that finds it at
/// start installs the snapshot again from its file.
const META_RESTORING: &[u8] = b"restoring_snapshot";
const LOCAL_META: [&[u8]; 5] = [META_MEMBER_ID, META_CLUSTER_ID, META_TERM, META_SNAPSHOT, META_RESTORING];

/// Operations and bytes per backend batch while a snapshot is installed: the old
/// state goes and the new one comes in pieces, not as one batch in memory.
const RESTORE_OPS: usize = if cfg!(test) { 5 } else { 65_536 };
const RESTORE_BYTES: usize = 16 << 20;

/// What a snapshot takes at its index; see [`StateMachine::snapshot_view`].
pub struct SnapshotView {
    /// The records of every bucket but the key history.
    rest: Vec<u8>,
    /// The revision at the snapshot's index: the key history is read up to it.
    rev: i64,
    compacted: i64,
}

fn push_record(out: &mut Vec<u8>, tag: u8, k: &[u8], v: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(k.len() as u32).to_be_bytes());
    out.extend_from_slice(k);
    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
    out.extend_from_slice(v);
}

/// The buckets a snapshot carries, with their tag in the snapshot format (the key
/// history first).
const SNAPSHOT_BUCKETS: [(u8, Bucket); 6] = [
    (1, Bucket::Key),
    (2, Bucket::Meta),
    (3, Bucket::Lease),
    (4, Bucket::Alarm),
    (5, Bucket::Members),
    (6, Bucket::RaftState),
];
const SNAPSHOT_MAGIC: &[u8] = b"store-snapshot-v1\n";
/// Snapshot data that names the file holding the snapshot instead of being it: what a
/// member that received a snapshot over the network hands Raft.
const SNAPSHOT_FILE_MAGIC: &[u8] = b"store-snapshot-file\n";

/// Snapshot data referring to the snapshot in file `path`.
pub fn snapshot_file_reference(path: &Path) -> Vec<u8> {
    [SNAPSHOT_FILE_MAGIC, path.as_os_str().as_encoded_bytes()].concat()
}

/// The file that snapshot data refers to, if it is a reference.
pub fn referenced_snapshot_file(data: &[u8]) -> Option<PathBuf> {
    let path = data.strip_prefix(SNAPSHOT_FILE_MAGIC)?;
    Some(PathBuf::from(String::from_utf8_lossy(path).into_owned()))
}

/// Where a received snapshot at `index` is kept until it is installed.
pub fn snapshot_file(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:016x}.snap"))
}

/// A snapshot install's writes, in batches of at most `RESTORE_OPS`/`RESTORE_BYTES`.
struct Batches<'a> {
    sm: &'a StateMachine,
    batch: WriteBatch,
    bytes: usize,
}

impl Batches<'_> {
    fn put(&mut self, bucket: Bucket, k: Vec<u8>, v: Vec<u8>) -> Result<(), ApplyError> {
        self.bytes += k.len() + v.len();
        self.batch.put(bucket, k, v);
        self.write_if_full()
    }

    fn delete(&mut self, bucket: Bucket, k: Vec<u8>) -> Result<(), ApplyError> {
        self.bytes += k.len();
        self.batch.delete(bucket, k);
        self.write_if_full()
    }

    fn write_if_full(&mut self) -> Result<(), ApplyError> {
        if self.batch.ops.len() >= RESTORE_OPS || self.bytes >= RESTORE_BYTES {
            self.sm.mvcc.write(std::mem::take(&mut self.batch), 0)?;
            self.bytes = 0;
        }
        Ok(())
    }
}

/// One bucket's keys as the backend had them before an install, read a page at a time
/// in key order. The install writes only keys below the next page's start, so a page
/// read later still shows the old keys.
struct OldKeys<'a> {
    backend: &'a dyn crate::backend::Backend,
    bucket: Bucket,
    page: std::collections::VecDeque<Vec<u8>>,
    /// Where the next page starts; None when the bucket is read to its end.
    next: Option<Vec<u8>>,
}

impl<'a> OldKeys<'a> {
    fn new(backend: &'a dyn crate::backend::Backend, bucket: Bucket) -> Self {
        Self { backend, bucket, page: Default::default(), next: Some(Vec::new()) }
    }

    /// This member's own keys: never deleted, never overwritten by a snapshot.
    fn is_local(&self, k: &[u8]) -> bool {
        self.bucket == Bucket::Meta && LOCAL_META.contains(&k)
    }

    fn peek(&mut self) -> Result<Option<&Vec<u8>>, ApplyError> {
        if self.page.is_empty()
            && let Some(from) = self.next.take()
        {
            let page = &mut self.page;
            self.backend.for_each(self.bucket, &from, None, &mut |k, _| {
                page.push_back(k.to_vec());
                page.len() < RESTORE_OPS
            })?;
            if self.page.len() == RESTORE_OPS
                && let Some(mut k) = self.page.back().cloned()
            {
                // The smallest key after the last one read.
                k.push(0);
                self.next = Some(k);
            }
        }
        Ok(self.page.front())
    }

    /// Deletes the old keys below `k` and passes over `k` itself.
    fn delete_before(&mut self, k: &[u8], out: &mut Batches) -> Result<(), ApplyError> {
        while let Some(o) = self.peek()?.cloned() {
            if o.as_slice() > k {
                break;
            }
            self.page.pop_front();
            if o.as_slice() < k && !self.is_local(&o) {
                out.delete(self.bucket, o)?;
            }
        }
        Ok(())
    }

    fn delete_rest(&mut self, out: &mut Batches) -> Result<(), ApplyError> {
        while let Some(o) = self.peek()?.cloned() {
            self.page.pop_front();
            if !self.is_local(&o) {
                out.delete(self.bucket, o)?;
            }
        }
        Ok(())
    }
}

/// One record of the snapshot format: bucket tag, key, value.
type Record = (u8, Vec<u8>, Vec<u8>);

/// Checks that `r` is a whole snapshot in the order an install needs: the magic, then
/// records of known buckets, bucket by bucket in `SNAPSHOT_BUCKETS` order, keys
/// strictly increasing within each.
fn check_snapshot(mut r: impl Read) -> Result<(), ApplyError> {
    read_magic(&mut r)?;
    let mut last: Option<(usize, Vec<u8>)> = None;
    while let Some((tag, k, _)) = read_record(&mut r)? {
        let at = SNAPSHOT_BUCKETS.iter().position(|(t, _)| *t == tag).ok_or(ApplyError::BadEntry)?;
        if last.as_ref().is_some_and(|(b, prev)| at < *b || (at == *b && k <= *prev)) {
            return Err(ApplyError::BadEntry);
        }
        last = Some((at, k));
    }
    Ok(())
}

/// Reads the snapshot format's magic.
fn read_magic(r: &mut impl Read) -> Result<(), ApplyError> {
    let mut magic = vec![0; SNAPSHOT_MAGIC.len()];
    r.read_exact(&mut magic).map_err(|_| ApplyError::BadEntry)?;
    if magic != SNAPSHOT_MAGIC {
        return Err(ApplyError::BadEntry);
    }
    Ok(())
}

/// Reads one record of the snapshot format; None at the end.
fn read_record(r: &mut impl Read) -> Result<Option<Record>, ApplyError> {
    let mut tag = [0u8];
    match r.read(&mut tag) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(io_error("reading a snapshot", &e)),
    }
    let mut field = || -> Result<Vec<u8>, ApplyError> {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).map_err(|_| ApplyError::BadEntry)?;
        let mut v = vec![0; u32::from_be_bytes(len) as usize];
        r.read_exact(&mut v).map_err(|_| ApplyError::BadEntry)?;
        Ok(v)
    };
    let k = field()?;
    let v = field()?;
    Ok(Some((tag[0], k, v)))
}

fn io_error(what: &str, e: &std::io::Error) -> ApplyError {
    BackendError::Engine(format!("{what}: {e}")).into()
}

pub fn member_record_key(id: u64) -> Vec<u8> {
    let mut k = MEMBER_PREFIX.to_vec();
    k.extend_from_slice(format!("{id:016x}").as_bytes());
    k
}

fn removed_key(id: u64) -> Vec<u8> {
    let mut k = REMOVED_PREFIX.to_vec();
    k.extend_from_slice(format!("{id:016x}").as_bytes());
    k
}

/// A configuration change, as carried in a Raft conf-change entry's context.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberChange {
    Add(Member),
    Remove(u64),
    Promote(u64),
}

impl MemberChange {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            MemberChange::Add(m) => [&[1u8][..], &m.encode_to_vec()].concat(),
            MemberChange::Remove(id) => [&[2u8][..], &id.to_be_bytes()].concat(),
            MemberChange::Promote(id) => [&[3u8][..], &id.to_be_bytes()].concat(),
        }
    }

    pub fn decode(b: &[u8]) -> Result<Self, ApplyError> {
        let (&tag, body) = b.split_first().ok_or(ApplyError::BadEntry)?;
        let id = || body.try_into().map(u64::from_be_bytes).map_err(|_| ApplyError::BadEntry);
        Ok(match tag {
            1 => MemberChange::Add(Member::decode(body).map_err(|_| ApplyError::BadEntry)?),
            2 => MemberChange::Remove(id()?),
            3 => MemberChange::Promote(id()?),
            _ => return Err(ApplyError::BadEntry),
        })
    }

    pub fn member_id(&self) -> u64 {
        match self {
            MemberChange::Add(m) => m.id,
            MemberChange::Remove(id) | MemberChange::Promote(id) => *id,
        }
    }
}

fn conf_state_bytes(cs: &ConfState) -> Vec<u8> {
    cs.write_to_bytes().unwrap_or_default()
}

impl StateMachine {
    /// The Raft configuration as of the applied index.
    pub fn conf_state(&self) -> ConfState {
        match self.mvcc.backend().get(Bucket::RaftState, CONF_STATE_KEY) {
            Ok(Some(b)) => ConfState::parse_from_bytes(&b).unwrap_or_default(),
            _ => ConfState::default(),
        }
    }

    /// Whether `id` was a member and has been removed.
    pub fn is_removed(&self, id: u64) -> bool {
        self.mvcc.backend().get(Bucket::Members, &removed_key(id)).ok().flatten().is_some()
    }

    pub(crate) fn member_record(&self, id: u64) -> Option<Member> {
        let b = self.mvcc.backend().get(Bucket::Members, &member_record_key(id)).ok()??;
        Member::decode(b.as_slice()).ok()
    }

    /// The members (by id), with the names and client URLs they published.
    pub fn members(&self) -> Vec<Member> {
        let backend = self.mvcc.backend();
        let mut end = MEMBER_PREFIX.to_vec();
        *end.last_mut().unwrap_or(&mut 0) += 1;
        let Ok(records) = backend.scan(Bucket::Members, MEMBER_PREFIX, Some(&end)) else {
            return Vec::new();
        };
        let published = self.published_members();
        records
            .iter()
            .filter_map(|(_, v)| Member::decode(v.as_slice()).ok())
            .map(|mut m| {
                if let Some(p) = published.iter().find(|p| p.id == m.id) {
                    m.name = p.name.clone();
                    m.client_ur_ls = p.client_ur_ls.clone();
                }
                m
            })
            .collect()
    }

    /// The state every member of a new cluster starts from, at log index 1: the
    /// initial members, all voters.
    pub fn bootstrap(&self, members: &[Member]) -> Result<(), ApplyError> {
        let mut b = WriteBatch::default();
        let voters: Vec<u64> = members.iter().map(|m| m.id).collect();
        for m in members {
            let rec = Member { id: m.id, peer_ur_ls: m.peer_ur_ls.clone(), ..Default::default() };
            b.put(Bucket::Members, member_record_key(m.id), rec.encode_to_vec());
        }
        let cs = ConfState::from((voters, Vec::<u64>::new()));
        b.put(Bucket::RaftState, CONF_STATE_KEY.to_vec(), conf_state_bytes(&cs));
        b.put(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), 1u64.to_be_bytes().to_vec());
        let backend = self.mvcc.backend();
        backend.write(b)?;
        backend.flush()?;
        self.applied.store(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Applies a configuration change committed at `index`, after which Raft's
    /// configuration is `cs`. Returns the batch to write.
    pub fn apply_member_change(&self, index: u64, change: &MemberChange, cs: &ConfState) -> WriteBatch {
        let mut b = WriteBatch::default();
        match change {
            MemberChange::Add(m) => {
                let rec = Member {
                    id: m.id,
                    peer_ur_ls: m.peer_ur_ls.clone(),
                    is_learner: m.is_learner,
                    ..Default::default()
                };
                b.put(Bucket::Members, member_record_key(m.id), rec.encode_to_vec());
            }
            MemberChange::Remove(id) => {
                b.delete(Bucket::Members, member_record_key(*id));
                b.delete(Bucket::Members, member_key(*id));
                b.put(Bucket::Members, removed_key(*id), Vec::new());
            }
            MemberChange::Promote(id) => {
                if let Some(mut rec) = self.member_record(*id) {
                    rec.is_learner = false;
                    b.put(Bucket::Members, member_record_key(*id), rec.encode_to_vec());
                }
            }
        }
        b.put(Bucket::RaftState, CONF_STATE_KEY.to_vec(), conf_state_bytes(cs));
        b.put(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), index.to_be_bytes().to_vec());
        self.applied.store(index, std::sync::atomic::Ordering::Release);
        b
    }

    /// The replicated state as it is now, in the snapshot format:
    /// magic, then `bucket tag: u8 | key len: u32 BE | key | value len: u32 BE | value`.
    pub fn snapshot_data(&self) -> Result<Vec<u8>, ApplyError> {
        let view = self.snapshot_view()?;
        self.snapshot_from(view)?.ok_or(ApplyError::BadEntry)
    }

    /// The part of a snapshot that must be taken at the applied index itself: every
    /// bucket but the key history (small: bookkeeping, leases, alarms, members), and the
    /// revisions that bound the key history. The key history, the bulk of the data, is
    /// read later by [`StateMachine::snapshot_from`], off the Raft round, since what the
    /// view needs of it does not change afterwards: revisions up to the view's are only
    /// ever removed by a compaction.
    pub fn snapshot_view(&self) -> Result<SnapshotView, ApplyError> {
        // The view and the history read later come from the backend: it must hold
        // everything applied.
        self.mvcc.write_back()?;
        let backend = self.mvcc.backend();
        let mut rest = Vec::new();
        for (tag, bucket) in SNAPSHOT_BUCKETS {
            if bucket == Bucket::Key {
                continue;
            }
            backend.for_each(bucket, b"", None, &mut |k, v| {
                if !(bucket == Bucket::Meta && LOCAL_META.contains(&k)) {
                    push_record(&mut rest, tag, k, v);
                }
                true
            })?;
        }
        Ok(SnapshotView { rest, rev: self.mvcc.current_rev(), compacted: self.mvcc.compact_rev() })
    }

    /// Completes a snapshot from its view: the key history up to the view's revision as
    /// it is in the backend now. None when a compaction ran since the view was taken
    /// (history the view includes may be gone): take a new view.
    pub fn snapshot_from(&self, view: SnapshotView) -> Result<Option<Vec<u8>>, ApplyError> {
        let mut out = Vec::new();
        Ok(self.snapshot_into(view, &mut out)?.then_some(out))
    }

    /// [`StateMachine::snapshot_from`], written to `out`; false when a compaction ran
    /// since the view was taken.
    pub fn snapshot_into(&self, view: SnapshotView, out: &mut impl std::io::Write) -> Result<bool, ApplyError> {
        let write_error = |e: std::io::Error| io_error("writing a snapshot", &e);
        out.write_all(SNAPSHOT_MAGIC).map_err(write_error)?;
        let end = (view.rev + 1).to_be_bytes();
        let (mut record, mut failed) = (Vec::new(), None);
        self.mvcc.backend().for_each(Bucket::Key, b"", Some(&end), &mut |k, v| {
            record.clear();
            push_record(&mut record, SNAPSHOT_BUCKETS[0].0, k, v);
            failed = out.write_all(&record).err();
            failed.is_none()
        })?;
        if let Some(e) = failed {
            return Err(write_error(e));
        }
        // A compaction updates the compacted revision before it deletes anything.
        if self.mvcc.compact_rev() != view.compacted {
            return Ok(false);
        }
        out.write_all(&view.rest).map_err(write_error)?;
        Ok(true)
    }

    /// Replaces the replicated state with a snapshot taken at (`index`, `term`),
    /// durably, and reloads everything kept in memory. `data` is the snapshot or a
    /// reference to its file. The snapshot's (index, term) is recorded with it, so a
    /// member that stops before its log records the snapshot can still start from it.
    ///
    /// The install goes in pieces: a marker naming the snapshot is flushed first, then
    /// the old state is deleted and the new one written in batches of bounded size, and
    /// the last batch removes the marker. A member stopped in between finds the marker
    /// at start and installs the snapshot again from its file
    /// ([`StateMachine::finish_interrupted_install`]). Readers wait meanwhile.
    pub fn restore(&self, data: &[u8], index: u64, term: u64) -> Result<(), ApplyError> {
        match referenced_snapshot_file(data) {
            Some(path) => {
                let open = || {
                    let f =
                        std::fs::File::open(&path).map_err(|e| io_error(&format!("opening {}", path.display()), &e))?;
                    Ok::<_, ApplyError>(std::io::BufReader::with_capacity(1 << 20, f))
                };
                // Read through once before anything is changed: a snapshot found bad
                // halfway would leave neither state, at every start.
                check_snapshot(open()?)?;
                self.restore_from(open()?, index, term)
            }
            None => {
                check_snapshot(data)?;
                self.restore_from(data, index, term)
            }
        }
    }

    /// Installs a snapshot [`check_snapshot`] accepted.
    fn restore_from(&self, mut r: impl Read, index: u64, term: u64) -> Result<(), ApplyError> {
        read_magic(&mut r)?;
        // Nothing held back may land on top of the snapshot later.
        self.mvcc.write_back()?;
        let backend = self.mvcc.backend().clone();
        let position = [index.to_be_bytes(), term.to_be_bytes()].concat();
        self.mvcc.replace(|| -> Result<(), ApplyError> {
            let mut b = WriteBatch::default();
            b.put(Bucket::Meta, META_RESTORING.to_vec(), position.clone());
            self.mvcc.write(b, 0)?;
            backend.flush()?;
            // Each bucket's records come in key order, the buckets in SNAPSHOT_BUCKETS
            // order (checked before): walking the old keys alongside finds the ones to
            // delete, and a key in both is simply overwritten.
            let mut out = Batches { sm: self, batch: WriteBatch::default(), bytes: 0 };
            let mut at = 0;
            let mut old = OldKeys::new(backend.as_ref(), SNAPSHOT_BUCKETS[0].1);
            while let Some((tag, k, v)) = read_record(&mut r)? {
                let j = SNAPSHOT_BUCKETS.iter().position(|(t, _)| *t == tag).ok_or(ApplyError::BadEntry)?;
                while at < j {
                    old.delete_rest(&mut out)?;
                    at += 1;
                    old = OldKeys::new(backend.as_ref(), SNAPSHOT_BUCKETS[at].1);
                }
                old.delete_before(&k, &mut out)?;
                if !old.is_local(&k) {
                    out.put(old.bucket, k, v)?;
                }
            }
            loop {
                old.delete_rest(&mut out)?;
                at += 1;
                let Some((_, bucket)) = SNAPSHOT_BUCKETS.get(at) else { break };
                old = OldKeys::new(backend.as_ref(), *bucket);
            }
            let mut b = out.batch;
            b.put(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), index.to_be_bytes().to_vec());
            b.put(Bucket::Meta, META_SNAPSHOT.to_vec(), position);
            b.delete(Bucket::Meta, META_RESTORING.to_vec());
            self.mvcc.write(b, index)?;
            backend.flush()?;
            Ok(())
        })?;
        self.load_derived()
    }

    /// Finishes a snapshot install that a stop interrupted (see [`StateMachine::restore`]):
    /// installs it again from its file in `dir`, then removes the snapshot files there.
    pub fn finish_interrupted_install(&self, dir: &Path) -> anyhow::Result<()> {
        if let Some(b) = self.mvcc.backend().get(Bucket::Meta, META_RESTORING)? {
            let (index, term) = match (b.get(..8), b.get(8..16)) {
                (Some(i), Some(t)) => (
                    u64::from_be_bytes(i.try_into().unwrap_or_default()),
                    u64::from_be_bytes(t.try_into().unwrap_or_default()),
                ),
                _ => anyhow::bail!("unreadable snapshot install marker"),
            };
            let path = snapshot_file(dir, index);
            if !path.exists() {
                anyhow::bail!(
                    "installing the snapshot at index {index} was interrupted and {} is gone: the data directory is inconsistent",
                    path.display()
                );
            }
            tracing::warn!(index, term, "installing the snapshot again: the last install was interrupted");
            self.restore(&snapshot_file_reference(&path), index, term)?;
        }
        // Received snapshots are kept only until they are installed.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    /// (index, term) of the last snapshot installed into this member's state.
    pub fn installed_snapshot(&self) -> Option<(u64, u64)> {
        let b = self.mvcc.backend().get(Bucket::Meta, META_SNAPSHOT).ok()??;
        Some((u64::from_be_bytes(b.get(..8)?.try_into().ok()?), u64::from_be_bytes(b.get(8..16)?.try_into().ok()?)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::apply::Request;
    use crate::backend::{Backend, MemoryBackend};

    fn sm() -> StateMachine {
        let b: Arc<dyn Backend> = Arc::new(MemoryBackend::default());
        StateMachine::open(b, 1).unwrap()
    }

    fn member(id: u64, url: &str) -> Member {
        Member { id, peer_ur_ls: vec![url.into()], ..Default::default() }
    }

    #[test]
    fn membership_follows_configuration_changes() {
        let s = sm();
        s.bootstrap(&[member(1, "http://a:2380")]).unwrap();
        assert_eq!(s.conf_state().voters, vec![1]);
        let add = MemberChange::Add(Member { is_learner: true, ..member(2, "http://b:2380") });
        assert_eq!(MemberChange::decode(&add.encode()).unwrap(), add);
        let cs = ConfState::from((vec![1], vec![2]));
        s.mvcc.backend().write(s.apply_member_change(2, &add, &cs)).unwrap();
        let ms = s.members();
        assert_eq!(ms.len(), 2);
        assert!(ms[1].is_learner);
        let cs = ConfState::from((vec![1, 2], vec![]));
        s.mvcc.backend().write(s.apply_member_change(3, &MemberChange::Promote(2), &cs)).unwrap();
        assert!(!s.members()[1].is_learner);
        assert_eq!(s.applied_index(), 3);
        let cs = ConfState::from((vec![2], vec![]));
        s.mvcc.backend().write(s.apply_member_change(4, &MemberChange::Remove(1), &cs)).unwrap();
        assert_eq!(s.members().iter().map(|m| m.id).collect::<Vec<_>>(), vec![2]);
        assert!(s.is_removed(1) && !s.is_removed(2));
        assert_eq!(s.conf_state().voters, vec![2]);
    }

    #[test]
    fn a_snapshot_restores_the_replicated_state_only() {
        let a = sm();
        a.bootstrap(&[member(1, "http://a:2380")]).unwrap();
        let put = |k: &str| {
            Request::Put(proto::etcdserverpb::PutRequest { key: k.into(), value: b"v".to_vec(), ..Default::default() })
        };
        for (i, k) in ["x", "y", "z"].iter().enumerate() {
            let applied = a.apply(2 + i as u64, &put(k));
            a.mvcc.backend().write(applied.batch).unwrap();
        }
        a.mvcc
            .backend()
            .write({
                let mut b = WriteBatch::default();
                b.put(Bucket::Meta, META_MEMBER_ID.to_vec(), vec![1]);
                b
            })
            .unwrap();
        let data = a.snapshot_data().unwrap();

        let b = sm();
        let mut w = WriteBatch::default();
        w.put(Bucket::Meta, META_MEMBER_ID.to_vec(), vec![2]);
        b.mvcc.backend().write(w).unwrap();
        let applied = b.apply(1, &put("stale"));
        b.mvcc.backend().write(applied.batch).unwrap();
        b.restore(&data, 4, 2).unwrap();
        assert_eq!(b.installed_snapshot(), Some((4, 2)));
        assert_eq!(b.applied_index(), 4);
        assert_eq!(b.mvcc.published_rev(), a.mvcc.current_rev());
        let keys: Vec<Vec<u8>> =
            b.mvcc.range(b"\0", b"\0", Default::default()).unwrap().kvs.into_iter().map(|kv| kv.key).collect();
        assert_eq!(keys, vec![b"x".to_vec(), b"y".to_vec(), b"z".to_vec()]);
        assert_eq!(b.mvcc.backend().get(Bucket::Meta, META_MEMBER_ID).unwrap(), Some(vec![2]), "identity kept");
        assert_eq!(b.conf_state().voters, vec![1]);
        assert!(b.restore(b"garbage", 5, 2).is_err());
    }

    #[test]
    fn an_interrupted_install_is_finished_from_its_file_at_start() {
        let a = sm();
        a.bootstrap(&[member(1, "http://a:2380")]).unwrap();
        // More keys than one install batch holds (RESTORE_OPS is small under test).
        for i in 0..23u64 {
            let put = Request::Put(proto::etcdserverpb::PutRequest {
                key: format!("k{i:02}").into_bytes(),
                value: vec![b'v'; 100],
                ..Default::default()
            });
            let applied = a.apply(2 + i, &put);
            a.mvcc.write(applied.batch, 2 + i).unwrap();
        }
        let data = a.snapshot_data().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_file(dir.path(), 24);
        std::fs::write(&path, &data).unwrap();

        // A member holding other keys was stopped midway through installing it: the
        // marker is there, part of its old state is gone.
        let b = sm();
        for i in 0..9u64 {
            let put = Request::Put(proto::etcdserverpb::PutRequest {
                key: format!("old{i}").into_bytes(),
                value: b"o".to_vec(),
                ..Default::default()
            });
            let applied = b.apply(1 + i, &put);
            b.mvcc.write(applied.batch, 1 + i).unwrap();
        }
        let mut w = WriteBatch::default();
        w.put(Bucket::Meta, META_RESTORING.to_vec(), [24u64.to_be_bytes(), 3u64.to_be_bytes()].concat());
        for (k, _) in b.mvcc.backend().scan(Bucket::Key, b"", None).unwrap().into_iter().take(4) {
            w.delete(Bucket::Key, k);
        }
        b.mvcc.write(w, 0).unwrap();
        let stray = dir.path().join("0000000000000001.snap.0000000000000002.part");
        std::fs::write(&stray, b"x").unwrap();

        b.finish_interrupted_install(dir.path()).unwrap();
        assert_eq!(b.installed_snapshot(), Some((24, 3)));
        assert_eq!(b.applied_index(), 24);
        assert_eq!(b.mvcc.backend().get(Bucket::Meta, META_RESTORING).unwrap(), None, "the marker is gone");
        assert_eq!(
            b.mvcc.backend().scan(Bucket::Key, b"", None).unwrap(),
            a.mvcc.backend().scan(Bucket::Key, b"", None).unwrap(),
            "the key history is the snapshot's, nothing of the old one"
        );
        let keys = b.mvcc.range(b"\0", b"\0", Default::default()).unwrap().kvs.len();
        assert_eq!(keys, 23);
        assert!(!path.exists() && !stray.exists(), "received snapshot files are removed");

        // Without a marker, a start only clears stray files; the state stays.
        std::fs::write(&stray, b"x").unwrap();
        b.finish_interrupted_install(dir.path()).unwrap();
        assert!(!stray.exists());
        assert_eq!(b.applied_index(), 24);

        // A marker whose file is gone is an inconsistent data directory.
        let mut w = WriteBatch::default();
        w.put(Bucket::Meta, META_RESTORING.to_vec(), [30u64.to_be_bytes(), 3u64.to_be_bytes()].concat());
        b.mvcc.write(w, 0).unwrap();
        let err = b.finish_interrupted_install(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is gone"), "{err}");
    }

    #[test]
    fn a_snapshot_installs_from_a_file_reference() {
        let a = sm();
        a.bootstrap(&[member(1, "http://a:2380")]).unwrap();
        let put = Request::Put(proto::etcdserverpb::PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        });
        let applied = a.apply(2, &put);
        a.mvcc.write(applied.batch, 2).unwrap();
        let data = a.snapshot_data().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = snapshot_file(dir.path(), 2);
        std::fs::write(&path, &data).unwrap();
        let b = sm();
        b.restore(&snapshot_file_reference(&path), 2, 1).unwrap();
        assert_eq!(b.mvcc.range(b"k", b"", Default::default()).unwrap().kvs[0].value, b"v");
        assert!(b.restore(&snapshot_file_reference(&dir.path().join("missing")), 3, 1).is_err());
        // A snapshot cut short is refused before anything changes.
        let mut short = data.clone();
        short.truncate(data.len() - 3);
        let cut = snapshot_file(dir.path(), 3);
        std::fs::write(&cut, &short).unwrap();
        assert!(b.restore(&snapshot_file_reference(&cut), 3, 1).is_err());
        assert_eq!(b.mvcc.backend().get(Bucket::Meta, META_RESTORING).unwrap(), None, "no install was started");
        assert_eq!(b.mvcc.range(b"k", b"", Default::default()).unwrap().kvs[0].value, b"v");
        // Records out of key order are refused (the install relies on the order).
        let mut bad = SNAPSHOT_MAGIC.to_vec();
        push_record(&mut bad, 2, b"m2", b"x");
        push_record(&mut bad, 2, b"m1", b"x");
        assert!(matches!(b.restore(&bad, 4, 1), Err(ApplyError::BadEntry)));
    }
}
