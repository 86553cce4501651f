//! Hand-written histories, each named after the anomaly it shows.

use crate::*;

fn kv(value: &str, create: i64, modr: i64, version: i64) -> Option<KeyValue> {
    Some(KeyValue { value: value.into(), create_revision: create, mod_revision: modr, version })
}

fn put(rev: i64) -> Ret {
    Ret::Put { revision: rev }
}

fn got(rev: i64, kv: Option<KeyValue>) -> Ret {
    Ret::Get { revision: rev, kv }
}

/// Runs `op` from client `c` with nothing concurrent to it.
fn seq(h: &mut History, c: u32, op: Op, ret: Ret) -> OpId {
    let id = h.invoke(c, op);
    h.complete(id, ret);
    id
}

fn assert_ok(h: &History) -> Linearization {
    check(h).unwrap_or_else(|e| panic!("expected linearizable:\n{e}"))
}

fn assert_violation(h: &History) -> Box<Violation> {
    match check(h) {
        Err(CheckError::Violation(v)) => v,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn empty_history_is_linearizable() {
    let l = assert_ok(&History::new());
    assert_eq!(l.final_revision, 1);
}

#[test]
fn sequential_puts_gets_and_deletes_follow_etcd_revisions() {
    let mut h = History::new();
    seq(&mut h, 0, Op::get("a"), got(1, None));
    seq(&mut h, 0, Op::put("a", "1"), put(2));
    seq(&mut h, 1, Op::put("a", "2"), put(3));
    seq(&mut h, 1, Op::get("a"), got(3, kv("2", 2, 3, 2)));
    // Deleting a missing key does not bump the revision; deleting a present one does.
    seq(&mut h, 0, Op::delete("b"), Ret::Delete { revision: 3, deleted: 0 });
    seq(&mut h, 0, Op::delete("a"), Ret::Delete { revision: 4, deleted: 1 });
    seq(&mut h, 0, Op::get("a"), got(4, None));
    // Re-created: new create_revision, version starts again at 1.
    seq(&mut h, 0, Op::put("a", "3"), put(5));
    seq(&mut h, 2, Op::get("a"), got(5, kv("3", 5, 5, 1)));
    let l = assert_ok(&h);
    assert_eq!(l.final_revision, 5);
    assert_eq!(l.order.len(), 9);
}

#[test]
fn concurrent_writes_are_ordered_by_their_revisions() {
    let mut h = History::new();
    let a = h.invoke(0, Op::put("k", "a"));
    let b = h.invoke(1, Op::put("k", "b"));
    let r = h.invoke(2, Op::get("k"));
    h.complete(b, put(2));
    h.complete(a, put(3));
    h.complete(r, got(2, kv("b", 2, 2, 1)));
    seq(&mut h, 2, Op::get("k"), got(3, kv("a", 2, 3, 2)));
    let l = assert_ok(&h);
    assert_eq!(l.order, vec![b, r, a, OpId(3)]);
}

#[test]
fn stale_read_is_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("k", "1"), put(2));
    seq(&mut h, 0, Op::put("k", "2"), put(3));
    // Another client reads after both were acknowledged and gets the old value.
    seq(&mut h, 1, Op::get("k"), got(3, kv("1", 2, 2, 1)));
    let v = assert_violation(&h);
    let text = v.to_string();
    assert!(text.contains("the model would answer: rev 3, \"2\" (create 2, mod 3, version 2)"), "{text}");
}

#[test]
fn stale_read_with_its_old_revision_is_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("k", "1"), put(2));
    seq(&mut h, 0, Op::put("k", "2"), put(3));
    seq(&mut h, 1, Op::get("k"), got(2, kv("1", 2, 2, 1)));
    let v = assert_violation(&h);
    assert!(v.to_string().contains("needs the store at revision 2"), "{v}");
}

#[test]
fn lost_write_is_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("a", "1"), put(2));
    seq(&mut h, 1, Op::put("b", "1"), put(3));
    // The acknowledged write to `a` is gone.
    seq(&mut h, 2, Op::get("a"), got(3, None));
    assert_violation(&h);
}

