//! etcd's KV, watch and lease API guarantees, as one suite run against real etcd and
//! against the store over gRPC.
//!
//! Every test is a scenario: a fixed sequence of requests on a fresh member. Each
//! response (or error) becomes one transcript line, normalized only for what two members
//! legitimately differ in (cluster id, member id, Raft term; lease ids are chosen by the
//! scenario so they need no normalizing). The scenario runs on etcd and on the store at
//! the same time and the two transcripts must be identical, line by line.
//!
//! Scenarios also check key facts themselves (`S::fact`, `S::expect_rev`): a failed
//! check on etcd means the scenario is wrong, on the store it is a store bug. So a
//! scenario cannot pass by both members answering the same wrong thing.
//!
//! Watch events that arrive live are compared per watch id, in order, because how etcd
//! batches them into responses depends on timing; historical replays are compared
//! response by response. Set `SEMANTICS_DUMP=1` (with `--nocapture`) to print etcd's
//! transcripts.

mod common;

use std::fmt::Debug;
use std::time::{Duration, Instant};

use common::{Impl, Member};
use proto::etcdserverpb as pb;
use proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use proto::etcdserverpb::watch_create_request::FilterType;
use proto::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient, request_op,
    watch_client::WatchClient, watch_request,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

// ---------------------------------------------------------------------------------
// Sessions and transcripts

/// One member under test, its clients, and what the scenario has recorded so far.
struct S {
    which: Impl,
    kv: KvClient<Channel>,
    watch: WatchClient<Channel>,
    lease: LeaseClient<Channel>,
    maint: MaintenanceClient<Channel>,
    log: Vec<String>,
    failed: Vec<String>,
    _member: Member,
}

impl S {
    async fn start(which: Impl) -> S {
        let member = tokio::task::spawn_blocking(move || Member::start(which, &[])).await.expect("start member");
        let channel = Channel::from_shared(member.endpoint()).expect("endpoint").connect().await.expect("connect");
        // Above the servers' limits, so oversized requests reach them.
        let big = 64 << 20;
        S {
            which,
            kv: KvClient::new(channel.clone()).max_encoding_message_size(big).max_decoding_message_size(big),
            watch: WatchClient::new(channel.clone()),
            lease: LeaseClient::new(channel.clone()),
            maint: MaintenanceClient::new(channel),
            log: Vec::new(),
            failed: Vec::new(),
            _member: member,
        }
    }

    fn note(&mut self, line: String) {
        self.log.push(line);
    }

    /// Records a response or an error under `label`; returns the response.
    fn rec<T: Debug>(&mut self, label: &str, r: Result<tonic::Response<T>, tonic::Status>) -> Option<T> {
        match r {
            Ok(resp) => {
                let resp = resp.into_inner();
                self.note(format!("{label} => {}", normalize(&format!("{resp:?}"))));
                Some(resp)
            }
            Err(e) => {
                self.note(format!("{label} => ERR {:?} {:?}", e.code(), e.message()));
                None
            }
        }
    }

