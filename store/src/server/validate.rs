//! Request validation done before proposing, as etcd's gRPC layer does it: a request
//! rejected here never reaches the log and changes nothing.

use std::collections::HashSet;

use proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, request_op};
use tonic::Status;

use super::errors;

pub fn range(r: &RangeRequest) -> Result<(), Status> {
    if r.key.is_empty() {
        return Err(errors::empty_key());
    }
    Ok(())
}

pub fn put(r: &PutRequest) -> Result<(), Status> {
    if r.key.is_empty() {
        return Err(errors::empty_key());
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(errors::value_provided());
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(errors::lease_provided());
    }
    Ok(())
}

pub fn delete_range(r: &DeleteRangeRequest) -> Result<(), Status> {
    if r.key.is_empty() {
        return Err(errors::empty_key());
    }
    Ok(())
}

pub fn txn(r: &TxnRequest, max_ops: usize) -> Result<(), Status> {
    check_txn(r, max_ops)?;
    check_intervals(&r.success)?;
    check_intervals(&r.failure)?;
    Ok(())
}

fn check_txn(r: &TxnRequest, max_ops: usize) -> Result<(), Status> {
    let opc = r.compare.len().max(r.success.len()).max(r.failure.len());
    if opc > max_ops {
        return Err(errors::too_many_ops());
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(errors::empty_key());
    }
    for op in r.success.iter().chain(&r.failure) {
        match &op.request {
            Some(request_op::Request::RequestRange(x)) => range(x)?,
            Some(request_op::Request::RequestPut(x)) => put(x)?,
            Some(request_op::Request::RequestDeleteRange(x)) => delete_range(x)?,
            Some(request_op::Request::RequestTxn(x)) => check_txn(x, max_ops)?,
            None => {}
        }
    }
    Ok(())
}

type Interval = (Vec<u8>, Vec<u8>);

fn in_interval(key: &[u8], (start, end): &Interval) -> bool {
    if end.is_empty() {
        key == start.as_slice()
    } else if end.as_slice() == [0] {
        key >= start.as_slice()
    } else {
        key >= start.as_slice() && key < end.as_slice()
    }
}

/// etcd's duplicate-key rule: within one branch, a key may be put at most once and may
/// not be both put and deleted. Nested txns contribute the union of their branches.
fn check_intervals(ops: &[RequestOp]) -> Result<(Vec<Interval>, HashSet<Vec<u8>>), Status> {
    let mut dels = Vec::new();
    let mut puts: HashSet<Vec<u8>> = HashSet::new();
    for op in ops {
        match &op.request {
            Some(request_op::Request::RequestDeleteRange(d)) => dels.push((d.key.clone(), d.range_end.clone())),
            Some(request_op::Request::RequestPut(p)) if !puts.insert(p.key.clone()) => {
                return Err(errors::duplicate_key());
            }
            Some(request_op::Request::RequestTxn(t)) => {
                let (sd, sp) = check_intervals(&t.success)?;
                let (fd, fp) = check_intervals(&t.failure)?;
                for k in sp.iter().chain(fp.iter()) {
                    if puts.contains(k) {
                        return Err(errors::duplicate_key());
                    }
                }
                puts.extend(sp);
                puts.extend(fp);
                dels.extend(sd);
                dels.extend(fd);
            }
            _ => {}
        }
    }
    for p in &puts {
        if dels.iter().any(|d| in_interval(p, d)) {
            return Err(errors::duplicate_key());
        }
    }
    Ok((dels, puts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_op(k: &str) -> RequestOp {
        RequestOp { request: Some(request_op::Request::RequestPut(PutRequest { key: k.into(), ..Default::default() })) }
    }
    fn del_op(k: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn duplicate_keys_in_one_branch_are_rejected() {
        let cases: Vec<(Vec<RequestOp>, bool)> = vec![
            (vec![put_op("a"), put_op("b")], true),
            (vec![put_op("a"), put_op("a")], false),
            (vec![put_op("a"), del_op("a", "")], false),
            (vec![put_op("b"), del_op("a", "c")], false),
            (vec![put_op("c"), del_op("a", "c")], true),
            (vec![del_op("a", "c"), del_op("b", "d")], true),
        ];
        for (ops, ok) in cases {
            let t = TxnRequest { success: ops, ..Default::default() };
            assert_eq!(txn(&t, 128).is_ok(), ok, "{t:?}");
        }
    }

    #[test]
    fn too_many_ops_and_empty_keys() {
        let t = TxnRequest { success: (0..129).map(|i| put_op(&i.to_string())).collect(), ..Default::default() };
        assert_eq!(txn(&t, 128).unwrap_err().message(), "etcdserver: too many operations in txn request");
        let t = TxnRequest { success: vec![put_op("")], ..Default::default() };
        assert_eq!(txn(&t, 128).unwrap_err().message(), "etcdserver: key is not provided");
    }
}
