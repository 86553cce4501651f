//! etcdctl compatibility: every test runs one script of real `etcdctl` (v3 API)
//! commands against a fresh real etcd member and a fresh `store` member, normalizes
//! what legitimately differs between two members (ids, Raft term and index, lease ids,
//! hashes, sizes, versions, timings) and asserts that stdout, stderr and exit codes are
//! the same, command by command.
//!
//! The reference run must also behave as scripted (`.ok()`, `.fails(..)`, `.out(..)`),
//! so a script that silently does nothing (both members unreachable, a typo in a flag)
//! fails instead of comparing two identical error messages.
//!
//! Develop with `STORE_BIN=/usr/bin/etcd`: etcd against etcd must be green. Set
//! `ETCDCTL_TEST_DUMP=1` (with `--nocapture`) to print every normalized reference outcome.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Impl, Member};

// ---------------------------------------------------------------------------------
// Scripts

enum Action {
    /// Run `etcdctl <args>` to completion, optionally feeding stdin.
    Ctl {
        args: Vec<String>,
        stdin: Option<Vec<u8>>,
    },
    /// Start `etcdctl <args>` in the background under a name.
    Spawn {
        name: &'static str,
        args: Vec<String>,
    },
    /// Wait, then stop the named background command and record what it printed.
    Stop {
        name: &'static str,
        after: Duration,
    },
    Sleep(Duration),
}

#[derive(Default)]
struct Expect {
    /// `Some(true)`: exit code 0; `Some(false)`: non-zero.
    success: Option<bool>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

struct Step {
    /// What the diff shows: the command as scripted, before variable substitution.
    label: String,
    action: Action,
    /// Name of a variable that receives the first lease id printed by this step.
    capture: Option<&'static str>,
    expect: Expect,
}

/// A sequence of etcdctl commands. Arguments may use `$TMP` (a per-run scratch
/// directory) and variables captured from earlier output (`$L1`).
#[derive(Default)]
struct Script {
    steps: Vec<Step>,
}

/// Splits on whitespace; `''` stands for an empty argument.
fn words(cmd: &str) -> Vec<String> {
    cmd.split_whitespace().map(|w| if w == "''" { String::new() } else { w.to_string() }).collect()
}

impl Script {
    fn new() -> Script {
        Script::default()
    }

    fn push(mut self, label: String, action: Action) -> Script {
        self.steps.push(Step { label, action, capture: None, expect: Expect::default() });
        self
    }

    /// `etcdctl` with whitespace-separated arguments.
    fn ctl(self, cmd: &str) -> Script {
        self.ctl_args(&words(cmd))
    }

    /// `etcdctl` with explicit arguments (for empty or spaced arguments).
    fn ctl_args<S: AsRef<str>>(self, args: &[S]) -> Script {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let label =
            args.iter().map(|a| if a.is_empty() { "''".to_string() } else { a.clone() }).collect::<Vec<_>>().join(" ");
        self.push(label, Action::Ctl { args, stdin: None })
    }

    /// Feeds `input` to the previous command's stdin.
    fn stdin(mut self, input: impl Into<Vec<u8>>) -> Script {
        let input = input.into();
        let step = self.steps.last_mut().expect("stdin() after a command");
        match &mut step.action {
            Action::Ctl { stdin, .. } => {
                let shown = if input.len() > 200 {
                    format!("<{} bytes>", input.len())
                } else {
                    String::from_utf8_lossy(&input).replace('\n', "\\n")
                };
                step.label.push_str(&format!(" <<< \"{shown}\""));
                *stdin = Some(input);
            }
            _ => panic!("stdin() only applies to ctl()"),
        }
        self
    }

    fn spawn(self, name: &'static str, cmd: &str) -> Script {
        self.push(format!("[{name}, background] {cmd}"), Action::Spawn { name, args: words(cmd) })
    }

    fn stop(self, name: &'static str, after_ms: u64) -> Script {
        self.push(
            format!("[{name}] output after {after_ms} ms"),
            Action::Stop { name, after: Duration::from_millis(after_ms) },
        )
    }

    fn sleep_ms(self, ms: u64) -> Script {
        self.push(format!("sleep {ms} ms"), Action::Sleep(Duration::from_millis(ms)))
    }

    fn last(&mut self) -> &mut Step {
        self.steps.last_mut().expect("a step to qualify")
    }

    /// The reference run must exit 0.
    fn ok(mut self) -> Script {
        self.last().expect.success = Some(true);
        self
    }

    /// The reference run must exit non-zero with `text` in stderr.
    fn fails(mut self, text: &str) -> Script {
        let e = &mut self.last().expect;
        e.success = Some(false);
        e.stderr.push(text.to_string());
        self
    }

