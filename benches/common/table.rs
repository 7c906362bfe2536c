//! Interleaved measurement with CPU accounting, shared by `benches/suite.rs`
//! (`-- --table`) and `examples/hop.rs`.
//!
//! Each variant runs in rounds, all variants one after another within a
//! round, so a noisy neighbour slows them alike; the table shows the median
//! per-operation wall time over the rounds, its ratio to the first variant
//! (the reference: the sync driver used directly), and the process CPU time
//! per operation (every thread of the process: the caller, the runtime's
//! workers, Sylvan's SQLite worker threads), so a variant that buys latency
//! by spinning on a second core shows what it pays.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// CPU time used so far by every live thread of this process.
///
/// Summed from `/proc/self/task/*/schedstat` (nanoseconds on the CPU, per
/// thread): unlike `/proc/self/stat` it is not rounded to clock ticks.
/// Threads that exit are dropped from the sum, so measure across spans in
/// which the threads that do the work stay alive (runtime and pool threads
/// do). Zero where `/proc` is unavailable.
pub fn process_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = 0_u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// Wall time and process CPU time of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Wall-clock time of the timed operations.
    pub wall: Duration,
    /// Process CPU time over the whole run.
    pub cpu: Duration,
}

/// Runs `f` and measures its wall time and the process's CPU time.
pub fn sample(f: impl FnOnce()) -> Sample {
    let cpu = process_cpu();
    let start = Instant::now();
    f();
    let wall = start.elapsed();
    Sample {
        wall,
        cpu: process_cpu().saturating_sub(cpu),
    }
}

/// One way of running a workload: given a number of operations, runs them
/// and returns the [`Sample`] (use [`sample`]).
pub type Variant<'a> = (String, Box<dyn FnMut(u64) -> Sample + 'a>);

/// The medians of one variant over the rounds.
#[derive(Debug, Clone)]
pub struct Line {
    /// The variant's name.
    pub name: String,
    /// Median wall time per operation, µs.
    pub wall_us: f64,
    /// Fastest and slowest round, µs per operation.
    pub range_us: (f64, f64),
    /// Median CPU time per operation, µs.
    pub cpu_us: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the variants interleaved: a warm-up round of `per_round / 4`
/// operations each (not counted), then `rounds` rounds of `per_round`.
pub fn interleave(variants: &mut [Variant<'_>], rounds: usize, per_round: u64) -> Vec<Line> {
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..=rounds {
        for (i, (_, run)) in variants.iter_mut().enumerate() {
            let n = if round == 0 {
                (per_round / 4).max(1)
            } else {
                per_round
            };
            let s = run(n);
            if round > 0 {
                wall[i].push(s.wall.as_secs_f64() * 1e6 / n as f64);
                cpu[i].push(s.cpu.as_secs_f64() * 1e6 / n as f64);
            }
        }
    }
    variants
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let w = &mut wall[i];
            let wall_us = median(w);
            Line {
                name: name.clone(),
                wall_us,
                range_us: (w[0], w[w.len() - 1]),
                cpu_us: median(&mut cpu[i]),
            }
        })
        .collect()
}

/// Prints the lines of one workload; the first line is the reference.
pub fn print(title: &str, lines: &[Line]) {
    println!("\n{title}");
    println!(
        "{:<30} {:>11} {:>9} {:>9} {:>8} {:>10} {:>8}",
        "variant", "median µs", "min", "max", "÷ ref", "CPU µs/op", "÷ ref"
    );
    let (wall0, cpu0) = (lines[0].wall_us, lines[0].cpu_us);
    for l in lines {
        println!(
            "{:<30} {:>11.2} {:>9.2} {:>9.2} {:>7.2}x {:>10.2} {:>7.2}x",
            l.name,
            l.wall_us,
            l.range_us.0,
            l.range_us.1,
            l.wall_us / wall0,
            l.cpu_us,
            if cpu0 > 0.0 { l.cpu_us / cpu0 } else { 0.0 },
        );
    }
}