    /// A fact the scenario checks itself; failures are collected, not panicked on.
    fn fact(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.failed.push(what.into());
        }
    }

    async fn put(&mut self, r: pb::PutRequest) -> Option<pb::PutResponse> {
        let label = format!("put {}", label(&r));
        let resp = self.kv.put(r).await;
        self.rec(&label, resp)
    }

    async fn range(&mut self, r: pb::RangeRequest) -> Option<pb::RangeResponse> {
        let label = format!("range {}", label(&r));
        let resp = self.kv.range(r).await;
        self.rec(&label, resp)
    }

    async fn delete(&mut self, r: pb::DeleteRangeRequest) -> Option<pb::DeleteRangeResponse> {
        let label = format!("delete {}", label(&r));
        let resp = self.kv.delete_range(r).await;
        self.rec(&label, resp)
    }

    async fn txn(&mut self, r: pb::TxnRequest) -> Option<pb::TxnResponse> {
        let label = format!("txn {}", label(&r));
        let resp = self.kv.txn(r).await;
        self.rec(&label, resp)
    }

    async fn compact(&mut self, revision: i64) -> Option<pb::CompactionResponse> {
        let resp = self.kv.compact(pb::CompactionRequest { revision, physical: true }).await;
        self.rec(&format!("compact {revision}"), resp)
    }

    async fn grant(&mut self, id: i64, ttl: i64) -> Option<pb::LeaseGrantResponse> {
        let resp = self.lease.lease_grant(pb::LeaseGrantRequest { ttl, id }).await;
        self.rec(&format!("grant id={id} ttl={ttl}"), resp)
    }

    async fn revoke(&mut self, id: i64) -> Option<pb::LeaseRevokeResponse> {
        let resp = self.lease.lease_revoke(pb::LeaseRevokeRequest { id }).await;
        self.rec(&format!("revoke {id}"), resp)
    }

    /// TimeToLive, with the remaining TTL (timing-dependent) checked against the
    /// granted TTL and then replaced by a marker.
    async fn time_to_live(&mut self, id: i64) -> Option<pb::LeaseTimeToLiveResponse> {
        let resp = self.lease.lease_time_to_live(pb::LeaseTimeToLiveRequest { id, keys: true }).await;
        let resp = resp.map(|r| {
            let mut r = r.into_inner();
            // etcd lists a lease's keys in Go map order.
            r.keys.sort();
            if r.ttl > 0 {
                let fresh = r.ttl <= r.granted_ttl && r.ttl >= r.granted_ttl - 3;
                self.fact(fresh, format!("lease {id}: ttl {} of {}", r.ttl, r.granted_ttl));
                r.ttl = 1_000_000;
            }
            tonic::Response::new(r)
        });
        self.rec(&format!("timetolive {id} keys (sorted; ttl>0 shown as 1000000)"), resp)
    }

    /// The member's current revision, recorded and checked.
    async fn expect_rev(&mut self, want: i64) {
        let got =
            self.kv.range(get("probe", "")).await.ok().and_then(|r| r.into_inner().header).map_or(-1, |h| h.revision);
        self.note(format!("revision = {got}"));
        self.fact(got == want, format!("revision {got}, expected {want}"));
    }

    async fn open_watch(&mut self, first: pb::WatchCreateRequest) -> W {
        let (tx, rx) = mpsc::channel(64);
        // Queued before the call: a server need not send headers before a message.
        self.note(format!("watch create {}", label(&first)));
        tx.send(create(first)).await.expect("queue watch request");
        let rx = self.watch.watch(ReceiverStream::new(rx)).await.expect("open watch stream").into_inner();
        W { tx, rx }
    }

    /// Records the next watch response as it is (boundaries included).
    async fn wnext(&mut self, w: &mut W, label: &str) -> Option<pb::WatchResponse> {
        match w.next(Duration::from_secs(5)).await {
            Some(r) => {
                self.note(format!("{label} => {}", normalize(&format!("{r:?}"))));
                Some(r)
            }
            None => {
                self.note(format!("{label} => nothing within 5 s"));
                None
            }
        }
    }

    /// Reads until `n` events have arrived (or 5 s pass) and records them per watch id,
    /// in order, ignoring how they were batched. Responses without events are recorded
    /// as they are.
    async fn wevents(&mut self, w: &mut W, label: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut per_id: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        let mut seen = 0;
        while seen < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(mut r) = w.next(left).await else {
                break;
            };
            if r.events.is_empty() {
                r.header = None;
                self.note(format!("{label}: response {}", normalize(&format!("{r:?}"))));
                continue;
            }
            seen += r.events.len();
            let id = per_id.entry(r.watch_id).or_default();
            id.extend(r.events.iter().map(|e| normalize(&format!("{e:?}"))));
        }
        for (id, events) in per_id {
            self.note(format!("{label}: watch {id} events {events:?}"));
        }
        self.note(format!("{label}: {seen} events"));
        self.fact(seen == n, format!("{label}: {seen} events, expected {n}"));
    }

    /// Records that nothing arrives for a while (or what did).
    async fn wquiet(&mut self, w: &mut W, label: &str) {
        match w.next(Duration::from_millis(400)).await {
            None => self.note(format!("{label}: quiet")),
            Some(r) => {
                self.note(format!("{label}: unexpected {}", normalize(&format!("{r:?}"))));
            }
        }
    }
}

/// One watch stream.
struct W {
    tx: mpsc::Sender<pb::WatchRequest>,
    rx: tonic::Streaming<pb::WatchResponse>,
}

impl W {
    async fn send(&self, r: watch_request::RequestUnion) {
        self.tx.send(pb::WatchRequest { request_union: Some(r) }).await.expect("send watch request");
    }

    async fn next(&mut self, wait: Duration) -> Option<pb::WatchResponse> {
        tokio::time::timeout(wait, self.rx.message()).await.ok().and_then(|r| r.ok()).flatten()
    }
}

/// Zeroes what differs between two members and shows printable byte strings as text.
fn normalize(s: &str) -> String {
    let mut s = s.to_string();
    for field in ["cluster_id: ", "member_id: ", "raft_term: "] {
        s = zero_number_after(&s, field);
    }
    bytes_as_text(&s)
}

