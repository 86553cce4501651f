//! Readable reports: how operations print, and the explanation of a violation.

use std::collections::HashMap;
use std::fmt::{self, Write};

use crate::facts::Facts;
use crate::model::{Prepared, Resp, State, matches};
use crate::search::Violation;
use crate::{Compare, CompareResult, CompareTarget, History, KeyValue, Op, Ret, TxnOp, TxnResult};

/// Bytes as a quoted string when printable UTF-8, else hex.
struct B<'a>(&'a [u8]);

impl fmt::Display for B<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => write!(f, "{s:?}"),
            _ => {
                f.write_str("0x")?;
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Display for TxnOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnOp::Put { key, value } => write!(f, "put {}={}", B(key), B(value)),
            TxnOp::Get { key } => write!(f, "get {}", B(key)),
            TxnOp::Delete { key } => write!(f, "delete {}", B(key)),
        }
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.result {
            CompareResult::Equal => "==",
            CompareResult::NotEqual => "!=",
            CompareResult::Less => "<",
            CompareResult::Greater => ">",
        };
        match &self.target {
            CompareTarget::Value(v) => write!(f, "value({}) {op} {}", B(&self.key), B(v)),
            CompareTarget::Version(n) => write!(f, "version({}) {op} {n}", B(&self.key)),
            CompareTarget::CreateRevision(n) => write!(f, "create({}) {op} {n}", B(&self.key)),
            CompareTarget::ModRevision(n) => write!(f, "mod({}) {op} {n}", B(&self.key)),
        }
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { key, value } => write!(f, "put {}={}", B(key), B(value)),
            Op::Get { key } => write!(f, "get {}", B(key)),
            Op::Delete { key } => write!(f, "delete {}", B(key)),
            Op::Txn(t) => {
                write!(f, "txn if [{}] then [{}] else [{}]", list(&t.compare), list(&t.success), list(&t.failure))
            }
        }
    }
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (create {}, mod {}, version {})",
            B(&self.value),
            self.create_revision,
            self.mod_revision,
            self.version
        )
    }
}

fn kv(kv: &Option<KeyValue>) -> String {
    kv.as_ref().map_or("<absent>".to_string(), |kv| kv.to_string())
}

impl fmt::Display for TxnResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnResult::Put => f.write_str("put ok"),
            TxnResult::Get(x) => f.write_str(&kv(x)),
            TxnResult::Delete { deleted } => write!(f, "deleted {deleted}"),
        }
    }
}

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ret::Put { revision } => write!(f, "rev {revision}"),
            Ret::Get { revision, kv: x } => write!(f, "rev {revision}, {}", kv(x)),
            Ret::Delete { revision, deleted } => write!(f, "rev {revision}, deleted {deleted}"),
            Ret::Txn { revision, succeeded, results } => {
                write!(f, "rev {revision}, {} [{}]", if *succeeded { "succeeded" } else { "failed" }, list(results))
            }
        }
    }
}

/// One line for an operation: id, client, request, response, interval.
fn line(h: &History, id: crate::OpId) -> String {
    let Some(o) = h.get(id) else { return format!("{id} <forgotten>") };
    match &o.ret {
        Some((t, r)) => {
            format!("{id:<6} c{:<3} {}  ->  {r}   [{} .. {}]", o.client, o.op, h.format_time(o.call), h.format_time(*t))
        }
        None => format!("{id:<6} c{:<3} {}  ->  (outcome unknown)   [{} .. ]", o.client, o.op, h.format_time(o.call)),
    }
}

/// Two completed writes reporting the same revision: no order explains both.
pub(crate) fn duplicate_revisions(h: &History, p: &Prepared) -> Option<Violation> {
    let mut seen = HashMap::new();
    for (i, ret) in p.rets.iter().enumerate() {
        let Some(ret) = ret.as_ref().filter(|r| r.changed()) else { continue };
        if let Some(&j) = seen.get(&ret.revision) {
            let (a, b) = (p.ids[j], p.ids[i]);
            let report = format!(
                "history is not linearizable: two operations report changing the store to revision {}:\n  {}\n  {}\n",
                ret.revision,
                line(h, a),
                line(h, b)
            );
            return Some(Violation { longest_prefix: Vec::new(), blocked: vec![a, b], report });
        }
        seen.insert(ret.revision, i);
    }
    None
}

const SHOWN: usize = 12;

