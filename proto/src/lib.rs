//! Wire definitions, generated from the `.proto` files under `proto/`.
//!
//! The etcd v3 API (packages `etcdserverpb`, `mvccpb`, `authpb`) is written by us with
//! upstream's names and field numbers, so the wire is identical to etcd's. Every message
//! also has the proto3 JSON mapping (pbjson, original field names), which is what etcd's
//! JSON gateway speaks. This crate holds generated code only: no logic.

#![allow(clippy::all, clippy::pedantic)]

pub mod mvccpb {
    tonic::include_proto!("mvccpb");
    include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
}

pub mod authpb {
    tonic::include_proto!("authpb");
    include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
}

pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
}

/// The store's internal Raft peer transport (opaque raft-rs messages).
pub mod raftpb {
    tonic::include_proto!("raftpb");
}
