//! etcd's JSON gateway (grpc-gateway on the client port), compared between real etcd
//! and the store with a plain HTTP/1.1 client.
//!
//! etcd 3.4's gateway speaks proto3 JSON with the original proto field names, int64 and
//! uint64 as strings, bytes as base64, and omits zero values. Every scenario posts the
//! same requests to a fresh etcd and a fresh store; each answer is recorded as HTTP
//! status, content type and the JSON body, parsed and normalized (cluster and member
//! ids, Raft term and index, versions, database sizes, ports), and the two transcripts
//! must be identical. Scenarios also check key facts themselves, so both members
//! answering the same wrong thing does not pass. Set `GATEWAY_DUMP=1` (with
//! `--nocapture`) to print etcd's transcripts.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Impl, Member};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// A minimal HTTP/1.1 client

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

fn read_head(r: &mut BufReader<TcpStream>) -> (u16, String, bool, Option<usize>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (mut content_type, mut chunked, mut length) = (String::new(), false, None);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header line");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.to_string(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-length" => length = value.parse().ok(),
            _ => {}
        }
    }
    (status, content_type, chunked, length)
}

/// Reads one chunk of a chunked body; `None` at the last chunk or on a timeout.
fn read_chunk(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut size = String::new();
    r.read_line(&mut size).ok()?;
    let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
    let mut data = vec![0; size + 2];
    r.read_exact(&mut data).ok()?;
    data.truncate(size);
    (size > 0).then_some(data)
}

fn send_post(addr: &str, path: &str, body: &str, close: bool) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let conn = if close { "close" } else { "keep-alive" };
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: {conn}\r\n\r\n{body}",
        body.len()
    )
    .expect("send request");
    BufReader::new(s)
}

fn post(addr: &str, path: &str, body: &str) -> Reply {
    let mut r = send_post(addr, path, body, true);
    let (status, content_type, chunked, length) = read_head(&mut r);
    let mut bytes = Vec::new();
    if chunked {
        while let Some(c) = read_chunk(&mut r) {
            bytes.extend(c);
        }
    } else if let Some(n) = length {
        bytes.resize(n, 0);
        r.read_exact(&mut bytes).expect("body");
    } else {
        let _ = r.read_to_end(&mut bytes);
    }
    Reply { status, content_type, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// A streaming response (`/v3/watch`), read one newline-delimited JSON message at a time.
struct Stream {
    r: BufReader<TcpStream>,
    buf: Vec<u8>,
    status: u16,
    content_type: String,
}

impl Stream {
    fn open(addr: &str, path: &str, body: &str) -> Stream {
        let mut r = send_post(addr, path, body, false);
        let (status, content_type, _, _) = read_head(&mut r);
        Stream { r, buf: Vec::new(), status, content_type }
    }

    fn next(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line).trim().to_string();
                if line.is_empty() {
                    continue;
                }
                return Some(line);
            }
            let chunk = read_chunk(&mut self.r)?;
            self.buf.extend(chunk);
        }
    }
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Scenarios

struct G {
    addr: String,
    client_port: u16,
    peer_port: u16,
    log: Vec<String>,
    failed: Vec<String>,
}

impl G {
    /// Normalizes what legitimately differs between two members.
    fn normalize(&self, body: &str) -> Value {
        let body = body
            .replace(&self.client_port.to_string(), "CLIENT_PORT")
            .replace(&self.peer_port.to_string(), "PEER_PORT");
        let mut v: Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(_) => return Value::String(format!("not JSON: {body}")),
        };
        scrub(&mut v);
        v
    }

    /// Posts, records `status content-type body`, returns the raw parsed body.
    fn post(&mut self, path: &str, body: Value) -> Value {
        let body = body.to_string();
        let r = post(&self.addr, path, &body);
        let norm = self.normalize(&r.body);
        self.log.push(format!("POST {path} {body} => {} {} {norm}", r.status, r.content_type));
        serde_json::from_str(&r.body).unwrap_or(Value::Null)
    }

    fn fact(&mut self, ok: bool, what: &str) {
        if !ok {
            self.failed.push(what.to_string());
        }
    }
}