#[test]
fn writes_reordered_against_real_time_are_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("a", "1"), put(3));
    // Invoked after the first was acknowledged, yet ordered before it.
    seq(&mut h, 1, Op::put("a", "2"), put(2));
    assert_violation(&h);
}

#[test]
fn a_write_observed_before_it_was_invoked_is_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::get("a"), got(2, kv("x", 2, 2, 1)));
    seq(&mut h, 1, Op::put("a", "x"), put(2));
    assert_violation(&h);
}

#[test]
fn a_write_observed_while_in_flight_is_fine() {
    let mut h = History::new();
    let w = h.invoke(1, Op::put("a", "x"));
    seq(&mut h, 0, Op::get("a"), got(2, kv("x", 2, 2, 1)));
    h.complete(w, put(2));
    assert_ok(&h);
}

#[test]
fn duplicate_revisions_are_a_violation() {
    let mut h = History::new();
    let a = h.invoke(0, Op::put("a", "1"));
    let b = h.invoke(1, Op::put("b", "1"));
    h.complete(a, put(2));
    h.complete(b, put(2));
    let v = assert_violation(&h);
    assert_eq!(v.blocked, vec![a, b]);
    assert!(v.to_string().contains("revision 2"), "{v}");
}

#[test]
fn a_revision_gap_with_no_candidate_to_fill_it_is_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("a", "1"), put(2));
    seq(&mut h, 0, Op::put("a", "2"), put(4));
    assert_violation(&h);
}

fn cas(key: &str, expect: &str, new: &str, otherwise: &str) -> Op {
    Op::txn(
        vec![Compare::value(key, CompareResult::Equal, expect)],
        vec![TxnOp::put(key, new)],
        vec![TxnOp::get(key), TxnOp::put("log", otherwise)],
    )
}

#[test]
fn txn_takes_the_branch_its_compares_select() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("k", "1"), put(2));
    seq(
        &mut h,
        0,
        cas("k", "1", "2", "miss"),
        Ret::Txn { revision: 3, succeeded: true, results: vec![TxnResult::Put] },
    );
    seq(
        &mut h,
        1,
        cas("k", "1", "3", "miss"),
        Ret::Txn { revision: 4, succeeded: false, results: vec![TxnResult::Get(kv("2", 2, 3, 2)), TxnResult::Put] },
    );
    seq(&mut h, 1, Op::get("log"), got(4, kv("miss", 4, 4, 1)));
    assert_ok(&h);
}

#[test]
fn txn_reporting_the_wrong_branch_is_a_violation() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("k", "1"), put(2));
    // k is "1", so the compare holds; the store claims the failure branch ran.
    seq(
        &mut h,
        0,
        cas("k", "1", "2", "miss"),
        Ret::Txn { revision: 3, succeeded: false, results: vec![TxnResult::Get(kv("1", 2, 2, 1)), TxnResult::Put] },
    );
    let v = assert_violation(&h);
    assert!(v.to_string().contains("the model would answer: rev 3, succeeded [put ok]"), "{v}");
}

#[test]
fn txn_compares_on_missing_keys_follow_etcd() {
    let mut h = History::new();
    // Value compares on a missing key are false, even "!=".
    let t = Op::txn(vec![Compare::value("k", CompareResult::NotEqual, "x")], vec![TxnOp::put("k", "a")], vec![]);
    seq(&mut h, 0, t, Ret::Txn { revision: 1, succeeded: false, results: vec![] });
    // Version, create and mod revisions of a missing key are 0.
    let t = Op::txn(
        vec![
            Compare::version("k", CompareResult::Equal, 0),
            Compare::create_revision("k", CompareResult::Less, 1),
            Compare::mod_revision("k", CompareResult::Equal, 0),
        ],
        vec![TxnOp::put("k", "a"), TxnOp::get("k")],
        vec![],
    );
    // A get after a put in the same txn sees the put, at the txn's revision.
    seq(
        &mut h,
        0,
        t,
        Ret::Txn { revision: 2, succeeded: true, results: vec![TxnResult::Put, TxnResult::Get(kv("a", 2, 2, 1))] },
    );
    let t = Op::txn(vec![Compare::value("k", CompareResult::Greater, "0")], vec![TxnOp::delete("zz")], vec![]);
    // A txn whose writes change nothing does not bump the revision.
    seq(&mut h, 0, t, Ret::Txn { revision: 2, succeeded: true, results: vec![TxnResult::Delete { deleted: 0 }] });
    assert_ok(&h);
}