fn zero_number_after(s: &str, field: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(field) {
        let after = &rest[i + field.len()..];
        let digits = after.chars().take_while(|c| c.is_ascii_digit()).count();
        out.push_str(&rest[..i + field.len()]);
        out.push(if digits > 0 { '0' } else { '?' });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// `[102, 111, 111]` (prost's Debug of bytes) becomes `"foo"` when every byte is
/// printable ASCII.
fn bytes_as_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(']');
        let text = end.and_then(|e| {
            let inner = &after[..e];
            if inner.is_empty() {
                return None;
            }
            inner
                .split(", ")
                .map(|n| n.parse::<u8>().ok().filter(|b| (32..127).contains(b) && *b != b'"'))
                .collect::<Option<Vec<u8>>>()
                .map(|b| String::from_utf8(b).unwrap_or_default())
        });
        match (text, end) {
            (Some(t), Some(e)) => {
                out.push('"');
                out.push_str(&t);
                out.push('"');
                rest = &after[e + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn label<T: Debug>(r: &T) -> String {
    let s = normalize(&format!("{r:?}"));
    if s.len() > 400 { format!("{}... ({} chars)", &s[..300], s.len()) } else { s }
}

/// Runs a scenario on a fresh etcd and a fresh store at the same time and compares.
macro_rules! compare {
    ($scenario:ident) => {{
        let (etcd, store) = tokio::join!(
            async {
                let mut s = S::start(Impl::Etcd).await;
                $scenario(&mut s).await;
                s
            },
            async {
                let mut s = S::start(Impl::Store).await;
                $scenario(&mut s).await;
                s
            },
        );
        judge(stringify!($scenario), etcd, store);
    }};
}

fn judge(name: &str, etcd: S, store: S) {
    assert_eq!((etcd.which, store.which), (Impl::Etcd, Impl::Store));
    if std::env::var_os("SEMANTICS_DUMP").is_some() {
        println!("=== {name} on etcd");
        for l in &etcd.log {
            println!("{l}");
        }
    }
    assert!(
        etcd.failed.is_empty(),
        "{name}: the scenario's own checks fail on real etcd (fix the scenario): {:#?}",
        etcd.failed
    );
    let diff = common::transcript_diff(&etcd.log, &store.log);
    assert!(
        diff.is_empty() && store.failed.is_empty(),
        "{name}: the store differs from etcd\n{diff}checks failed on the store: {:#?}",
        store.failed
    );
}

// ---------------------------------------------------------------------------------
// Request builders

fn put(k: &str, v: &str) -> pb::PutRequest {
    pb::PutRequest { key: k.into(), value: v.into(), ..Default::default() }
}

fn get(k: &str, end: &str) -> pb::RangeRequest {
    pb::RangeRequest { key: k.into(), range_end: end.into(), ..Default::default() }
}

fn del(k: &str, end: &str) -> pb::DeleteRangeRequest {
    pb::DeleteRangeRequest { key: k.into(), range_end: end.into(), ..Default::default() }
}

fn op_put(k: &str, v: &str) -> pb::RequestOp {
    op(request_op::Request::RequestPut(put(k, v)))
}
fn op_get(k: &str, end: &str) -> pb::RequestOp {
    op(request_op::Request::RequestRange(get(k, end)))
}
fn op_del(k: &str, end: &str) -> pb::RequestOp {
    op(request_op::Request::RequestDeleteRange(del(k, end)))
}
fn op_txn(t: pb::TxnRequest) -> pb::RequestOp {
    op(request_op::Request::RequestTxn(t))
}
fn op(r: request_op::Request) -> pb::RequestOp {
    pb::RequestOp { request: Some(r) }
}

fn cmp(k: &str, end: &str, result: CompareResult, target: TargetUnion) -> pb::Compare {
    let t = match target {
        TargetUnion::Version(_) => CompareTarget::Version,
        TargetUnion::CreateRevision(_) => CompareTarget::Create,
        TargetUnion::ModRevision(_) => CompareTarget::Mod,
        TargetUnion::Value(_) => CompareTarget::Value,
        TargetUnion::Lease(_) => CompareTarget::Lease,
    };
    pb::Compare {
        result: result as i32,
        target: t as i32,
        key: k.into(),
        range_end: end.into(),
        target_union: Some(target),
    }
}

fn txn(compare: Vec<pb::Compare>, success: Vec<pb::RequestOp>, failure: Vec<pb::RequestOp>) -> pb::TxnRequest {
    pb::TxnRequest { compare, success, failure }
}

fn watch_on(k: &str, end: &str, start_revision: i64) -> pb::WatchCreateRequest {
    pb::WatchCreateRequest { key: k.into(), range_end: end.into(), start_revision, ..Default::default() }
}

fn create(c: pb::WatchCreateRequest) -> pb::WatchRequest {
    pb::WatchRequest { request_union: Some(watch_request::RequestUnion::CreateRequest(c)) }
}

fn header_rev<T>(r: &Option<T>, h: impl Fn(&T) -> Option<&pb::ResponseHeader>) -> i64 {
    r.as_ref().and_then(h).map_or(-1, |h| h.revision)
}

// ---------------------------------------------------------------------------------
// KV

async fn kv_revisions_and_ranges(s: &mut S) {
    // Revisions, create/mod revisions and versions across put, overwrite, delete and
    // re-create.
    let r = s.put(put("foo", "1")).await;
    s.fact(header_rev(&r, |r| r.header.as_ref()) == 2, "first put is revision 2");
    s.put(pb::PutRequest { prev_kv: true, ..put("foo", "2") }).await;
    s.put(put("bar", "b")).await;
    s.put(put("baz", "zz")).await;
    s.put(put("foo/a", "fa")).await;
    s.put(put("foo/b", "fb")).await;
    s.put(put("zoo", "z")).await;
    s.delete(pb::DeleteRangeRequest { prev_kv: true, ..del("foo", "") }).await;
    let r = s.put(pb::PutRequest { prev_kv: true, ..put("foo", "3") }).await;
    s.fact(r.as_ref().is_some_and(|r| r.prev_kv.is_none()), "re-created key has no prev_kv");
    let r = s.range(get("foo", "")).await;
    let kv = r.as_ref().and_then(|r| r.kvs.first());
    s.fact(
        kv.is_some_and(|kv| kv.create_revision == 10 && kv.mod_revision == 10 && kv.version == 1),
        format!("re-created foo: {kv:?}"),
    );
    s.put(put("bar", "bb")).await;
    s.put(put("bar", "bbb")).await;
    s.expect_rev(12).await;

    // Range shapes.
    s.range(get("b", "f")).await;
    s.range(get("foo", "fop")).await;
    s.range(get("bar", "\0")).await;
    s.range(get("\0", "\0")).await;
    s.range(get("nope", "")).await;
    s.range(get("a", "b")).await;
    let r = s.range(pb::RangeRequest { limit: 2, ..get("\0", "\0") }).await;
    s.fact(r.as_ref().is_some_and(|r| r.more && r.count == 6 && r.kvs.len() == 2), "limit 2 of 6: more, count 6");
    s.range(pb::RangeRequest { limit: 6, ..get("\0", "\0") }).await;
    s.range(pb::RangeRequest { limit: 7, ..get("\0", "\0") }).await;
    s.range(pb::RangeRequest { keys_only: true, ..get("b", "f") }).await;
    s.range(pb::RangeRequest { count_only: true, ..get("b", "f") }).await;
    s.range(pb::RangeRequest { count_only: true, limit: 1, ..get("b", "f") }).await;
    s.range(pb::RangeRequest { serializable: true, ..get("foo", "fop") }).await;

    // History.
    for rev in [1, 2, 3, 8, 9, 10, 12] {
        s.range(pb::RangeRequest { revision: rev, ..get("foo", "") }).await;
    }
    s.range(pb::RangeRequest { revision: 4, ..get("\0", "\0") }).await;
    s.range(pb::RangeRequest { revision: 11, limit: 1, ..get("bar", "") }).await;

    // Every sort order and target, with and without a limit.
    for order in [SortOrder::None, SortOrder::Ascend, SortOrder::Descend] {
        for target in [SortTarget::Key, SortTarget::Version, SortTarget::Create, SortTarget::Mod, SortTarget::Value] {
            for limit in [0, 3] {
                let r = pb::RangeRequest {
                    sort_order: order as i32,
                    sort_target: target as i32,
                    limit,
                    keys_only: true,
                    ..get("\0", "\0")
                };
                s.range(r).await;
            }
        }
    }
    let r = s
        .range(pb::RangeRequest {
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Key as i32,
            ..get("\0", "\0")
        })
        .await;
    s.fact(
        r.as_ref().and_then(|r| r.kvs.first()).is_some_and(|kv| kv.key == b"zoo"),
        "descending by key starts with zoo",
    );

    // Mod/create revision filters.
    for (min_mod, max_mod, min_create, max_create) in
        [(4, 0, 0, 0), (0, 6, 0, 0), (5, 7, 0, 0), (0, 0, 5, 0), (0, 0, 0, 4), (0, 0, 3, 6), (11, 0, 0, 3)]
    {
        s.range(pb::RangeRequest {
            min_mod_revision: min_mod,
            max_mod_revision: max_mod,
            min_create_revision: min_create,
            max_create_revision: max_create,
            keys_only: true,
            ..get("\0", "\0")
        })
        .await;
    }
    s.range(pb::RangeRequest { min_mod_revision: 6, limit: 1, ..get("\0", "\0") }).await;

    // Put flags.
    s.grant(100, 60).await;
    s.put(pb::PutRequest { lease: 100, prev_kv: true, ..put("leased", "l") }).await;
    // ignore_value keeps the value, not the lease: the lease is given again.
    s.put(pb::PutRequest { ignore_value: true, lease: 100, prev_kv: true, ..put("leased", "") }).await;
    let r = s.put(pb::PutRequest { ignore_lease: true, prev_kv: true, ..put("leased", "l2") }).await;
    s.fact(
        r.as_ref().and_then(|r| r.prev_kv.as_ref()).is_some_and(|kv| kv.lease == 100 && kv.value == b"l"),
        "ignore_value kept value and lease",
    );
    let r = s.range(get("leased", "")).await;
    s.fact(
        r.as_ref().and_then(|r| r.kvs.first()).is_some_and(|kv| kv.lease == 100 && kv.version == 3),
        "ignore_lease kept the lease",
    );
    s.put(put("leased", "l3")).await;
    s.range(get("leased", "")).await;
    s.put(pb::PutRequest { ignore_value: true, ..put("foo", "") }).await;
    s.range(get("foo", "")).await;
    s.expect_rev(17).await;

    // Delete counts and prev_kvs; a delete of nothing does not advance the revision.
    s.delete(pb::DeleteRangeRequest { prev_kv: true, ..del("foo/", "foo0") }).await;
    s.delete(del("nothing", "")).await;
    s.delete(del("nothing", "nothinz")).await;
    s.expect_rev(18).await;
    let r = s.delete(pb::DeleteRangeRequest { prev_kv: true, ..del("b", "c") }).await;
    s.fact(r.as_ref().is_some_and(|r| r.deleted == 2 && r.prev_kvs.len() == 2), "deleted bar and baz");
    s.delete(del("\0", "\0")).await;
    s.range(get("\0", "\0")).await;
    s.expect_rev(20).await;
}

async fn txn_semantics(s: &mut S) {
    use CompareResult::{Equal, Greater, Less, NotEqual};
    s.grant(7, 60).await;
    s.put(put("a", "1")).await; // 2
    s.put(put("a", "2")).await; // 3
    s.put(pb::PutRequest { lease: 7, ..put("b", "x") }).await; // 4
    s.put(put("c", "m")).await; // 5

    // Every target with every result, true and false.
    let targets = [
        TargetUnion::Version(2),
        TargetUnion::CreateRevision(2),
        TargetUnion::ModRevision(3),
        TargetUnion::Value(b"2".to_vec()),
        TargetUnion::Lease(0),
    ];
    for t in targets.iter() {
        for result in [Equal, Greater, Less, NotEqual] {
            let r =
                s.txn(txn(vec![cmp("a", "", result, t.clone())], vec![op_get("a", "")], vec![op_get("b", "")])).await;
            if let (Equal, Some(r)) = (result, &r) {
                let ok = r.succeeded;
                s.fact(ok, format!("a {t:?} equal"));
            }
        }
    }
    for result in [Equal, Greater, Less, NotEqual] {
        s.txn(txn(vec![cmp("b", "", result, TargetUnion::Lease(7))], vec![], vec![])).await;
        s.txn(txn(vec![cmp("b", "", result, TargetUnion::Value(b"w".to_vec()))], vec![], vec![])).await;
    }
    // Compares over a range: true only if every key in it matches.
    for (end, t) in [
        ("d", TargetUnion::Version(0)),
        ("d", TargetUnion::ModRevision(6)),
        ("d", TargetUnion::CreateRevision(1)),
        ("c", TargetUnion::Value(b"a".to_vec())),
        ("\0", TargetUnion::Version(5)),
        ("z", TargetUnion::Value(b"1".to_vec())),
    ] {
        for result in [Greater, Less, NotEqual, Equal] {
            s.txn(txn(vec![cmp("a", end, result, t.clone())], vec![], vec![])).await;
        }
    }
    // Missing keys: version/create/mod compare against 0, value never matches.
    for result in [Equal, Greater, Less, NotEqual] {
        s.txn(txn(vec![cmp("missing", "", result, TargetUnion::Version(0))], vec![], vec![])).await;
        s.txn(txn(vec![cmp("missing", "", result, TargetUnion::ModRevision(0))], vec![], vec![])).await;
        s.txn(txn(vec![cmp("missing", "", result, TargetUnion::Value(vec![]))], vec![], vec![])).await;
        s.txn(txn(vec![cmp("missing", "", result, TargetUnion::Lease(0))], vec![], vec![])).await;
    }
    // Read-only txns do not advance the revision.
    s.expect_rev(5).await;

    // Several compares; writes in the chosen branch; header revision.
    let r = s
        .txn(txn(
            vec![
                cmp("a", "", Equal, TargetUnion::Value(b"2".to_vec())),
                cmp("c", "", Greater, TargetUnion::Version(0)),
            ],
            vec![op_put("a", "3"), op_del("c", ""), op_get("a", ""), op_put("d", "new"), op_get("\0", "\0")],
            vec![op_put("fail", "1")],
        ))
        .await;
    s.fact(header_rev(&r, |r| r.header.as_ref()) == 6, "one txn, one revision");
    s.txn(txn(
        vec![cmp("a", "", Equal, TargetUnion::Value(b"2".to_vec()))],
        vec![op_put("never", "1")],
        vec![op_put("fail", "1"), op_get("fail", ""), op_del("d", ""), op_del("zz", "")],
    ))
    .await;
    s.expect_rev(7).await;
    // A txn whose only write deletes nothing.
    s.txn(txn(vec![], vec![op_del("nothing", "")], vec![])).await;
    // A txn with no compares takes the success branch.
    s.txn(txn(vec![], vec![op_get("a", "")], vec![])).await;
    s.expect_rev(7).await;

    // Nested txns, both branches, reading their own writes.
    let inner_ok = txn(
        vec![cmp("a", "", Equal, TargetUnion::Value(b"3".to_vec()))],
        vec![op_put("n1", "s"), op_get("n1", "")],
        vec![op_put("n1", "f")],
    );
    let inner_fail = txn(
        vec![cmp("a", "", Equal, TargetUnion::Value(b"x".to_vec()))],
        vec![op_put("n2", "s")],
        vec![op_put("n2", "f"), op_get("n", "o")],
    );
    let r = s
        .txn(txn(
            vec![cmp("a", "", Greater, TargetUnion::ModRevision(1))],
            vec![op_txn(inner_ok), op_put("top", "t"), op_txn(inner_fail), op_get("\0", "\0")],
            vec![],
        ))
        .await;
    s.fact(header_rev(&r, |r| r.header.as_ref()) == 8, "nested txn is one revision");
    let r = s.range(get("n1", "")).await;
    s.fact(
        r.as_ref().and_then(|r| r.kvs.first()).is_some_and(|kv| kv.value == b"s" && kv.mod_revision == 8),
        "nested success branch applied",
    );
    s.range(get("n2", "")).await;
    // A nested read-only txn.
    s.txn(txn(vec![], vec![op_txn(txn(vec![], vec![op_get("top", "")], vec![]))], vec![])).await;
    s.expect_rev(8).await;
    // Put + get of the same key in one txn, and range compare over keys with leases.
    s.txn(txn(vec![], vec![op_put("same", "1"), op_get("same", ""), op_del("top", "")], vec![])).await;
    s.range(get("\0", "\0")).await;
    s.expect_rev(9).await;
}

// ---------------------------------------------------------------------------------
// Errors: answered like etcd, and nothing changes

async fn errors_change_nothing(s: &mut S) {
    s.put(put("k", "v")).await;
    s.expect_rev(2).await;

    let big = |n: usize| pb::PutRequest { key: b"big".to_vec(), value: vec![b'x'; n], ..Default::default() };
    let r = s.kv.put(big(1_677_722)).await;
    s.rec("put 1.6 MiB value", r);
    let r = s.kv.put(big(2_621_440)).await;
    s.rec("put 2.5 MiB value", r);
    let r = s.kv.txn(txn(vec![], vec![op(request_op::Request::RequestPut(big(1_677_722)))], vec![])).await;
    s.rec("txn putting a 1.6 MiB value", r);
    s.expect_rev(2).await;

    // Empty keys.
    s.range(get("", "")).await;
    s.range(get("", "z")).await;
    s.put(put("", "v")).await;
    s.delete(del("", "")).await;
    s.txn(txn(vec![cmp("", "", CompareResult::Equal, TargetUnion::Version(0))], vec![], vec![])).await;
    s.txn(txn(vec![], vec![op_put("", "v")], vec![])).await;
    s.txn(txn(vec![], vec![], vec![op_get("", "")])).await;
    s.txn(txn(vec![], vec![op_del("", "")], vec![])).await;
    s.txn(txn(vec![], vec![op_txn(txn(vec![], vec![op_put("", "")], vec![]))], vec![])).await;

    // Put flags that contradict each other, unknown leases, missing keys.
    s.put(pb::PutRequest { ignore_value: true, ..put("k", "v2") }).await;
    s.put(pb::PutRequest { ignore_lease: true, lease: 5, ..put("k", "v2") }).await;
    s.put(pb::PutRequest { lease: 12345, ..put("k", "v2") }).await;
    s.put(pb::PutRequest { ignore_value: true, ..put("absent", "") }).await;
    s.put(pb::PutRequest { ignore_lease: true, ..put("absent", "v") }).await;
    s.txn(txn(
        vec![],
        vec![op(request_op::Request::RequestPut(pb::PutRequest { lease: 999, ..put("k", "x") }))],
        vec![],
    ))
    .await;
    s.txn(txn(
        vec![],
        vec![
            op_put("ok", "1"),
            op(request_op::Request::RequestPut(pb::PutRequest { ignore_value: true, ..put("absent", "") })),
        ],
        vec![],
    ))
    .await;
    s.expect_rev(2).await;

    // Duplicate keys in one branch.
    s.txn(txn(vec![], vec![op_put("d", "1"), op_put("d", "2")], vec![])).await;
    s.txn(txn(vec![], vec![op_put("d", "1"), op_del("a", "z")], vec![])).await;
    s.txn(txn(vec![], vec![op_del("d", ""), op_put("d", "1")], vec![])).await;
    s.txn(txn(vec![], vec![op_put("d", "1"), op_txn(txn(vec![], vec![op_put("d", "2")], vec![]))], vec![])).await;
    // Not duplicates: different branches, deletes overlapping each other, a put next to
    // a range that excludes it.
    s.txn(txn(vec![], vec![op_put("d", "1")], vec![op_put("d", "2")])).await;
    s.txn(txn(vec![], vec![op_del("a", "e"), op_del("b", "f")], vec![])).await;
    s.txn(txn(vec![], vec![op_put("e", "1"), op_del("a", "e")], vec![])).await;
    s.expect_rev(5).await;

    // Too many operations.
    let ops = |n: usize| (0..n).map(|i| op_put(&format!("op{i:03}"), "v")).collect::<Vec<_>>();
    let r = s.kv.txn(txn(vec![], ops(129), vec![])).await;
    s.rec("txn with 129 puts", r);
    let r = s.kv.txn(txn(vec![], vec![], ops(129))).await;
    s.rec("txn with 129 failure ops", r);
    let many_cmp = (0..129).map(|i| cmp(&format!("c{i}"), "", CompareResult::Equal, TargetUnion::Version(0))).collect();
    let r = s.kv.txn(txn(many_cmp, vec![], vec![])).await;
    s.rec("txn with 129 compares", r);
    s.expect_rev(5).await;
    let r = s.kv.txn(txn(vec![], ops(128), vec![])).await;
    let r = s.rec("txn with 128 puts", r);
    s.fact(header_rev(&r, |r| r.header.as_ref()) == 6, "128 ops are allowed");
    s.expect_rev(6).await;

    // Ranges at revisions that do not exist yet.
    s.range(pb::RangeRequest { revision: 7, ..get("k", "") }).await;
    s.range(pb::RangeRequest { revision: 100, ..get("k", "") }).await;
    s.range(pb::RangeRequest { revision: -1, ..get("k", "") }).await;
    s.txn(txn(
        vec![],
        vec![op(request_op::Request::RequestRange(pb::RangeRequest { revision: 7, ..get("k", "") }))],
        vec![],
    ))
    .await;
    s.expect_rev(6).await;
}

// ---------------------------------------------------------------------------------
// Compaction

async fn compaction(s: &mut S) {
    for i in 1..=5 {
        s.put(put("k", &i.to_string())).await; // revisions 2..=6
    }
    s.put(put("other", "o")).await; // 7
    s.compact(8).await;
    s.compact(100).await;
    s.expect_rev(7).await;
    let r = s.compact(4).await;
    s.fact(header_rev(&r, |r| r.header.as_ref()) == 7, "compaction answers at revision 7");
    s.compact(4).await;
    s.compact(3).await;
    s.expect_rev(7).await;
    s.range(pb::RangeRequest { revision: 3, ..get("k", "") }).await;
    s.range(pb::RangeRequest { revision: 4, ..get("k", "") }).await;
    s.range(pb::RangeRequest { revision: 5, ..get("\0", "\0") }).await;
    s.range(pb::RangeRequest { revision: 8, ..get("k", "") }).await;
    s.range(get("k", "")).await;
    s.txn(txn(
        vec![],
        vec![op(request_op::Request::RequestRange(pb::RangeRequest { revision: 2, ..get("k", "") }))],
        vec![],
    ))
    .await;

    // A watch from below the compaction is told so and canceled.
    let mut w = s.open_watch(watch_on("k", "", 2)).await;
    let r = s.wnext(&mut w, "watch k from 2").await;
    s.fact(r.is_some_and(|r| r.created), "watch from a compacted revision is created first");
    let r = s.wnext(&mut w, "watch k from 2, then").await;
    s.fact(r.is_some_and(|r| r.compact_revision == 4 && r.canceled), "compact_revision 4 and canceled");
    // From the compaction revision itself: replayed.
    w.send(watch_request::RequestUnion::CreateRequest(watch_on("k", "", 4))).await;
    let r = s.wnext(&mut w, "watch k from 4").await;
    s.fact(r.is_some_and(|r| r.watch_id == 1), "watch ids are not reused on a stream");
    let r = s.wnext(&mut w, "watch k from 4, replay").await;
    s.fact(r.is_some_and(|r| r.events.len() == 3), "revisions 4..=6 replayed");
    s.compact(7).await;
    s.compact(6).await;
    let r = s.maint.status(pb::StatusRequest {}).await;
    let rev = r.map_or(-1, |r| r.into_inner().header.map_or(-1, |h| h.revision));
    s.note(format!("status header revision = {rev}"));
    s.range(pb::RangeRequest { revision: 6, ..get("k", "") }).await;
    s.expect_rev(7).await;
}

// ---------------------------------------------------------------------------------
// Watch

async fn watch_semantics(s: &mut S) {
    s.put(put("w1", "a")).await; // 2
    s.put(put("w2", "b")).await; // 3
    s.put(put("w1", "c")).await; // 4
    s.delete(del("w2", "")).await; // 5

    // Replay of history in order, in one response after the created one.
    let mut w = s.open_watch(watch_on("w", "x", 2)).await;
    let r = s.wnext(&mut w, "created 0").await;
    s.fact(r.is_some_and(|r| r.created && r.watch_id == 0), "first watch id is 0");
    let r = s.wnext(&mut w, "replay 0").await;
    s.fact(
        r.as_ref().is_some_and(|r| {
            r.events.iter().map(|e| e.kv.as_ref().map_or(0, |kv| kv.mod_revision)).collect::<Vec<_>>()
                == vec![2, 3, 4, 5]
        }),
        "replay 2,3,4,5 in order",
    );

    // More watches on the same stream: future-only with prev_kv, and filters.
    let creates = [
        pb::WatchCreateRequest { prev_kv: true, ..watch_on("w1", "", 0) },
        pb::WatchCreateRequest { filters: vec![FilterType::Noput as i32], ..watch_on("w", "x", 0) },
        pb::WatchCreateRequest { filters: vec![FilterType::Nodelete as i32], ..watch_on("w2", "", 0) },
        pb::WatchCreateRequest {
            filters: vec![FilterType::Noput as i32, FilterType::Nodelete as i32],
            ..watch_on("\0", "\0", 0)
        },
        pb::WatchCreateRequest { prev_kv: true, ..watch_on("w1", "", 3) },
    ];
    for (i, c) in creates.into_iter().enumerate() {
        s.note(format!("watch create {}", label(&c)));
        w.send(watch_request::RequestUnion::CreateRequest(c)).await;
        let r = s.wnext(&mut w, &format!("created {}", i + 1)).await;
        s.fact(r.is_some_and(|r| r.created && r.watch_id == i as i64 + 1), "ids count up per stream");
    }
    // The last one replays w1 from revision 3 (with prev_kv).
    s.wnext(&mut w, "replay 5").await;
    s.wquiet(&mut w, "future-only watches replay nothing").await;

    s.put(put("w1", "d")).await; // 6
    s.put(put("w2", "e")).await; // 7
    s.delete(del("w1", "")).await; // 8
    s.put(put("x", "outside")).await; // 9
    // 0: 3 events; 1: 2; 2: 1; 3: 1; 4: 0; 5: 2
    s.wevents(&mut w, "live", 9).await;
    s.wquiet(&mut w, "after live").await;

    // Cancel, then only the remaining watches see events.
    w.send(watch_request::RequestUnion::CancelRequest(pb::WatchCancelRequest { watch_id: 1 })).await;
    let r = s.wnext(&mut w, "cancel 1").await;
    s.fact(r.is_some_and(|r| r.canceled && r.watch_id == 1), "cancel answered");
    w.send(watch_request::RequestUnion::CancelRequest(pb::WatchCancelRequest { watch_id: 4 })).await;
    s.wnext(&mut w, "cancel 4").await;
    w.send(watch_request::RequestUnion::CancelRequest(pb::WatchCancelRequest { watch_id: 42 })).await;
    s.wquiet(&mut w, "cancel of an unknown id").await;
    s.put(pb::PutRequest { prev_kv: true, ..put("w1", "f") }).await; // 10
    s.wevents(&mut w, "after cancel", 2).await;
    s.wquiet(&mut w, "after cancel").await;

    // Progress request.
    w.send(watch_request::RequestUnion::ProgressRequest(pb::WatchProgressRequest {})).await;
    let r = s.wnext(&mut w, "progress").await;
    s.fact(
        r.is_some_and(|r| r.header.is_some_and(|h| h.revision == 10) && r.events.is_empty()),
        "progress at revision 10",
    );

    // Invalid ranges.
    s.note("watch create b..a".into());
    w.send(watch_request::RequestUnion::CreateRequest(watch_on("b", "a", 0))).await;
    let r = s.wnext(&mut w, "create b..a").await;
    s.fact(r.is_some_and(|r| r.canceled), "key >= range_end is refused");
    w.send(watch_request::RequestUnion::CreateRequest(watch_on("b", "b", 0))).await;
    s.wnext(&mut w, "create b..b").await;
    // The stream still works: a future revision start and a user-chosen id.
    s.note("watch create w3 id=77 from 12".into());
    w.send(watch_request::RequestUnion::CreateRequest(pb::WatchCreateRequest {
        watch_id: 77,
        ..watch_on("w3", "", 12)
    }))
    .await;
    s.wnext(&mut w, "create w3 id=77").await;
    s.put(put("w3", "r11")).await; // 11
    s.put(put("w3", "r12")).await; // 12
    s.wevents(&mut w, "future start", 3).await;
    s.wquiet(&mut w, "end").await;

    // A second stream has its own ids.
    let mut w2 = s.open_watch(watch_on("w3", "", 11)).await;
    s.wnext(&mut w2, "second stream created").await;
    s.wnext(&mut w2, "second stream replay").await;
}

// ---------------------------------------------------------------------------------
// Leases

async fn leases(s: &mut S) {
    let r = s.grant(100, 60).await;
    s.fact(r.is_some_and(|r| r.id == 100 && r.ttl == 60), "granted 100 for 60 s");
    s.grant(100, 30).await;
    s.grant(101, 9_000_000_001).await;
    s.grant(101, 9_000_000_000).await;
    let r = s.grant(102, 1).await;
    s.fact(r.is_some_and(|r| r.ttl == 2), "minimum TTL is 2 s");
    s.grant(103, 0).await;
    s.grant(104, -5).await;
    // An id chosen by the server: nonzero; its value is not compared.
    let r = s.lease.lease_grant(pb::LeaseGrantRequest { ttl: 30, id: 0 }).await;
    let chosen = r.as_ref().map_or(0, |r| r.get_ref().id);
    s.fact(chosen > 0, "server-chosen lease id is positive");
    s.rec("grant id=0 (id hidden)", r.map(|r| tonic::Response::new((r.get_ref().ttl, r.get_ref().error.clone()))));
    let r = s.lease.lease_revoke(pb::LeaseRevokeRequest { id: chosen }).await;
    s.rec("revoke the server-chosen id", r);
    s.grant(105, 60).await;
    s.expect_rev(1).await;

    s.put(pb::PutRequest { lease: 100, ..put("a", "1") }).await; // 2
    s.put(pb::PutRequest { lease: 100, ..put("b", "2") }).await; // 3
    s.put(pb::PutRequest { lease: 101, ..put("c", "3") }).await; // 4
    s.put(put("d", "4")).await; // 5
    s.time_to_live(100).await;
    s.time_to_live(101).await;
    s.time_to_live(103).await;
    s.time_to_live(5555).await;
    let r = s.lease.lease_leases(pb::LeaseLeasesRequest {}).await;
    let r = r.map(|r| {
        let mut r = r.into_inner();
        r.leases.sort_by_key(|l| l.id);
        tonic::Response::new(r)
    });
    s.rec("leases (sorted)", r);

    // Keepalive stream.
    let (tx, rx) = mpsc::channel(8);
    tx.send(pb::LeaseKeepAliveRequest { id: 100 }).await.expect("queue");
    let ka = s.lease.lease_keep_alive(ReceiverStream::new(rx)).await;
    match ka {
        Ok(stream) => {
            let mut stream = stream.into_inner();
            let mut next = async |s: &mut S, label: &str| {
                let r = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
                match r {
                    Ok(Ok(Some(r))) => s.note(format!("{label} => {}", normalize(&format!("{r:?}")))),
                    Ok(Err(e)) => s.note(format!("{label} => ERR {:?} {:?}", e.code(), e.message())),
                    other => s.note(format!("{label} => {other:?}")),
                }
            };
            next(s, "keepalive 100").await;
            tx.send(pb::LeaseKeepAliveRequest { id: 4242 }).await.expect("queue");
            next(s, "keepalive unknown 4242").await;
            tx.send(pb::LeaseKeepAliveRequest { id: 102 }).await.expect("queue");
            next(s, "keepalive 102").await;
        }
        Err(e) => s.note(format!("keepalive stream => ERR {:?} {:?}", e.code(), e.message())),
    }

    // Revoke deletes all attached keys in one revision.
    s.expect_rev(5).await;
    let mut w = s.open_watch(watch_on("a", "c", 0)).await;
    s.wnext(&mut w, "watch a..c").await;
    let r = s.revoke(100).await;
    s.fact(header_rev(&r, |r| r.header.as_ref()) == 6, "revoke is one revision");
    let r = s.wnext(&mut w, "revoke events").await;
    s.fact(
        r.is_some_and(|r| {
            r.events.len() == 2 && r.events.iter().all(|e| e.kv.as_ref().is_some_and(|kv| kv.mod_revision == 6))
        }),
        "both deletes at revision 6, in one response",
    );
    s.range(get("a", "e")).await;
    s.expect_rev(6).await;
    s.revoke(100).await;
    s.revoke(98765).await;
    s.time_to_live(100).await;
    // Revoking a lease without keys does not advance the revision.
    s.revoke(105).await;
    s.expect_rev(6).await;
    s.put(pb::PutRequest { lease: 100, ..put("a", "again") }).await;
    s.expect_rev(6).await;
}

async fn lease_expiry(s: &mut S) {
    let r = s.grant(7, 2).await;
    s.fact(r.is_some_and(|r| r.ttl == 2), "ttl 2");
    s.put(pb::PutRequest { lease: 7, ..put("e1", "1") }).await; // 2
    s.put(pb::PutRequest { lease: 7, ..put("e2", "2") }).await; // 3
    s.put(put("e3", "3")).await; // 4
    let start = Instant::now();
    let mut gone = false;
    while start.elapsed() < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = s.kv.range(pb::RangeRequest { count_only: true, ..get("e1", "") }).await;
        if r.is_ok_and(|r| r.into_inner().count == 0) {
            gone = true;
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    s.note(format!("leased keys expired: {gone}"));
    s.fact(gone && secs < 5.0, format!("expired after {secs:.1} s"));
    s.expect_rev(5).await;
    s.range(get("e", "f")).await;
    s.range(pb::RangeRequest { revision: 4, ..get("e", "f") }).await;
    s.time_to_live(7).await;
    let mut w = s.open_watch(watch_on("e", "f", 5)).await;
    s.wnext(&mut w, "watch e..f from 5").await;
    let r = s.wnext(&mut w, "expiry deletes").await;
    s.fact(r.is_some_and(|r| r.events.len() == 2), "both keys deleted at revision 5");
}

// ---------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_revisions_ranges_sorting_and_filters() {
    compare!(kv_revisions_and_ranges);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_compares_branches_and_nesting() {
    compare!(txn_semantics);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_refused_and_change_nothing() {
    compare!(errors_change_nothing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_hides_history_from_range_and_watch() {
    compare!(compaction);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_replay_filters_ids_cancel_and_progress() {
    compare!(watch_semantics);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_grant_ttl_keepalive_and_revoke() {
    compare!(leases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_expiry_deletes_attached_keys_in_one_revision() {
    compare!(lease_expiry);
}
