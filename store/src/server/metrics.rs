//! The store's Prometheus metrics, under etcd's names so existing dashboards and alerts
//! work unchanged.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::Status;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    pub registry: Registry,
    pub has_leader: Gauge,
    pub is_leader: Gauge,
    pub leader_changes: Counter,
    pub proposals_committed: Counter,
    pub proposals_applied: Counter,
    pub proposals_pending: Gauge,
    pub proposals_failed: Counter,
    pub fsync_duration: Histogram,
    pub commit_duration: Histogram,
    pub db_size: Gauge,
    pub db_size_in_use: Gauge,
    pub keys_total: Gauge,
    pub current_revision: Gauge,
    pub compact_revision: Gauge,
    pub watchers: Gauge,
    pub watch_streams: Gauge,
    pub quota_bytes: Gauge,
    pub put_total: Counter,
    pub delete_total: Counter,
    pub range_total: Counter,
    pub txn_total: Counter,
    pub lease_granted: Counter,
    pub lease_revoked: Counter,
    pub lease_renewed: Counter,
    grpc_started: Family<Labels, Counter>,
    grpc_handled: Family<Labels, Counter>,
    peer_rtt: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Metrics {
    pub fn new(version: &str) -> Self {
        let mut r = Registry::default();
        let has_leader = Gauge::default();
        let is_leader = Gauge::default();
        let leader_changes = Counter::default();
        let proposals_committed = Counter::default();
        let proposals_applied = Counter::default();
        let proposals_pending = Gauge::default();
        let proposals_failed = Counter::default();
        let fsync_duration = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let commit_duration = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let (db_size, db_size_in_use, keys_total) = (Gauge::default(), Gauge::default(), Gauge::default());
        let (current_revision, compact_revision) = (Gauge::default(), Gauge::default());
        let (watchers, watch_streams, quota_bytes) = (Gauge::default(), Gauge::default(), Gauge::default());
        let (put_total, delete_total, range_total, txn_total) =
            (Counter::default(), Counter::default(), Counter::default(), Counter::default());
        let (lease_granted, lease_revoked, lease_renewed) =
            (Counter::default(), Counter::default(), Counter::default());
        let peer_rtt: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0001, 2.0, 16)));
        r.register(
            "etcd_network_peer_round_trip_time_seconds",
            "Round-Trip-Time histogram between peers",
            peer_rtt.clone(),
        );
        let grpc_started = Family::<Labels, Counter>::default();
        let grpc_handled = Family::<Labels, Counter>::default();
        let server_version = Family::<Labels, Gauge>::default();
        server_version.get_or_create(&vec![("server_version".into(), version.into())]).set(1);
        r.register(
            "etcd_server_has_leader",
            "Whether or not a leader exists. 1 is existence, 0 is not.",
            has_leader.clone(),
        );
        r.register("etcd_server_is_leader", "Whether or not this member is a leader.", is_leader.clone());
        r.register("etcd_server_leader_changes_seen", "The number of leader changes seen.", leader_changes.clone());
        r.register(
            "etcd_server_proposals_committed",
            "The total number of consensus proposals committed.",
            proposals_committed.clone(),
        );
        r.register(
            "etcd_server_proposals_applied",
            "The total number of consensus proposals applied.",
            proposals_applied.clone(),
        );
        r.register(
            "etcd_server_proposals_pending",
            "The current number of pending proposals to commit.",
            proposals_pending.clone(),
        );
        r.register(
            "etcd_server_proposals_failed",
            "The total number of failed proposals seen.",
            proposals_failed.clone(),
        );
        r.register(
            "etcd_server_version",
            "Which version is running. 1 for 'server_version' label with current version.",
            server_version,
        );
        r.register(
            "etcd_disk_wal_fsync_duration_seconds",
            "The latency distributions of fsync called by WAL.",
            fsync_duration.clone(),
        );
        r.register(
            "etcd_disk_backend_commit_duration_seconds",
            "The latency distributions of commit called by backend.",
            commit_duration.clone(),
        );
        r.register(
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.",
            db_size.clone(),
        );
        r.register(
            "etcd_mvcc_db_total_size_in_use_in_bytes",
            "Total size of the underlying database logically in use in bytes.",
            db_size_in_use.clone(),
        );
        r.register("etcd_debugging_mvcc_keys_total", "Total number of keys.", keys_total.clone());
        r.register("etcd_debugging_mvcc_current_revision", "The current revision of store.", current_revision.clone());
        r.register(
            "etcd_debugging_mvcc_compact_revision",
            "The revision of the last compaction in store.",
            compact_revision.clone(),
        );
        r.register("etcd_debugging_mvcc_watcher_total", "Total number of watchers.", watchers.clone());
        r.register("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.", watch_streams.clone());
        r.register(
            "etcd_server_quota_backend_bytes",
            "Current backend storage quota size in bytes.",
            quota_bytes.clone(),
        );
        r.register("etcd_mvcc_put", "Total number of puts seen by this member.", put_total.clone());
        r.register("etcd_mvcc_delete", "Total number of deletes seen by this member.", delete_total.clone());
        r.register("etcd_mvcc_range", "Total number of ranges seen by this member.", range_total.clone());
        r.register("etcd_mvcc_txn", "Total number of txns seen by this member.", txn_total.clone());
        r.register("etcd_debugging_lease_granted", "The total number of granted leases.", lease_granted.clone());
        r.register("etcd_debugging_lease_revoked", "The total number of revoked leases.", lease_revoked.clone());
        r.register(
            "etcd_debugging_lease_renewed",
            "The number of renewed leases seen by the leader.",
            lease_renewed.clone(),
        );
        r.register("grpc_server_started", "Total number of RPCs started on the server.", grpc_started.clone());
        r.register(
            "grpc_server_handled",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            grpc_handled.clone(),
        );
        Self {
            registry: r,
            has_leader,
            is_leader,
            leader_changes,
            proposals_committed,
            proposals_applied,
            proposals_pending,
            proposals_failed,
            fsync_duration,
            commit_duration,
            db_size,
            db_size_in_use,
            keys_total,
            current_revision,
            compact_revision,
            watchers,
            watch_streams,
            quota_bytes,
            put_total,
            delete_total,
            range_total,
            txn_total,
            lease_granted,
            lease_revoked,
            lease_renewed,
            grpc_started,
            grpc_handled,
            peer_rtt,
        }
    }

    /// A heartbeat's round trip to peer `to`.
    pub fn observe_peer_rtt(&self, to: u64, seconds: f64) {
        self.peer_rtt.get_or_create(&vec![("To".into(), format!("{to:x}"))]).observe(seconds);
    }

    fn labels(kind: &str, service: &str, method: &str) -> Labels {
        vec![
            ("grpc_type".into(), kind.into()),
            ("grpc_service".into(), format!("etcdserverpb.{service}")),
            ("grpc_method".into(), method.into()),
        ]
    }

    pub fn started(&self, kind: &str, service: &str, method: &str) {
        self.grpc_started.get_or_create(&Self::labels(kind, service, method)).inc();
    }

    /// Counts a finished unary call with its gRPC code.
    pub fn handled<T>(&self, service: &str, method: &str, r: &Result<T, Status>) {
        let code = match r {
            Ok(_) => "OK".to_string(),
            Err(s) => format!("{:?}", s.code()),
        };
        let mut l = Self::labels("unary", service, method);
        l.push(("grpc_code".into(), code));
        self.grpc_handled.get_or_create(&l).inc();
    }
}