/// Explains why nothing could follow `prefix` (indices into `p.ops`), the longest
/// linearizable prefix the search found.
pub(crate) fn violation(h: &History, p: &Prepared, prefix: &[u32]) -> Violation {
    let n = p.ops.len();
    let mut state = State::new(p.keys.names.len());
    let (mut undo, mut resp) = (Vec::new(), Resp::default());
    let mut done = vec![false; n];
    let mut revs = Vec::new();
    for &i in prefix {
        state.apply(&p.ops[i as usize], &p.values.names, &mut undo, &mut resp);
        done[i as usize] = true;
        revs.push(state.rev);
    }
    let unknown = p.rets.iter().filter(|r| r.is_none()).count() + p.dropped.len();
    let clients: std::collections::BTreeSet<u32> = h.ops().map(|(_, o)| o.client).collect();
    let mut out = format!(
        "history is not linearizable: {} operations ({unknown} with unknown outcome) from {} clients\n",
        h.len(),
        clients.len()
    );
    let _ = writeln!(
        out,
        "longest linearizable prefix: {} operations, ending at revision {}{}",
        prefix.len(),
        state.rev,
        if prefix.is_empty() { "" } else { "; its last ones:" }
    );
    for (k, &i) in prefix.iter().enumerate().skip(prefix.len().saturating_sub(SHOWN)) {
        let _ = writeln!(out, "  {}   (store at rev {})", line(h, p.ids[i as usize]), revs[k]);
    }
    let _ = writeln!(out, "store after that prefix (revision {}):", state.rev);
    let mut present = 0;
    for (k, x) in state.keys.iter().enumerate() {
        if let Some(kv) = p.key_value(*x) {
            present += 1;
            if present <= 3 * SHOWN {
                let _ = writeln!(out, "  {} = {kv}", B(&p.keys.names[k]));
            }
        }
    }
    if present > 3 * SHOWN {
        let _ = writeln!(out, "  ... and {} more keys", present - 3 * SHOWN);
    }

    // The candidates after the prefix: invoked before the first response still pending.
    let first_ret = (0..n).filter(|&i| !done[i] && p.rets[i].is_some()).map(|i| p.returns[i]).min().unwrap_or(u64::MAX);
    let mut blocked: Vec<usize> = (0..n).filter(|&i| !done[i] && p.calls[i] <= first_ret).collect();
    blocked.sort_by_key(|&i| (p.rets[i].is_none(), p.calls[i]));
    let _ = writeln!(
        out,
        "none of these can be linearized next ({} invoked before the first pending response, at {}):",
        blocked.len(),
        h.format_time(first_ret)
    );
    let claimed: HashMap<i64, usize> =
        (0..n).filter_map(|i| p.rets[i].as_ref().filter(|r| r.changed()).map(|r| (r.revision, i))).collect();
    let max_rev = p.rets.iter().flatten().map(|r| r.revision).max().unwrap_or(1);
    let facts = Facts::new(p, &claimed.keys().copied().collect(), max_rev);
    for &i in blocked.iter().take(SHOWN) {
        let _ = writeln!(out, "  {}", line(h, p.ids[i]));
        let mut s = state.clone();
        let mark = undo.len();
        let changed = s.apply(&p.ops[i], &p.values.names, &mut undo, &mut resp);
        let contradicted = undo[mark..].iter().find(|&&(k, _)| !facts.consistent(k, s.keys[k as usize], s.rev, &done));
        let why = match &p.rets[i] {
            Some(ret) if matches(ret, &resp) => {
                "the model accepts it here, but no continuation after it works".to_string()
            }
            Some(ret) if ret.pre_revision() != state.rev => format!(
                "its response needs the store at revision {} before it; the prefix ends at {}; the model would answer: {}",
                ret.pre_revision(),
                state.rev,
                p.response(&p.ops[i], &resp)
            ),
            Some(_) => format!("the model would answer: {}", p.response(&p.ops[i], &resp)),
            None if !changed => "taking effect here would change nothing".to_string(),
            None => match claimed.get(&s.rev) {
                Some(&j) => format!("taking effect here would make revision {}, which {} reports", s.rev, p.ids[j]),
                None if s.rev > max_rev => {
                    format!("taking effect here would make revision {}, beyond every reported revision", s.rev)
                }
                None if !facts.made_here(s.rev, &s.keys) => format!(
                    "taking effect here (revision {}) contradicts a later response showing what revision {} wrote",
                    s.rev, s.rev
                ),
                None if contradicted.is_some() => format!(
                    "taking effect here (revision {}) contradicts a later response showing {}",
                    s.rev,
                    B(&p.keys.names[contradicted.map_or(0, |c| c.0) as usize])
                ),
                None => format!("could take effect here (revision {}), but no continuation after it works", s.rev),
            },
        };
        let _ = writeln!(out, "         {why}");
    }
    if blocked.len() > SHOWN {
        let _ = writeln!(out, "  ... and {} more", blocked.len() - SHOWN);
    }
    Violation {
        longest_prefix: prefix.iter().map(|&i| p.ids[i as usize]).collect(),
        blocked: blocked.iter().map(|&i| p.ids[i]).collect(),
        report: out,
    }
}
