//! A plain-text form of a history, so that one recorded by a failing drill can be kept as a
//! regression fixture and checked again offline. One operation a line:
//!
//! ```text
//! <call> <return time or -> <client> <op> [=> <response>]
//! ```
//!
//! Keys and values are hex with an `x` prefix (`x6b31` is "k1", `x` is empty). Ops:
//! `put K V`, `get K`, `del K`, `txn <n> <compare>... <n> <req>... <n> <req>...` with
//! compares `K <= | != | < | >> <value V | version N | create N | mod N>`. Responses: `put
//! REV`, `get REV <none | some V CREATE MOD VERSION>`, `del REV N`, `txn REV <ok | fail> <n>
//! <put | get <kv> | del N>...`. Lines starting with `#` are comments.

use std::fmt::Write;

use crate::{Compare, CompareResult, CompareTarget, History, KeyValue, Op, Ret, TxnOp, TxnResult};

fn hex(out: &mut String, b: &[u8]) {
    out.push('x');
    for x in b {
        let _ = write!(out, "{x:02x}");
    }
}

fn req(out: &mut String, r: &TxnOp) {
    match r {
        TxnOp::Put { key, value } => {
            out.push_str(" put ");
            hex(out, key);
            out.push(' ');
            hex(out, value);
        }
        TxnOp::Get { key } => {
            out.push_str(" get ");
            hex(out, key);
        }
        TxnOp::Delete { key } => {
            out.push_str(" del ");
            hex(out, key);
        }
    }
}

fn kv(out: &mut String, kv: &Option<KeyValue>) {
    match kv {
        None => out.push_str(" none"),
        Some(kv) => {
            out.push_str(" some ");
            hex(out, &kv.value);
            let _ = write!(out, " {} {} {}", kv.create_revision, kv.mod_revision, kv.version);
        }
    }
}

impl History {
    /// The history in the text form described in this module; [`History::from_text`]
    /// reads it back (forgotten operations are left out).
    pub fn to_text(&self) -> String {
        let mut out = String::from("# lincheck history v1: call return client op => response\n");
        for (_, o) in self.ops() {
            let _ = write!(out, "{} ", o.call);
            match &o.ret {
                Some((t, _)) => {
                    let _ = write!(out, "{t}");
                }
                None => out.push('-'),
            }
            let _ = write!(out, " {}", o.client);
            match &o.op {
                Op::Put { key, value } => req(&mut out, &TxnOp::Put { key: key.clone(), value: value.clone() }),
                Op::Get { key } => req(&mut out, &TxnOp::Get { key: key.clone() }),
                Op::Delete { key } => req(&mut out, &TxnOp::Delete { key: key.clone() }),
                Op::Txn(t) => {
                    let _ = write!(out, " txn {}", t.compare.len());
                    for c in &t.compare {
                        out.push(' ');
                        hex(&mut out, &c.key);
                        out.push_str(match c.result {
                            CompareResult::Equal => " =",
                            CompareResult::NotEqual => " !=",
                            CompareResult::Less => " <",
                            CompareResult::Greater => " >",
                        });
                        match &c.target {
                            CompareTarget::Value(v) => {
                                out.push_str(" value ");
                                hex(&mut out, v);
                            }
                            CompareTarget::Version(n) => drop(write!(out, " version {n}")),
                            CompareTarget::CreateRevision(n) => drop(write!(out, " create {n}")),
                            CompareTarget::ModRevision(n) => drop(write!(out, " mod {n}")),
                        }
                    }
                    for branch in [&t.success, &t.failure] {
                        let _ = write!(out, " {}", branch.len());
                        branch.iter().for_each(|r| req(&mut out, r));
                    }
                }
            }
            if let Some((_, r)) = &o.ret {
                out.push_str(" =>");
                match r {
                    Ret::Put { revision } => drop(write!(out, " put {revision}")),
                    Ret::Get { revision, kv: x } => {
                        let _ = write!(out, " get {revision}");
                        kv(&mut out, x);
                    }
                    Ret::Delete { revision, deleted } => drop(write!(out, " del {revision} {deleted}")),
                    Ret::Txn { revision, succeeded, results } => {
                        let _ =
                            write!(out, " txn {revision} {} {}", if *succeeded { "ok" } else { "fail" }, results.len());
                        for x in results {
                            match x {
                                TxnResult::Put => out.push_str(" put"),
                                TxnResult::Get(x) => {
                                    out.push_str(" get");
                                    kv(&mut out, x);
                                }
                                TxnResult::Delete { deleted } => drop(write!(out, " del {deleted}")),
                            }
                        }
                    }
                }
            }
            out.push('\n');
        }
        if self.nanos {
            out.push_str("# times: nanoseconds\n");
        }
        out
    }

    /// Reads the text form back; the error names the line that does not parse.
    pub fn from_text(text: &str) -> Result<History, String> {
        let mut h = History::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim() == "# times: nanoseconds" {
                h.nanos = true;
            }
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            parse_line(&mut h, line).map_err(|e| format!("line {}: {e}: {line}", n + 1))?;
        }
        Ok(h)
    }
}

struct Tokens<'a>(std::str::SplitWhitespace<'a>);