/// Header ids, Raft positions, versions and sizes differ between any two members.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                // A member's ID (not a lease's) and the server version ("3.4.23", not
                // a key's version) are scrubbed too.
                let member_id = k == "ID" && x.as_str().is_some_and(|s| s.len() > 12);
                let server_version = k == "version" && x.as_str().is_some_and(|s| s.contains('.'));
                match k.as_str() {
                    _ if member_id || server_version => *x = json!("<s>"),
                    "cluster_id" | "member_id" | "raft_term" | "raft_index" | "raft_applied_index" | "leader"
                    | "dbSize" | "dbSizeInUse" | "raftIndex" | "raftAppliedIndex" | "raftTerm" => {
                        // Keep the JSON type (string or number) visible.
                        match x {
                            Value::String(_) => *x = json!("<s>"),
                            Value::Number(_) => *x = json!("<n>"),
                            _ => {}
                        }
                    }
                    _ => scrub(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn header_revision(v: &Value) -> i64 {
    v.pointer("/header/revision").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(-1)
}

fn run_both(name: &str, scenario: fn(&mut G)) {
    let run = |which: Impl| {
        let m = Member::start(which, &[]);
        let mut g = G {
            addr: format!("127.0.0.1:{}", m.client_port),
            client_port: m.client_port,
            peer_port: m.peer_port,
            log: Vec::new(),
            failed: Vec::new(),
        };
        scenario(&mut g);
        g
    };
    let (etcd, store) = std::thread::scope(|s| {
        let e = s.spawn(|| run(Impl::Etcd));
        let st = s.spawn(|| run(Impl::Store));
        (e.join().expect("etcd run"), st.join().expect("store run"))
    });
    if std::env::var_os("GATEWAY_DUMP").is_some() {
        println!("=== {name} on etcd");
        etcd.log.iter().for_each(|l| println!("{l}"));
    }
    assert!(
        etcd.failed.is_empty(),
        "{name}: the scenario's own checks fail on real etcd (fix the scenario): {:#?}",
        etcd.failed
    );
    let diff = common::transcript_diff(&etcd.log, &store.log);
    assert!(
        diff.is_empty() && store.failed.is_empty(),
        "{name}: the store's gateway differs from etcd's\n{diff}checks failed on the store: {:#?}",
        store.failed
    );
}

fn kv(g: &mut G) {
    let r = g.post("/v3/kv/put", json!({"key": b64("foo"), "value": b64("bar")}));
    g.fact(header_revision(&r) == 2, "put answers revision 2 as a string");
    g.post("/v3/kv/put", json!({"key": b64("foo"), "value": b64("baz"), "prev_kv": true}));
    g.post("/v3/kv/put", json!({"key": b64("foo/a"), "value": b64("")}));
    g.post("/v3/kv/put", json!({"key": b64("zoo"), "value": b64("z")}));
    let r = g.post("/v3/kv/range", json!({"key": b64("foo")}));
    g.fact(r.pointer("/kvs/0/value").and_then(Value::as_str) == Some(&b64("baz")), "range returns the base64 value");
    g.post("/v3/kv/range", json!({"key": b64("foo"), "range_end": b64("fop")}));
    g.post("/v3/kv/range", json!({"key": b64("a"), "range_end": b64("\0"), "limit": 2}));
    g.post("/v3/kv/range", json!({"key": b64("a"), "range_end": b64("\0"), "limit": "1", "sort_order": "DESCEND"}));
    g.post("/v3/kv/range", json!({"key": b64("a"), "range_end": b64("\0"), "count_only": true}));
    g.post("/v3/kv/range", json!({"key": b64("a"), "range_end": b64("\0"), "keys_only": true, "revision": 3}));
    g.post("/v3/kv/range", json!({"key": b64("missing")}));
    g.post("/v3/kv/deleterange", json!({"key": b64("foo/"), "range_end": b64("foo0"), "prev_kv": true}));
    g.post("/v3/kv/deleterange", json!({"key": b64("nothing")}));
    let r = g.post(
        "/v3/kv/txn",
        json!({
            "compare": [{"target": "VALUE", "result": "EQUAL", "key": b64("foo"), "value": b64("baz")},
                        {"target": "VERSION", "result": "GREATER", "key": b64("zoo"), "version": "0"}],
            "success": [{"request_put": {"key": b64("t"), "value": b64("1")}},
                        {"request_range": {"key": b64("foo")}},
                        {"request_delete_range": {"key": b64("zoo")}}],
            "failure": [{"request_range": {"key": b64("zoo")}}]
        }),
    );
    g.fact(r.get("succeeded") == Some(&json!(true)), "txn succeeded");
    g.post(
        "/v3/kv/txn",
        json!({
            "compare": [{"target": "MOD", "result": "LESS", "key": b64("foo"), "mod_revision": 2}],
            "success": [{"request_put": {"key": b64("never"), "value": b64("1")}}],
            "failure": [{"request_range": {"key": b64("t")}}]
        }),
    );
    g.post("/v3/kv/txn", json!({}));
    g.post("/v3/kv/compaction", json!({"revision": 3}));
    g.post("/v3/kv/range", json!({"key": b64("foo"), "revision": 2}));
}

fn errors(g: &mut G) {
    g.post("/v3/kv/put", json!({"key": b64("k"), "value": b64("v")}));
    g.post("/v3/kv/put", json!({"key": "", "value": b64("v")}));
    g.post("/v3/kv/put", json!({"value": b64("v")}));
    g.post("/v3/kv/range", json!({}));
    g.post("/v3/kv/deleterange", json!({"key": ""}));
    g.post("/v3/kv/txn", json!({"success": [{"request_put": {"key": b64("d")}}, {"request_put": {"key": b64("d")}}]}));
    g.post("/v3/kv/put", json!({"key": b64("k"), "value": b64("v"), "lease": "99"}));
    g.post("/v3/kv/put", json!({"key": b64("k"), "value": b64("v"), "ignore_value": true}));
    g.post("/v3/kv/range", json!({"key": b64("k"), "revision": "100"}));
    g.post("/v3/kv/compaction", json!({"revision": "100"}));
    g.post("/v3/lease/revoke", json!({"ID": "424242"}));
    g.post("/v3/lease/timetolive", json!({"ID": "424242"}));
    g.post("/v3/lease/grant", json!({"TTL": "9000000001", "ID": "5"}));
    let r = g.post("/v3/kv/range", json!({"key": b64("k")}));
    g.fact(header_revision(&r) == 2, "errors changed nothing");
}

fn leases_maintenance_cluster(g: &mut G) {
    let r = g.post("/v3/lease/grant", json!({"TTL": 60, "ID": 1000}));
    g.fact(r.get("ID") == Some(&json!("1000")), "lease id as a string");
    g.post("/v3/lease/grant", json!({"TTL": 60, "ID": 1000}));
    g.post("/v3/lease/grant", json!({"TTL": "1", "ID": "1001"}));
    g.post("/v3/kv/put", json!({"key": b64("l1"), "value": b64("v"), "lease": "1000"}));
    g.post("/v3/kv/put", json!({"key": b64("l2"), "value": b64("v"), "lease": 1000}));
    // Remaining TTL is timing-dependent: checked, then hidden.
    let r = post(&g.addr, "/v3/lease/timetolive", &json!({"ID": "1000", "keys": true}).to_string());
    let mut v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    let ttl: i64 = v.get("TTL").and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(-9);
    g.fact((57..=60).contains(&ttl), "remaining TTL close to 60");
    if let Some(t) = v.get_mut("TTL") {
        *t = json!("<ttl>");
    }
    // etcd lists a lease's keys in Go map order.
    if let Some(Value::Array(keys)) = v.get_mut("keys") {
        keys.sort_by_key(Value::to_string);
    }
    let norm = g.normalize(&v.to_string());
    g.log.push(format!("POST /v3/lease/timetolive ID=1000 keys (sorted) => {} {} {norm}", r.status, r.content_type));
    // Listed in map order by etcd: compared sorted.
    let r = post(&g.addr, "/v3/lease/leases", "{}");
    g.log.push(format!("POST /v3/lease/leases => {} {}", r.status, r.content_type));
    let r: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    let mut ids: Vec<String> = r
        .get("leases")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|l| l.get("ID").map(Value::to_string).unwrap_or_default()).collect())
        .unwrap_or_default();
    ids.sort();
    g.log.push(format!("lease ids sorted: {ids:?}"));
    let r = g.post("/v3/lease/revoke", json!({"ID": "1000"}));
    g.fact(header_revision(&r) == 4, "revoke deletes both keys in one revision");
    g.post("/v3/kv/range", json!({"key": b64("l"), "range_end": b64("m")}));
    g.post("/v3/lease/timetolive", json!({"ID": "1000"}));
    let r = g.post("/v3/maintenance/status", json!({}));
    g.fact(r.get("version").and_then(Value::as_str).is_some(), "status has a version");
    let r = g.post("/v3/cluster/member/list", json!({}));
    g.fact(r.pointer("/members/0/name").and_then(Value::as_str) == Some("default"), "member list names the member");
}