    /// The reference run's (normalized) stderr must contain `text`.
    fn err(mut self, text: &str) -> Script {
        self.last().expect.stderr.push(text.to_string());
        self
    }

    /// The reference run's (normalized) stdout must contain `text`.
    fn out(mut self, text: &str) -> Script {
        self.last().expect.stdout.push(text.to_string());
        self
    }

    /// The reference run's (normalized) stdout must not contain `text`.
    fn out_lacks(mut self, text: &str) -> Script {
        self.last().expect.stdout.push(format!("!{text}"));
        self
    }

    /// Stores the first lease id the step prints in `$<var>`.
    fn capture_lease(mut self, var: &'static str) -> Script {
        self.last().capture = Some(var);
        self
    }
}

// ---------------------------------------------------------------------------------
// Running

#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    /// `exit N`, `killed` (stopped by the script) or `signal`.
    status: String,
}

/// What is specific to one member and gets replaced by a placeholder in all output.
struct Ctx {
    substitutions: Vec<(String, &'static str)>,
}

impl Ctx {
    fn new(m: &Member, tmp: &Path) -> Ctx {
        let status = m.etcdctl().args(["endpoint", "status", "-w", "json"]).output().expect("run etcdctl");
        let json = String::from_utf8_lossy(&status.stdout);
        let number = |key: &str| -> u64 {
            let v = json_value(&json, &format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}"));
            v.parse().unwrap_or_else(|_| panic!("{key} = {v:?} in {json}"))
        };
        let (member, cluster) = (number("member_id"), number("cluster_id"));
        let mut substitutions = vec![
            (tmp.display().to_string(), "<tmp>"),
            (m.endpoint(), "<client-url>"),
            (m.peer_endpoint(), "<peer-url>"),
            (format!("127.0.0.1:{}", m.client_port), "<client-addr>"),
        ];
        for (id, name) in [(member, "<member_id>"), (cluster, "<cluster_id>")] {
            substitutions.push((id.to_string(), name));
            substitutions.push((format!("{id:016x}"), name));
            substitutions.push((format!("{id:x}"), name));
        }
        Ctx { substitutions }
    }
}

fn exit_status(s: std::process::ExitStatus) -> String {
    match s.code() {
        Some(c) => format!("exit {c}"),
        None => "signal".into(),
    }
}

fn substitute(args: &[String], vars: &HashMap<&str, String>, tmp: &Path) -> Vec<String> {
    args.iter()
        .map(|a| {
            let mut a = a.replace("$TMP", &tmp.display().to_string());
            for (k, v) in vars {
                a = a.replace(&format!("${k}"), v);
            }
            a
        })
        .collect()
}

fn first_lease_id(stdout: &str) -> Option<String> {
    stdout.split_whitespace().find(|w| w.len() == 16 && w.chars().all(|c| c.is_ascii_hexdigit())).map(str::to_string)
}

/// Starts a fresh member of `which`, runs the script on it and returns one normalized
/// outcome per step.
fn run_script(which: Impl, script: &Script) -> Vec<Outcome> {
    let member = Member::start(which, &[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let ctx = Ctx::new(&member, tmp.path());
    let mut vars: HashMap<&str, String> = HashMap::new();
    let mut background: HashMap<&str, Child> = HashMap::new();
    let mut leases = LeaseIds::default();
    let mut outcomes = Vec::new();
    for step in &script.steps {
        let (raw, args) = match &step.action {
            Action::Ctl { args, stdin } => {
                let args = substitute(args, &vars, tmp.path());
                let mut cmd = member.etcdctl();
                cmd.args(&args).stdout(Stdio::piped()).stderr(Stdio::piped());
                cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
                let mut child = cmd.spawn().expect("spawn etcdctl");
                if let Some(input) = stdin {
                    let mut pipe = child.stdin.take().expect("stdin pipe");
                    // etcdctl may exit before reading everything (e.g. a parse error).
                    let _ = pipe.write_all(input);
                }
                let out = child.wait_with_output().expect("wait for etcdctl");
                let o = Outcome {
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    status: exit_status(out.status),
                };
                (o, args)
            }
            Action::Spawn { name, args } => {
                let args = substitute(args, &vars, tmp.path());
                let child = member
                    .etcdctl()
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn etcdctl");
                background.insert(name, child);
                (Outcome { stdout: String::new(), stderr: String::new(), status: "started".into() }, args)
            }
            Action::Stop { name, after } => {
                std::thread::sleep(*after);
                let mut child = background.remove(name).unwrap_or_else(|| panic!("no background command {name}"));
                let status = match child.try_wait().expect("try_wait") {
                    Some(s) => exit_status(s),
                    None => {
                        child.kill().expect("kill etcdctl");
                        "killed".to_string()
                    }
                };
                let out = child.wait_with_output().expect("collect etcdctl output");
                let o = Outcome {
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    status,
                };
                (o, Vec::new())
            }
            Action::Sleep(d) => {
                std::thread::sleep(*d);
                (Outcome { stdout: String::new(), stderr: String::new(), status: "slept".into() }, Vec::new())
            }
        };
        if let Some(var) = step.capture {
            let id =
                first_lease_id(&raw.stdout).unwrap_or_else(|| panic!("{which:?}: no lease id in {:?}", raw.stdout));
            vars.insert(var, id);
        }
        outcomes.push(Outcome {
            stdout: normalize(&raw.stdout, &ctx, &args, &mut leases),
            stderr: normalize(&raw.stderr, &ctx, &args, &mut leases),
            status: raw.status,
        });
    }
    for (_, mut child) in background {
        let _ = child.kill();
        let _ = child.wait();
    }
    outcomes
}

/// Runs `script` on a real etcd and on the store (concurrently, each on its own fresh
/// member) and returns the normalized outcomes, reference first.
fn run_both(script: &Script) -> (Vec<Outcome>, Vec<Outcome>) {
    std::thread::scope(|s| {
        let etcd = s.spawn(|| run_script(Impl::Etcd, script));
        let store = s.spawn(|| run_script(Impl::Store, script));
        let etcd = etcd.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        let store = store.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (etcd, store)
    })
}

/// Checks the script's expectations on the reference run, then that the store's
/// outcomes equal etcd's step by step; panics with a readable report otherwise.
fn check(script: Script) {
    let (etcd, store) = run_both(&script);
    if std::env::var_os("ETCDCTL_TEST_DUMP").is_some() {
        for (step, o) in script.steps.iter().zip(&etcd) {
            eprintln!("$ {}\n{}", step.label, show(o));
        }
    }
    let mut report = String::new();
    for (i, step) in script.steps.iter().enumerate() {
        let wrong = unmet(&step.expect, &etcd[i]);
        if !wrong.is_empty() {
            report.push_str(&format!(
                "\n#{i} `{}`: reference etcd did not behave as scripted: {}\n{}",
                step.label,
                wrong.join("; "),
                show(&etcd[i])
            ));
        }
    }
    for (i, step) in script.steps.iter().enumerate() {
        let (e, s) = (&etcd[i], &store[i]);
        if e == s {
            continue;
        }
        report.push_str(&format!("\n#{i} `{}` differs (- etcd, + store):\n", step.label));
        if e.status != s.status {
            report.push_str(&format!("  status: - {}\n          + {}\n", e.status, s.status));
        }
        for (what, a, b) in [("stdout", &e.stdout, &s.stdout), ("stderr", &e.stderr, &s.stderr)] {
            if a != b {
                report.push_str(&format!("  {what}:\n{}", line_diff(a, b)));
            }
        }
    }
    if !report.is_empty() {
        panic!("etcdctl compatibility failures:{report}");
    }
}

fn unmet(expect: &Expect, o: &Outcome) -> Vec<String> {
    let mut wrong = Vec::new();
    match expect.success {
        Some(true) if o.status != "exit 0" => wrong.push("expected exit 0".to_string()),
        Some(false) if o.status == "exit 0" => wrong.push("expected a failure".to_string()),
        _ => {}
    }
    for t in &expect.stdout {
        match t.strip_prefix('!') {
            Some(t) if o.stdout.contains(t) => wrong.push(format!("stdout contains {t:?}")),
            None if !o.stdout.contains(t.as_str()) => wrong.push(format!("stdout lacks {t:?}")),
            _ => {}
        }
    }
    for t in &expect.stderr {
        if !o.stderr.contains(t.as_str()) {
            wrong.push(format!("stderr lacks {t:?}"));
        }
    }
    wrong
}

fn show(o: &Outcome) -> String {
    format!("  status: {}\n  stdout: {:?}\n  stderr: {:?}\n", o.status, clip(&o.stdout), clip(&o.stderr))
}

/// Keeps reports readable when a step prints a megabyte-sized value.
fn clip(s: &str) -> String {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...<{} more bytes>", &s[..at], s.len() - at),
        None => s.to_string(),
    }
}

/// A minimal LCS line diff; outputs here are a few dozen lines.
fn line_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("      {}\n", clip(a[i])));
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("    + {}\n", clip(b[j])));
            j += 1;
        } else {
            out.push_str(&format!("    - {}\n", clip(a[i])));
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Normalization

/// Maps each distinct lease id to `<lease#N>` in order of first appearance, whether it
/// is printed in hex (simple output) or decimal (JSON).
#[derive(Default)]
struct LeaseIds {
    seen: HashMap<u64, usize>,
}

impl LeaseIds {
    fn name(&mut self, id: u64) -> String {
        let next = self.seen.len() + 1;
        format!("<lease#{}>", self.seen.entry(id).or_insert(next))
    }
}

/// The value following `key` (a JSON `"key":` or fields-format `"Key" : ` prefix):
/// a quoted string with its quotes, or a bare token.
fn json_value(s: &str, key: &str) -> Option<String> {
    let start = s.find(key)? + key.len();
    Some(value_at(&s[start..]).to_string())
}

fn value_at(rest: &str) -> &str {
    if let Some(body) = rest.strip_prefix('"') {
        let end = body.find('"').map_or(rest.len(), |e| e + 2);
        &rest[..end]
    } else {
        let end = rest.find([',', '}', ']', '\n', ' ']).unwrap_or(rest.len());
        &rest[..end]
    }
}

/// Replaces the value after every occurrence of `key` with whatever `f` returns.
fn replace_values(s: &str, key: &str, mut f: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(key) {
        let after = pos + key.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let v = value_at(rest);
        match f(v) {
            Some(new) => out.push_str(&new),
            None => out.push_str(v),
        }
        rest = &rest[v.len()..];
    }
    out.push_str(rest);
    out
}

fn placeholder(s: &str, key: &str, name: &str) -> String {
    replace_values(s, key, |_| Some(format!("<{name}>")))
}

/// Replaces only quoted (string) values, e.g. the server `"version":"3.4.23"` but not a
/// key's `"version":2`.
fn placeholder_str(s: &str, key: &str, name: &str) -> String {
    replace_values(s, key, |v| v.starts_with('"').then(|| format!("<{name}>")))
}

/// Rewrites, with `f`, each stretch between `open` and the next `close`.
fn map_between(s: &str, open: &str, close: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find(open) {
        out.push_str(&rest[..pos + open.len()]);
        rest = &rest[pos + open.len()..];
        let end = rest.find(close).unwrap_or(rest.len());
        out.push_str(&f(&rest[..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces what lies between `open` and the next `close`.
fn placeholder_between(s: &str, open: &str, close: &str, name: &str) -> String {
    map_between(s, open, close, |_| format!("<{name}>"))
}

/// Sorts the `sep`-separated items between `open` and the next `close`.
fn sort_list(s: &str, open: &str, close: &str, sep: &str) -> String {
    map_between(s, open, close, |inner| {
        let mut items: Vec<&str> = inner.split(sep).collect();
        items.sort_unstable();
        items.join(sep)
    })
}

fn output_format(args: &[String]) -> String {
    for (i, a) in args.iter().enumerate() {
        if a == "-w" || a == "--write-out" {
            return args.get(i + 1).cloned().unwrap_or_default();
        }
        if let Some(f) = a.strip_prefix("--write-out=").or_else(|| a.strip_prefix("-w=")) {
            return f.to_string();
        }
    }
    "simple".into()
}

/// Simple-format lines of `a, b, c`: replaces the given columns by placeholders.
fn csv_columns(s: &str, columns: &[(usize, &str)]) -> String {
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let mut cells: Vec<String> = body.split(", ").map(str::to_string).collect();
        if cells.len() > 1 {
            for (i, name) in columns {
                if let Some(c) = cells.get_mut(*i) {
                    *c = format!("<{name}>");
                }
            }
        }
        out.push_str(&cells.join(", "));
        out.push_str(nl);
    }
    out
}

/// Table output: column widths depend on the values that get normalized, so rows are
/// re-rendered as trimmed cells and borders collapse to `+`. Cells under a header
/// naming member-specific data become placeholders.
fn normalize_tables(s: &str) -> String {
    const VOLATILE: &[&str] =
        &["VERSION", "DB SIZE", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "TOOK", "HASH", "TOTAL SIZE"];
    let mut out = String::new();
    let mut header: Option<Vec<String>> = None;
    for line in s.lines() {
        if line.starts_with('+') {
            out.push_str("+\n");
            continue;
        }
        if !line.starts_with('|') {
            header = None;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
        let shown = match &header {
            None => {
                header = Some(cells.clone());
                cells
            }
            Some(h) => cells
                .iter()
                .enumerate()
                .map(|(i, c)| match h.get(i) {
                    Some(name) if VOLATILE.contains(&name.as_str()) => {
                        format!("<{}>", name.to_lowercase())
                    }
                    _ => c.clone(),
                })
                .collect(),
        };
        out.push_str(&format!("| {} |\n", shown.join(" | ")));
    }
    out
}

fn is_hex_id(w: &str) -> bool {
    w.len() == 16 && w.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lease ids: 16 hex digits as a word in text, or a non-zero decimal under an id key.
fn normalize_leases(s: &str, leases: &mut LeaseIds) -> String {
    let mut s = s.to_string();
    for key in ["\"id\":", "\"ID\":", "\"lease\":", "\"Lease\" : ", "\"ID\" : "] {
        s = replace_values(&s, key, |v| match v.parse::<i64>() {
            Ok(0) | Err(_) => None,
            Ok(id) => Some(leases.name(id as u64)),
        });
    }
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String, leases: &mut LeaseIds| {
        if is_hex_id(word) {
            out.push_str(&leases.name(u64::from_str_radix(word, 16).expect("hex")));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out, leases);
            out.push(c);
        }
    }
    flush(&mut word, &mut out, leases);
    out
}

fn normalize(raw: &str, ctx: &Ctx, args: &[String], leases: &mut LeaseIds) -> String {
    let mut s = raw.to_string();
    for (from, to) in &ctx.substitutions {
        s = s.replace(from, to);
    }
    // etcdctl's own structured log lines (the client retry interceptor, snapshot).
    s = placeholder(&s, "\"ts\":", "ts");
    s = placeholder(&s, "\"target\":", "target");
    s = placeholder(&s, "\"took\":", "took");
    s = placeholder(&s, "\"size\":", "size");
    // Member-specific header and status fields, JSON and fields formats.
    for key in ["raft_term", "raftTerm", "raftIndex", "raftAppliedIndex", "dbSize", "dbSizeInUse", "hash", "totalSize"]
    {
        s = placeholder(&s, &format!("\"{key}\":"), key);
    }
    for key in ["RaftTerm", "RaftIndex", "RaftAppliedIndex", "DBSize", "Hash"] {
        s = placeholder(&s, &format!("\"{key}\" : "), key);
    }
    s = placeholder_str(&s, "\"version\":", "version");
    s = placeholder_str(&s, "\"Version\" : ", "version");
    // Time-dependent: what is left of a lease's TTL, how long a health check took.
    s = placeholder(&s, "\"ttl\":", "ttl-remaining");
    s = placeholder_between(&s, "remaining(", ")", "ttl-remaining");
    s = placeholder_between(&s, "took = ", "\n", "took");
    // etcd lists a lease's keys in Go map order.
    s = sort_list(&s, "attached keys([", "])", " ");
    s = sort_list(&s, "\"keys\":[", "]", ",");
    s = placeholder(&s, "\"took\":", "took");
    let cmd: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    if output_format(args) == "simple" {
        s = match cmd.as_slice() {
            // endpoint, id, version, db size, leader, learner, term, index, applied index, errors
            ["endpoint", "status", ..] => csv_columns(
                &s,
                &[(2, "version"), (3, "db-size"), (6, "raft-term"), (7, "raft-index"), (8, "raft-applied-index")],
            ),
            ["endpoint", "hashkv", ..] => csv_columns(&s, &[(1, "hash")]),
            // hash, revision, total keys, total size
            ["snapshot", "status", ..] => csv_columns(&s, &[(0, "hash"), (3, "total-size")]),
            _ => s,
        };
    }
    s = normalize_tables(&s);
    normalize_leases(&s, leases)
}

// ---------------------------------------------------------------------------------
// Tests

/// Keys with distinct create/mod revisions, versions and values, so every sort order
/// gives a different listing.
fn seeded() -> Script {
    Script::new()
        .ctl("put b 2")
        .ok()
        .ctl("put a 3")
        .ok()
        .ctl("put c 1")
        .ok()
        .ctl("put b 4")
        .ok()
        .ctl("put b 0")
        .ok()
        .ctl("put d 9")
        .ok()
        .ctl("put e/x 5")
        .ok()
}

#[test]
fn put_get_ranges_and_formats() {
    let script = seeded()
        .ctl("get a")
        .out("a\n3\n")
        .ctl("get missing")
        .ok()
        .ctl("get --prefix e")
        .out("e/x")
        .ctl("get --from-key c")
        .out("c\n1\nd\n9\ne/x\n5\n")
        .ctl("get a e")
        .ctl("get --rev=1 b")
        .ctl("get --rev=3 a --prefix")
        .ctl("get --rev=4 b")
        .out("b\n2\n")
        .ctl("get --prefix '' --limit=2")
        .out("a\n3\nb\n0\n")
        .ctl("get --prefix '' --limit=2 -w json")
        .out("\"more\":true")
        .ctl("get --from-key a --keys-only")
        .out("a\n\nb\n\nc\n")
        .ctl("get --from-key a --print-value-only")
        .out("3\n0\n1\n")
        .ctl("get --from-key a --keys-only --print-value-only");
    let script = ["KEY", "CREATE", "MODIFY", "VALUE", "VERSION"].iter().fold(script, |s, by| {
        ["ASCEND", "DESCEND"]
            .iter()
            .fold(s, |s, order| s.ctl(&format!("get --from-key a --sort-by={by} --order={order} --keys-only")).ok())
    });
    let script = script
        .ctl("get --from-key a --sort-by=VALUE")
        .ctl("get --from-key a --order=DESCEND --limit=3")
        .ctl("get --from-key a --sort-by=bogus")
        .fails("")
        // etcdctl 3.4 has no --count-only (3.5 added it): documents the installed
        // client; becomes a real comparison once etcdctl is upgraded.
        .ctl("get --from-key a --count-only")
        .fails("unknown flag: --count-only")
        .ctl("get a -w json")
        .out("\"kvs\":[{\"key\":\"YQ==\"")
        .ctl("get --from-key a --rev=5 -w json")
        .ctl("get missing -w json")
        .ctl("get a -w fields")
        .out("\"CreateRevision\" : 3")
        .ctl("get --from-key a -w fields")
        .ctl("get a -w table")
        .ctl("get a --hex")
        .ctl("put --prev-kv a 7")
        .out("OK\na\n3\n")
        .ctl("put --prev-kv fresh 1")
        .ctl("put --prev-kv a 8 -w json")
        .out("prev_kv")
        .ctl("put --ignore-value a")
        .ok()
        .ctl("get a -w json")
        .ctl("put --ignore-value nothere")
        .fails("etcdserver: key not found")
        .ctl("put")
        .fails("put command needs 1 argument and input from stdin or 2 arguments")
        .ctl("put fromstdin")
        .stdin("value from stdin\n")
        .ok()
        .ctl("get fromstdin -w json")
        .ctl_args(&["put", "spaced key", "a value"])
        .ok()
        .ctl_args(&["get", "spaced key"])
        .out("a value");
    check(script);
}

#[test]
fn delete_variants() {
    let script = seeded()
        .ctl("del missing")
        .out("0")
        .ctl("del --prev-kv a")
        .out("1\na\n3\n")
        .ctl("del --prev-kv a")
        .ctl("del --prefix e")
        .out("1")
        .ctl("del --prev-kv --prefix b -w json")
        .ctl("put e/y 1")
        .ctl("put f 2")
        .ctl("del --from-key d --prev-kv")
        .out("3\n")
        .ctl("get --from-key a")
        .out("c\n1\n")
        .ctl("del b c")
        .ctl("del c d")
        .out("1")
        .ctl("del")
        .fails("")
        .ctl("get --from-key a -w json");
    check(script);
}

#[test]
fn txn_interactive_branches() {
    let script = seeded()
        .ctl("txn -i")
        .stdin("value(\"a\") = \"3\"\nmod(\"b\") > \"1\"\n\nput a yes\nget b\ndel c\n\nput a no\n\n")
        .out("SUCCESS")
        .ctl("get a")
        .out("yes")
        .ctl("txn -i")
        .stdin("version(\"b\") = \"1\"\n\nput a yes2\n\nput a no\nget --prefix e\n\n")
        .out("FAILURE")
        .ctl("get a")
        .out("no")
        .ctl("txn -i -w json")
        .stdin("create(\"d\") < \"100\"\n\nput d 10\nget d\n\nget a\n\n")
        .out("\"succeeded\":true")
        .ctl("txn -w json")
        .stdin("value(\"nothere\") = \"x\"\n\nput x 1\n\nget --from-key a --limit=2\ndel e/x\n\n")
        .out("ResponseDeleteRange")
        .ctl("txn")
        .stdin("\nput t1 1\nput t2 2\n\n\n")
        .out("SUCCESS\n\nOK\n\nOK\n")
        .ctl("txn")
        .stdin("\nput dup 1\ndel dup\n\n\n")
        .fails("etcdserver: duplicate key given in txn request")
        .ctl("txn")
        .stdin("bogus compare\n\n\n\n")
        .fails("malformed comparison")
        .ctl("txn")
        .stdin("value(\"a\") = \"no\"\n\nput a x\n")
        .fails("EOF")
        .ctl("get --from-key a -w json");
    check(script);
}

#[test]
fn watch_historical() {
    let script = seeded()
        .ctl("del a")
        .ctl("txn")
        .stdin("\nput w1 1\nput w2 2\n\n\n")
        .spawn("all", "watch --rev=1 --prefix ''")
        .spawn("b", "watch --rev=1 b")
        .spawn("range", "watch --rev=3 --prev-kv b d")
        .spawn("json", "watch --rev=1 --prefix w -w json --prev-kv")
        .stop("all", 1500)
        .out("PUT\nb\n2\n")
        .out("DELETE\na\n\n")
        .stop("b", 0)
        .out("PUT\nb\n4\n")
        .stop("range", 0)
        .out("PUT\nb\n2\nb\n4\n")
        .stop("json", 0)
        .out("\"Events\"");
    check(script);
}

#[test]
fn watch_live() {
    let script = Script::new()
        .ctl("put pre 0")
        .spawn("plain", "watch k --prefix")
        .spawn("prev", "watch --prev-kv k1")
        .spawn("json", "watch -w json --prefix k")
        // No way to observe that a watch is registered short of a revision-shifting
        // sentinel write; generous for three etcdctl processes to connect.
        .sleep_ms(1200)
        .ctl("put k1 a")
        .ctl("put k2 b")
        .ctl("put k1 c")
        .ctl("del k1")
        .ctl("txn")
        .stdin("\nput k3 x\nput k1 y\n\n\n")
        .ctl("del --prefix k")
        .stop("plain", 500)
        .out("PUT\nk1\na\nPUT\nk2\nb\nPUT\nk1\nc\nDELETE\nk1\n\n")
        .stop("prev", 0)
        .out("PUT\nk1\na\nk1\nc\n")
        .stop("json", 0)
        .out("\"type\":1");
    check(script);
}

#[test]
fn lease_lifecycle() {
    let script = Script::new()
        // Below the minimum TTL: raised to it. Revoked at once so that their expiry
        // cannot race with the rest of the script.
        .ctl("lease grant 1")
        .capture_lease("S1")
        .out("granted with TTL(2s)")
        .ctl("lease grant 0")
        .capture_lease("S0")
        .out("granted with TTL(2s)")
        .ctl("lease revoke $S1")
        .ok()
        .ctl("lease revoke $S0")
        .ok()
        .ctl("lease grant 60")
        .ok()
        .ctl("lease grant 30")
        .capture_lease("L")
        .out("granted with TTL(30s)")
        .ctl("lease grant 45 -w json")
        .out("\"TTL\":45")
        .ctl("put --lease=$L k1 v1")
        .ok()
        .ctl("put --lease=$L k2 v2")
        .ok()
        .ctl("get k1 -w json")
        .out("\"lease\":<lease#")
        .ctl("lease timetolive $L")
        .out("granted with TTL(30s), remaining(<ttl-remaining>)")
        .ctl("lease timetolive $L --keys")
        .out("attached keys([k1 k2])")
        .ctl("lease timetolive $L --keys -w json")
        // etcd lists leases by expiry, not by id or grant order.
        .ctl("lease list")
        .out("found 3 leases\n<lease#4>\n<lease#5>\n<lease#3>\n")
        .ctl("lease list -w json")
        .ctl("lease keep-alive --once $L")
        .out("keepalived with TTL(30)")
        .ctl("lease keep-alive --once $L -w json")
        .ctl("put --lease=$L k2 again")
        .ctl("put k1 detached")
        .ctl("lease timetolive $L --keys")
        .out("attached keys([k2])")
        .ctl("lease revoke $L")
        .out("revoked")
        .ctl("get --prefix k")
        .out_lacks("k2")
        .ctl("lease timetolive $L")
        .out("already expired")
        .ctl("lease revoke $L")
        .fails("failed to revoke lease (etcdserver: requested lease not found)")
        .ctl("lease revoke 1234")
        .fails("requested lease not found")
        .ctl("lease keep-alive --once 1234")
        .fails("requested lease not found")
        .ctl("lease timetolive 1234")
        .out("already expired")
        .ctl("put --lease=1234 x y")
        .fails("etcdserver: requested lease not found")
        .ctl("lease grant")
        .fails("lease grant command needs TTL argument")
        .ctl("lease revoke zz")
        .fails("")
        .ctl("lease list")
        .out("found 2 leases");
    check(script);
}

#[test]
fn lease_expiry() {
    let script = Script::new()
        .ctl("lease grant 2")
        .capture_lease("L")
        .ctl("put --lease=$L short v")
        .ok()
        .ctl("put keep v")
        .spawn("w", "watch short")
        .sleep_ms(4500)
        .ctl("get --prefix ''")
        .out("keep")
        .out_lacks("short")
        .ctl("lease timetolive $L")
        .out("already expired")
        .ctl("lease list")
        .out("found 0 leases")
        .ctl("put --lease=$L short again")
        .fails("requested lease not found")
        .stop("w", 0)
        .out("DELETE\nshort\n");
    check(script);
}

#[test]
fn compaction() {
    let mut script = Script::new();
    for i in 1..=6 {
        script = script.ctl(&format!("put k v{i}"));
    }
    let script = script
        .ctl("compaction 4")
        .out("compacted revision 4")
        .ctl("get k --rev=3")
        .fails("etcdserver: mvcc: required revision has been compacted")
        .ctl("get k --rev=4")
        .out("v3")
        .ctl("get k --rev=5")
        .spawn("old", "watch --rev=2 k")
        .spawn("oldjson", "watch --rev=3 k -w json")
        .spawn("ok", "watch --rev=4 k")
        .stop("old", 1500)
        .fails("watch was canceled (etcdserver: mvcc: required revision has been compacted)\nError: watch is canceled by the server")
        .stop("oldjson", 0)
        .out("\"CompactRevision\":4")
        .stop("ok", 0)
        .out("PUT\nk\nv3\n")
        .ctl("compaction 4")
        .fails("etcdserver: mvcc: required revision has been compacted")
        .ctl("compaction 2")
        .fails("required revision has been compacted")
        .ctl("compaction 100")
        .fails("etcdserver: mvcc: required revision is a future revision")
        .ctl("compaction --physical 6")
        .out("compacted revision 6")
        .ctl("get k --rev=5")
        .fails("compacted")
        .ctl("endpoint hashkv -w json")
        .out("\"compact_revision\":6")
        .ctl("compaction")
        .fails("");
    check(script);
}

#[test]
fn maintenance_and_cluster_info() {
    let script = seeded()
        .ctl("endpoint status")
        .out("<client-url>, <member_id>, <version>, <db-size>, true, false")
        .ctl("endpoint status -w json")
        .ctl("endpoint status -w table")
        .ctl("endpoint status -w fields")
        .ctl("endpoint health")
        .ok()
        .err("is healthy: successfully committed proposal: took = <took>")
        .ctl("endpoint health -w json")
        .ctl("endpoint health -w table")
        .ctl("endpoint hashkv")
        .out("<client-url>, <hash>")
        .ctl("endpoint hashkv -w json")
        .ctl("member list")
        .out("<member_id>, started, default, <peer-url>, <client-url>, false")
        .ctl("member list -w json")
        .ctl("member list -w table")
        .ctl("alarm list")
        .ok()
        .ctl("alarm list -w json")
        .ctl("defrag")
        .out("Finished defragmenting etcd member[<client-url>]")
        .ctl("snapshot save $TMP/snap.db")
        .out("Snapshot saved at <tmp>/snap.db")
        .ctl("snapshot status $TMP/snap.db -w json")
        .out("\"revision\":8,\"totalKey\":11")
        .ctl("snapshot status $TMP/snap.db")
        .ctl("snapshot status $TMP/snap.db -w table")
        .ctl("snapshot status $TMP/missing.db")
        .fails("no such file or directory")
        .ctl("get --from-key a");
    check(script);
}

#[test]
fn bad_input() {
    const MAX_REQUEST: usize = 1536 * 1024;
    let script = Script::new()
        .ctl("put big")
        .stdin(vec![b'x'; MAX_REQUEST])
        .fails("etcdserver: request is too large")
        .ctl("put big")
        .stdin(vec![b'x'; MAX_REQUEST - 1024])
        .ok()
        .ctl("put huge")
        .stdin(vec![b'x'; 3 * 1024 * 1024])
        .fails("")
        .ctl_args(&["put", "", "v"])
        .fails("etcdserver: key is not provided")
        .ctl_args(&["get", ""])
        .fails("")
        .ctl("get big --rev=100")
        .fails("etcdserver: mvcc: required revision is a future revision")
        .ctl("get big --rev=-1")
        .ctl("get big --keys-only")
        .out("big")
        .ctl("txn")
        .stdin("\nput big2\n\n\n")
        .fails("")
        .ctl("get --sort-by=KEY --order=SIDEWAYS a")
        .fails("")
        .ctl("nosuchcommand")
        .fails("");
    check(script);
}
