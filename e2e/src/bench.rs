//! The store-vs-etcd comparison: which metrics each workload reports, which direction is
//! better, the markdown table, and splicing it into `docs/benchmarks.md` between the
//! `<!-- bench:begin -->` / `<!-- bench:end -->` markers (the prose around them is kept).

use serde_json::Value;

use crate::stats::median;

/// Which direction of a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// How a metric's rounds are combined into one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    Median,
    Max,
}

/// One reported number of a workload: a key of its JSON line.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub key: &'static str,
    pub label: &'static str,
    pub better: Better,
    pub agg: Agg,
}

const fn m(key: &'static str, label: &'static str, better: Better) -> Metric {
    Metric { key, label, better, agg: Agg::Median }
}

/// The metrics shown for each workload name (as printed by `etcd-load`).
pub fn metrics_of(workload: &str) -> &'static [Metric] {
    use Better::{Higher, Lower};
    const LAT: &[Metric] = &[
        m("p50_ms", "latency p50 (ms)", Lower),
        m("p99_ms", "latency p99 (ms)", Lower),
        m("mean_ms", "latency mean (ms)", Lower),
    ];
    const PUT_TPUT: &[Metric] = &[
        m("ops_per_s", "throughput (ops/s)", Higher),
        m("p50_ms", "latency p50 (ms)", Lower),
        m("p99_ms", "latency p99 (ms)", Lower),
    ];
    const RANGE: &[Metric] = &[m("ops_per_s", "throughput (ops/s)", Higher), m("p99_ms", "latency p99 (ms)", Lower)];
    const WATCH: &[Metric] = &[
        m("p50_ms", "delivery delay p50 (ms)", Lower),
        m("p99_ms", "delivery delay p99 (ms)", Lower),
        m("max_ms", "delivery delay max (ms)", Lower),
    ];
    const FAILOVER: &[Metric] = &[
        m("failover_ms", "kill → first acked write, median of rounds (ms)", Lower),
        Metric {
            key: "failover_ms",
            label: "kill → first acked write, max of rounds (ms)",
            better: Lower,
            agg: Agg::Max,
        },
    ];
    match workload {
        "put-latency" => LAT,
        "put-throughput" => PUT_TPUT,
        "range-linearizable" | "range-serializable" => RANGE,
        "watch-fanout" => WATCH,
        "failover" => FAILOVER,
        _ => &[],
    }
}

/// The runs of one workload: one JSON line per round for each implementation.
#[derive(Debug, Default)]
pub struct Runs {
    pub workload: String,
    /// What the workload did, for the table (e.g. "100 clients / 10 conns, 20000 puts").
    pub shape: String,
    pub store: Vec<Value>,
    pub etcd: Vec<Value>,
}

fn median_of(runs: &[Value], key: &str) -> Option<f64> {
    let mut v: Vec<f64> = runs.iter().filter_map(|r| r.get(key)?.as_f64()).collect();
    (!v.is_empty()).then(|| median(&mut v))
}

fn max_of(runs: &[Value], key: &str) -> Option<f64> {
    runs.iter().filter_map(|r| r.get(key)?.as_f64()).max_by(f64::total_cmp)
}

fn aggregate(runs: &[Value], met: &Metric) -> Option<f64> {
    match met.agg {
        Agg::Median => median_of(runs, met.key),
        Agg::Max => max_of(runs, met.key),
    }
}

fn fmt_num(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The comparison table (markdown). With several rounds each cell is the median (or,
/// where the label says so, the maximum) over the rounds.
pub fn table(all: &[Runs]) -> String {
    let mut out = String::from(
        "| Workload | Metric | store | etcd | store/etcd | Better | Target met |\n\
         |---|---|--:|--:|--:|---|---|\n",
    );
    for r in all {
        for met in metrics_of(&r.workload) {
            let (Some(s), Some(e)) = (aggregate(&r.store, met), aggregate(&r.etcd, met)) else {
                continue;
            };
            let ratio = if e > 0.0 { format!("{:.2}", s / e) } else { "n/a".into() };
            let (better, ok) = match met.better {
                Better::Higher => ("higher", s >= e),
                Better::Lower => ("lower", s <= e),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.workload,
                met.label,
                fmt_num(s),
                fmt_num(e),
                ratio,
                better,
                if ok { "yes" } else { "**no**" },
            ));
        }
    }
    out.push('\n');
    for r in all {
        out.push_str(&format!("- `{}`: {}\n", r.workload, r.shape));
    }
    out
}

pub const BEGIN: &str = "<!-- bench:begin -->";
pub const END: &str = "<!-- bench:end -->";

/// Replaces what lies between the markers of `doc` with `block`; appends the markers
/// and the block when `doc` has none.
pub fn splice(doc: &str, block: &str) -> String {
    if let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END))
        && b < e
    {
        return format!("{}{BEGIN}\n{block}{}", &doc[..b], &doc[e..]);
    }
    let mut out = doc.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    format!("{out}{BEGIN}\n{block}{END}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_marks_direction_and_target() {
        let runs = Runs {
            workload: "put-throughput".into(),
            shape: "x".into(),
            store: vec![json!({"ops_per_s": 2000.0, "p50_ms": 3.0, "p99_ms": 9.0})],
            etcd: vec![json!({"ops_per_s": 1000.0, "p50_ms": 2.0, "p99_ms": 9.0})],
        };
        let t = table(&[runs]);
        assert!(t.contains("| throughput (ops/s) | 2000 | 1000 | 2.00 | higher | yes |"), "{t}");
        assert!(t.contains("| latency p50 (ms) | 3.00 | 2.00 | 1.50 | lower | **no** |"), "{t}");
        assert!(t.contains("| latency p99 (ms) | 9.00 | 9.00 | 1.00 | lower | yes |"), "{t}");
    }

    #[test]
    fn failover_shows_median_and_max() {
        let runs = Runs {
            workload: "failover".into(),
            shape: "x".into(),
            store: vec![json!({"failover_ms": 1000.0}), json!({"failover_ms": 1500.0}), json!({"failover_ms": 1100.0})],
            etcd: vec![json!({"failover_ms": 1200.0}), json!({"failover_ms": 1300.0}), json!({"failover_ms": 1250.0})],
        };
        let t = table(&[runs]);
        assert!(t.contains("median of rounds (ms) | 1100 | 1250 | 0.88 | lower | yes |"), "{t}");
        assert!(t.contains("max of rounds (ms) | 1500 | 1300 | 1.15 | lower | **no** |"), "{t}");
    }

    #[test]
    fn median_over_rounds() {
        let runs = [json!({"a": 1.0}), json!({"a": 5.0}), json!({"a": 2.0})];
        assert_eq!(median_of(&runs, "a"), Some(2.0));
        assert_eq!(median_of(&runs, "b"), None);
    }

    #[test]
    fn splice_keeps_prose_and_replaces_block() {
        let doc = format!("# T\nintro\n{BEGIN}\nold\n{END}\nafter\n");
        let out = splice(&doc, "new\n");
        assert_eq!(out, format!("# T\nintro\n{BEGIN}\nnew\n{END}\nafter\n"));
        assert_eq!(splice("# T", "x\n"), format!("# T\n{BEGIN}\nx\n{END}\n"));
    }
}