fn watch(g: &mut G) {
    g.post("/v3/kv/put", json!({"key": b64("w1"), "value": b64("old")}));
    let create = json!({"create_request": {"key": b64("w"), "range_end": b64("x"), "prev_kv": true}});
    let mut s = Stream::open(&g.addr, "/v3/watch", &create.to_string());
    g.log.push(format!("watch stream: {} {}", s.status, s.content_type));
    let record = |g: &mut G, s: &mut Stream, what: &str| -> Value {
        let line = s.next();
        let v = line.as_deref().map(|l| g.normalize(l));
        g.log.push(format!("{what}: {v:?}"));
        line.and_then(|l| serde_json::from_str(&l).ok()).unwrap_or(Value::Null)
    };
    let created = record(g, &mut s, "created");
    g.fact(created.pointer("/result/created") == Some(&json!(true)), "created");
    g.post("/v3/kv/put", json!({"key": b64("w1"), "value": b64("new")}));
    let ev = record(g, &mut s, "put event");
    g.fact(ev.pointer("/result/events/0/kv/value").and_then(Value::as_str) == Some(&b64("new")), "put event streamed");
    g.post("/v3/kv/deleterange", json!({"key": b64("w1")}));
    let ev = record(g, &mut s, "delete event");
    g.fact(ev.pointer("/result/events/0/type") == Some(&json!("DELETE")), "delete event streamed");
    // A second stream replaying history from revision 2, with a NOPUT filter.
    let create = json!({"create_request": {"key": b64("w1"), "start_revision": "2", "filters": ["NOPUT"]}});
    let mut s2 = Stream::open(&g.addr, "/v3/watch", &create.to_string());
    record(g, &mut s2, "filtered created");
    record(g, &mut s2, "filtered replay");
}

#[test]
fn gateway_kv_range_delete_txn_compaction() {
    run_both("kv", kv);
}

#[test]
fn gateway_errors_as_etcd_answers_them() {
    run_both("errors", errors);
}

#[test]
fn gateway_lease_maintenance_and_cluster() {
    run_both("leases_maintenance_cluster", leases_maintenance_cluster);
}

#[test]
fn gateway_watch_streams_results() {
    run_both("watch", watch);
}
