//! Translation of store errors into etcd's exact gRPC statuses: Go clients match on
//! the message text, so these strings are part of the wire contract.

use tonic::{Code, Status};

use crate::apply::ApplyError;
use crate::mvcc::MvccError;

pub fn status(code: Code, msg: &str) -> Status {
    Status::new(code, msg)
}

pub fn empty_key() -> Status {
    status(Code::InvalidArgument, "etcdserver: key is not provided")
}
pub fn value_provided() -> Status {
    status(Code::InvalidArgument, "etcdserver: value is provided")
}
pub fn lease_provided() -> Status {
    status(Code::InvalidArgument, "etcdserver: lease is provided")
}
pub fn too_many_ops() -> Status {
    status(Code::InvalidArgument, "etcdserver: too many operations in txn request")
}
pub fn duplicate_key() -> Status {
    status(Code::InvalidArgument, "etcdserver: duplicate key given in txn request")
}
pub fn request_too_large() -> Status {
    status(Code::InvalidArgument, "etcdserver: request is too large")
}
pub fn lease_ttl_too_large() -> Status {
    status(Code::OutOfRange, "etcdserver: too large lease TTL")
}
pub fn lease_not_found() -> Status {
    status(Code::NotFound, "etcdserver: requested lease not found")
}
pub fn no_space() -> Status {
    status(Code::ResourceExhausted, "etcdserver: mvcc: database space exceeded")
}
pub fn stopped() -> Status {
    status(Code::Unavailable, "etcdserver: server stopped")
}
pub fn no_leader() -> Status {
    status(Code::Unavailable, "etcdserver: no leader")
}
pub fn leader_changed() -> Status {
    status(Code::Unavailable, "etcdserver: leader changed")
}
pub fn request_timed_out() -> Status {
    status(Code::Unavailable, "etcdserver: request timed out")
}
pub fn too_many_requests() -> Status {
    status(Code::ResourceExhausted, "etcdserver: too many requests")
}
pub fn member_not_found() -> Status {
    status(Code::NotFound, "etcdserver: member not found")
}
pub fn auth_not_enabled() -> Status {
    status(Code::FailedPrecondition, "etcdserver: authentication is not enabled")
}
/// What grpc-go answers for a message over the server's receive limit.
pub fn message_too_large(len: usize, max: usize) -> Status {
    status(Code::ResourceExhausted, &format!("grpc: received message larger than max ({len} vs. {max})"))
}

impl From<MvccError> for Status {
    fn from(e: MvccError) -> Self {
        match e {
            MvccError::Compacted => status(Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted"),
            MvccError::FutureRev => {
                status(Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision")
            }
            other => {
                tracing::error!(error = %other, "storage failure while serving a request");
                status(Code::Internal, &format!("etcdserver: {other}"))
            }
        }
    }
}

impl From<ApplyError> for Status {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Mvcc(m) => m.into(),
            ApplyError::KeyNotFound => status(Code::InvalidArgument, "etcdserver: key not found"),
            ApplyError::MemberNotFound => member_not_found(),
            ApplyError::LeaseNotFound => lease_not_found(),
            ApplyError::LeaseExists => status(Code::FailedPrecondition, "etcdserver: lease already exists"),
            ApplyError::NoSpace => no_space(),
            ApplyError::BadEntry => status(Code::Internal, "etcdserver: undecodable request"),
            ApplyError::ProposalDropped => no_leader(),
        }
    }
}
pub fn peer_url_exists() -> Status {
    status(Code::FailedPrecondition, "etcdserver: Peer URLs already exists")
}
pub fn bad_member_urls() -> Status {
    status(Code::InvalidArgument, "etcdserver: given member URLs are invalid")
}
pub fn member_not_learner() -> Status {
    status(Code::FailedPrecondition, "etcdserver: can only promote a learner member")
}
pub fn learner_not_ready() -> Status {
    status(Code::FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader")
}
pub fn too_many_learners() -> Status {
    status(Code::FailedPrecondition, "etcdserver: too many learner members in cluster")
}
pub fn not_enough_started() -> Status {
    status(Code::FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members")
}
pub fn unhealthy_cluster() -> Status {
    status(Code::Unavailable, "etcdserver: unhealthy cluster")
}
pub fn not_supported_for_learner() -> Status {
    status(Code::Unavailable, "etcdserver: rpc not supported for learner")
}