#[test]
fn txn_revision_must_not_move_when_it_changed_nothing() {
    let mut h = History::new();
    let t = Op::txn(vec![], vec![TxnOp::delete("zz")], vec![]);
    seq(&mut h, 0, t, Ret::Txn { revision: 2, succeeded: true, results: vec![TxnResult::Delete { deleted: 0 }] });
    seq(&mut h, 0, Op::put("a", "1"), put(2));
    assert_violation(&h);
}

#[test]
fn unknown_outcome_write_that_took_effect() {
    let mut h = History::new();
    h.invoke(0, Op::put("a", "1")); // timed out
    seq(&mut h, 1, Op::put("b", "1"), put(2));
    seq(&mut h, 1, Op::get("a"), got(3, kv("1", 3, 3, 1)));
    let l = assert_ok(&h);
    assert_eq!(l.order, vec![OpId(1), OpId(0), OpId(2)]);
    assert!(l.not_taken.is_empty());
}

#[test]
fn unknown_outcome_write_that_did_not_take_effect() {
    let mut h = History::new();
    h.invoke(0, Op::put("a", "1"));
    h.invoke(3, Op::get("a")); // a failed read: dropped
    seq(&mut h, 1, Op::get("a"), got(1, None));
    seq(&mut h, 1, Op::put("b", "1"), put(2));
    seq(&mut h, 2, Op::get("a"), got(2, None));
    let l = assert_ok(&h);
    assert_eq!(l.not_taken, vec![OpId(0), OpId(1)]);
}

#[test]
fn unknown_outcome_write_cannot_take_effect_before_it_was_invoked() {
    let mut h = History::new();
    seq(&mut h, 1, Op::get("a"), got(2, kv("1", 2, 2, 1)));
    h.invoke(0, Op::put("a", "1"));
    let v = assert_violation(&h);
    assert!(v.to_string().contains("needs the store at revision 2"), "{v}");
}

#[test]
fn unknown_outcome_ops_fill_exactly_the_revisions_nobody_reports() {
    let mut h = History::new();
    let u1 = h.invoke(0, Op::put("a", "u1"));
    let u2 = h.invoke(1, Op::put("a", "u2"));
    let u3 = h.invoke(2, Op::delete("a"));
    seq(&mut h, 3, Op::put("b", "x"), put(2));
    // Two unknown writes took effect (revisions 3 and 4), u2 last.
    seq(&mut h, 3, Op::get("a"), got(4, kv("u2", 3, 4, 2)));
    let l = assert_ok(&h);
    assert_eq!(l.order[1..3], [u1, u2]);
    assert_eq!(l.not_taken, vec![u3]);
}

#[test]
fn forgotten_ops_are_not_checked() {
    let mut h = History::new();
    let bad = seq(&mut h, 0, Op::get("a"), got(9, kv("nope", 9, 9, 9)));
    h.forget(bad);
    assert_eq!(h.len(), 0);
    assert_ok(&h);
}

#[test]
fn equal_times_count_as_concurrent() {
    let mut h = History::new();
    let r = h.invoke_at(0, 0, Op::get("a"));
    h.complete_at(5, r, got(2, kv("1", 2, 2, 1)));
    let w = h.invoke_at(5, 1, Op::put("a", "1"));
    h.complete_at(6, w, put(2));
    assert_ok(&h);
}

