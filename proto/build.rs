//! Compiles the .proto files with protox (pure Rust, no system `protoc`) and generates
//! prost messages, tonic clients and servers, and (pbjson) the proto3 JSON mapping that
//! etcd's JSON gateway speaks (original field names, int64 as strings, bytes as base64).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/etcd/kv.proto", "proto/etcd/auth.proto", "proto/etcd/rpc.proto", "proto/raft/transport.proto"];
    println!("cargo:rerun-if-changed=build.rs");
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    let descriptor_bytes = fds.encode_to_vec();
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds)?;
    pbjson_build::Builder::new().register_descriptors(&descriptor_bytes)?.preserve_proto_field_names().build(&[
        ".etcdserverpb",
        ".mvccpb",
        ".authpb",
    ])?;
    Ok(())
}
