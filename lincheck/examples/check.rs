//! Checks a history saved in lincheck's text form (e.g. by a failing drill):
//! `cargo run --release -p lincheck --example check -- FILE [MAX_SECONDS]`.

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: check FILE [MAX_SECONDS]");
        std::process::exit(2);
    };
    let secs: f64 = args.next().map_or(600.0, |s| s.parse().expect("MAX_SECONDS must be a number"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let h = lincheck::History::from_text(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = Instant::now();
    let limits = lincheck::Limits { max_steps: u64::MAX, max_time: Some(Duration::from_secs_f64(secs)) };
    match lincheck::check_with(&h, limits) {
        Ok(l) => println!(
            "linearizable: {} ops, {} steps, final revision {}, {} not taken, in {:?}",
            h.len(),
            l.steps,
            l.final_revision,
            l.not_taken.len(),
            start.elapsed()
        ),
        Err(e) => {
            println!("{e}\n(after {:?})", start.elapsed());
            std::process::exit(1);
        }
    }
}