#[test]
fn a_tiny_budget_is_inconclusive_not_a_verdict() {
    let mut h = History::new();
    for i in 0..50 {
        seq(&mut h, 0, Op::put("a", i.to_string()), put(i + 2));
    }
    match check_with(&h, Limits { max_steps: 10, max_time: None }) {
        Err(CheckError::Inconclusive { .. }) => {}
        other => panic!("expected inconclusive, got {other:?}"),
    }
}

#[test]
fn recorder_from_threads_records_a_linearizable_history() {
    use std::sync::{Arc, Mutex};
    // A correct store: one lock, revisions as etcd counts them.
    let store = Arc::new(Mutex::new((1i64, std::collections::HashMap::<String, KeyValue>::new())));
    let rec = Arc::new(Recorder::new());
    let threads: Vec<_> = (0..4u32)
        .map(|c| {
            let (store, rec) = (store.clone(), rec.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    let key = format!("k{}", i % 3);
                    if i % 2 == 0 {
                        let id = rec.invoke(c, Op::put(&key, format!("{c}-{i}")));
                        let mut s = store.lock().unwrap();
                        s.0 += 1;
                        let rev = s.0;
                        let e = s.1.entry(key).or_insert(KeyValue {
                            value: vec![],
                            create_revision: rev,
                            mod_revision: 0,
                            version: 0,
                        });
                        *e = KeyValue {
                            value: format!("{c}-{i}").into(),
                            mod_revision: rev,
                            version: e.version + 1,
                            ..e.clone()
                        };
                        drop(s);
                        rec.complete(id, put(rev));
                    } else {
                        let id = rec.invoke(c, Op::get(&key));
                        let s = store.lock().unwrap();
                        let ret = got(s.0, s.1.get(&key).cloned());
                        drop(s);
                        rec.complete(id, ret);
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let h = Arc::try_unwrap(rec).ok().unwrap().into_history();
    assert_eq!(h.len(), 800);
    assert_eq!(assert_ok(&h).final_revision, 401);
}

#[test]
fn violation_report_names_the_prefix_and_the_blocked_ops() {
    let mut h = History::new();
    seq(&mut h, 0, Op::put("k", "1"), put(2));
    seq(&mut h, 0, Op::put("k", "2"), put(3));
    let stale = seq(&mut h, 1, Op::get("k"), got(3, kv("1", 2, 2, 1)));
    let v = assert_violation(&h);
    assert_eq!(v.longest_prefix, vec![OpId(0), OpId(1)]);
    assert_eq!(v.blocked, vec![stale]);
    let text = v.to_string();
    for needle in
        ["longest linearizable prefix: 2 operations", "\"k\" = \"2\" (create 2, mod 3, version 2)", "#2", "get \"k\""]
    {
        assert!(text.contains(needle), "report lacks {needle:?}:\n{text}");
    }
}

/// What a drill produces around partitions: writes to a probe key time out but take
/// effect, writes to a cut-off member's key time out and never do, and neither key is read
/// until the end. Every revision gap has many plausible fillers; only the final reads tell
/// them apart, so a naive search explores the combinations.
#[test]
fn gaps_whose_fillers_only_the_final_reads_tell_apart_check_quickly() {
    let mut h = History::new();
    let mut rev = 1;
    for i in 0..40 {
        h.invoke(1, Op::put("isolated", format!("i{i}"))); // never took effect
        h.invoke(2, Op::put("probe", format!("p{i}"))); // took effect, at the next revision
        rev += 2;
        seq(&mut h, 0, Op::put("k", format!("w{i}")), put(rev));
    }
    seq(&mut h, 0, Op::get("probe"), got(rev, kv("p39", 2, rev - 1, 40)));
    seq(&mut h, 0, Op::get("isolated"), got(rev, None));
    let start = std::time::Instant::now();
    let l = check_with(&h, Limits { max_steps: 2_000_000, max_time: None }).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.not_taken.len(), 40);
    assert!(start.elapsed() < std::time::Duration::from_secs(1), "took {:?}", start.elapsed());
}
