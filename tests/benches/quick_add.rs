//! Quick add: how long the parser takes per phrase, over the case table of
//! `src/domain/quick_add/tests.rs` (every `#[case]` there, read from the
//! source so the benchmark and the tests cannot drift apart). Target: under
//! 20 µs a phrase.
//!
//! `cargo bench --bench quick_add`

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;

const ROUNDS: usize = 400;

fn main() {
    let source = include_str!("../../src/domain/quick_add/tests.rs");
    let case = Regex::new(r#"#\[case\(\s*"((?:[^"\\]|\\.)*)""#).expect("pattern");
    let phrases: Vec<String> = case
        .captures_iter(source)
        .map(|c| unescape(&c[1]))
        .collect();
    assert!(phrases.len() >= 150, "the case table: {}", phrases.len());
    let now: DateTime<Utc> = "2026-11-18T14:30:00Z".parse().expect("instant");
    let tz: Tz = "Europe/Berlin".parse().expect("zone");

    // Warm up, then time every phrase once per round.
    for p in &phrases {
        std::hint::black_box(taskstream::domain::quick_add::parse(p, now, tz));
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(ROUNDS * phrases.len());
    let mut per_phrase: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); phrases.len()];
    for _ in 0..ROUNDS {
        for (i, p) in phrases.iter().enumerate() {
            let start = Instant::now();
            std::hint::black_box(taskstream::domain::quick_add::parse(
                std::hint::black_box(p),
                now,
                tz,
            ));
            let took = start.elapsed();
            samples.push(took);
            per_phrase[i].push(took);
        }
    }
    samples.sort_unstable();
    let (slowest, slowest_median) = per_phrase
        .iter_mut()
        .enumerate()
        .map(|(i, s)| {
            s.sort_unstable();
            (i, s[s.len() / 2])
        })
        .max_by_key(|(_, m)| *m)
        .expect("phrases");
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "# quick add: {} phrases of the case table x {ROUNDS} rounds\n",
        phrases.len()
    );
    println!("| phrases | parses | p50 µs | p99 µs | max µs | slowest phrase (its p50) |");
    println!("|---:|---:|---:|---:|---:|---|");
    println!(
        "| {} | {} | {:.1} | {:.1} | {:.1} | `{}` ({:.1} µs) |",
        phrases.len(),
        samples.len(),
        us(samples[samples.len() / 2]),
        us(samples[samples.len() * 99 / 100]),
        us(samples[samples.len() - 1]),
        phrases[slowest],
        us(slowest_median),
    );
    let p99 = us(samples[samples.len() * 99 / 100]);
    println!(
        "\ntarget: p99 under 20 µs — {}",
        if p99 < 20.0 { "met" } else { "NOT met" }
    );
}

/// A Rust string literal's contents as the string it stands for (the escapes
/// the case table uses).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                let code = u32::from_str_radix(&hex, 16).expect("a \\u{…} escape");
                out.push(char::from_u32(code).expect("a character"));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