impl Tokens<'_> {
    fn word(&mut self) -> Result<&str, String> {
        self.0.next().ok_or_else(|| "unexpected end of line".to_string())
    }
    fn num<T: std::str::FromStr>(&mut self) -> Result<T, String> {
        let w = self.word()?;
        w.parse().map_err(|_| format!("not a number: {w:?}"))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let w = self.word()?;
        let h = w.strip_prefix('x').ok_or_else(|| format!("not x-prefixed hex: {w:?}"))?;
        if h.len() % 2 != 0 {
            return Err(format!("odd hex length: {w:?}"));
        }
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).map_err(|_| format!("bad hex: {w:?}")))
            .collect()
    }
    fn req(&mut self) -> Result<TxnOp, String> {
        Ok(match self.word()? {
            "put" => TxnOp::Put { key: self.bytes()?, value: self.bytes()? },
            "get" => TxnOp::Get { key: self.bytes()? },
            "del" => TxnOp::Delete { key: self.bytes()? },
            w => return Err(format!("unknown request {w:?}")),
        })
    }
    fn kv(&mut self) -> Result<Option<KeyValue>, String> {
        Ok(match self.word()? {
            "none" => None,
            "some" => Some(KeyValue {
                value: self.bytes()?,
                create_revision: self.num()?,
                mod_revision: self.num()?,
                version: self.num()?,
            }),
            w => return Err(format!("expected none or some, got {w:?}")),
        })
    }
}

fn parse_line(h: &mut History, line: &str) -> Result<(), String> {
    let mut t = Tokens(line.split_whitespace());
    let call: u64 = t.num()?;
    let ret_at: Option<u64> = match t.word()? {
        "-" => None,
        w => Some(w.parse().map_err(|_| format!("not a time: {w:?}"))?),
    };
    let client: u32 = t.num()?;
    let op = match t.word()? {
        "txn" => {
            let n: usize = t.num()?;
            let mut compare = Vec::with_capacity(n);
            for _ in 0..n {
                let key = t.bytes()?;
                let result = match t.word()? {
                    "=" => CompareResult::Equal,
                    "!=" => CompareResult::NotEqual,
                    "<" => CompareResult::Less,
                    ">" => CompareResult::Greater,
                    w => return Err(format!("unknown compare {w:?}")),
                };
                let target = match t.word()? {
                    "value" => CompareTarget::Value(t.bytes()?),
                    "version" => CompareTarget::Version(t.num()?),
                    "create" => CompareTarget::CreateRevision(t.num()?),
                    "mod" => CompareTarget::ModRevision(t.num()?),
                    w => return Err(format!("unknown compare target {w:?}")),
                };
                compare.push(Compare { key, result, target });
            }
            let mut branches = [Vec::new(), Vec::new()];
            for b in &mut branches {
                let n: usize = t.num()?;
                for _ in 0..n {
                    b.push(t.req()?);
                }
            }
            let [success, failure] = branches;
            Op::txn(compare, success, failure)
        }
        w => {
            let r = match w {
                "put" => TxnOp::Put { key: t.bytes()?, value: t.bytes()? },
                "get" => TxnOp::Get { key: t.bytes()? },
                "del" => TxnOp::Delete { key: t.bytes()? },
                w => return Err(format!("unknown op {w:?}")),
            };
            match r {
                TxnOp::Put { key, value } => Op::Put { key, value },
                TxnOp::Get { key } => Op::Get { key },
                TxnOp::Delete { key } => Op::Delete { key },
            }
        }
    };
    let ret = match (ret_at, t.0.next()) {
        (None, None) => None,
        (Some(at), Some("=>")) => {
            let ret = match t.word()? {
                "put" => Ret::Put { revision: t.num()? },
                "get" => Ret::Get { revision: t.num()?, kv: t.kv()? },
                "del" => Ret::Delete { revision: t.num()?, deleted: t.num()? },
                "txn" => {
                    let revision = t.num()?;
                    let succeeded = match t.word()? {
                        "ok" => true,
                        "fail" => false,
                        w => return Err(format!("expected ok or fail, got {w:?}")),
                    };
                    let n: usize = t.num()?;
                    let mut results = Vec::with_capacity(n);
                    for _ in 0..n {
                        results.push(match t.word()? {
                            "put" => TxnResult::Put,
                            "get" => TxnResult::Get(t.kv()?),
                            "del" => TxnResult::Delete { deleted: t.num()? },
                            w => return Err(format!("unknown txn result {w:?}")),
                        });
                    }
                    Ret::Txn { revision, succeeded, results }
                }
                w => return Err(format!("unknown response {w:?}")),
            };
            Some((at, ret))
        }
        _ => return Err("a response needs a return time, and a return time a response".into()),
    };
    if let Some(w) = t.0.next() {
        return Err(format!("trailing {w:?}"));
    }
    let id = h.invoke_at(call, client, op);
    if let Some((at, ret)) = ret {
        if !ret.fits(&h.get(id).expect("just invoked").op) || at < call {
            return Err("response does not fit its operation or precedes it".into());
        }
        h.complete_at(at, id, ret);
    }
    Ok(())
}
