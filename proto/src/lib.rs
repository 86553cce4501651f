//! Wire definitions, generated from the `.proto` files under `proto/`.
//!
//! The etcd v3 API (packages `etcdserverpb`, `mvccpb`, `authpb`) is written by us with
//! upstream's names and field numbers, so the wire is identical to etcd's. This crate
//! holds generated code only: no logic, no IO beyond what tonic generates.

#![allow(clippy::all, clippy::pedantic)]

pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

pub mod authpb {
    tonic::include_proto!("authpb");
}

pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}
