//! The concurrency results: a table for the terminal, a JSON file for
//! scripts, and an SVG chart.

use crate::stall::Lateness;
use plotters::prelude::*;
use serde::Serialize;
use std::path::Path;
use sylvan::BoxError;

/// One measured configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `sylvan` (async, pooled), `naive` (sync calls in async tasks) or
    /// `sync` (one thread, one connection, one query at a time).
    pub variant: &'static str,
    /// Concurrent tasks (1 for the sync baseline).
    pub tasks: usize,
    /// Connections.
    pub pool: usize,
    /// Queries per second.
    pub qps: f64,
    /// `qps` over the sync baseline's.
    pub vs_sync: f64,
    /// The 1 ms ticker on the same runtime (none for the sync baseline,
    /// which runs no runtime).
    pub ticker: Option<Lateness>,
    /// Share of the window the runtime's worker threads were ready to run
    /// but waiting for a CPU (Linux schedstat; none elsewhere).
    pub cpu_wait: Option<f64>,
}

/// The slow query mixed into the workload.
#[derive(Debug, Clone, Serialize)]
pub struct SlowQuery {
    /// Its SQL.
    pub sql: String,
    /// One query in this many is the slow one.
    pub every: u64,
    /// Its median time run alone, ms.
    pub median_ms: f64,
}

/// The figures the design's targets are about: 64 tasks, pool of 4.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    /// Tasks.
    pub tasks: usize,
    /// Pool size.
    pub pool: usize,
    /// Sylvan's ticker p99, ms.
    pub sylvan_p99_ms: f64,
    /// The idle runtime's ticker p99, ms.
    pub floor_p99_ms: f64,
    /// The naive pattern's ticker p99 (same tasks, same number of
    /// connections), ms.
    pub naive_p99_ms: f64,
    /// Sylvan's p99 within 1 ms of the floor.
    pub no_stall_met: bool,
    /// Sylvan's queries/s.
    pub sylvan_qps: f64,
    /// The sync baseline's queries/s.
    pub sync_qps: f64,
    /// Sylvan over the sync baseline.
    pub throughput_vs_sync: f64,
}

/// Everything the tour measured, as written to JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The database URL (password hidden).
    pub database: String,
    /// CPUs the OS reports.
    pub cpus: usize,
    /// Worker threads of the runtime under test.
    pub runtime_workers: usize,
    /// Warm-up before each measured window, s.
    pub warmup_seconds: f64,
    /// Measured window per row, s.
    pub window_seconds: f64,
    /// Rows in the looked-up table.
    pub table_rows: usize,
    /// The slow query.
    pub slow_query: SlowQuery,
    /// The ticker on an idle runtime.
    pub floor: Lateness,
    /// Every measured configuration.
    pub rows: Vec<Row>,
    /// The design's targets at 64 tasks, pool of 4.
    pub headline: Option<Headline>,
    /// How long the whole tour took, s.
    pub total_seconds: f64,
}

impl Results {
    fn find(&self, variant: &str, tasks: usize, pool: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.variant == variant && r.tasks == tasks && r.pool == pool)
    }

    /// Fills in [`Results::headline`] and every row's `vs_sync`.
    pub fn summarise(&mut self, naive_pool: usize) {
        let sync = self
            .rows
            .iter()
            .find(|r| r.variant == "sync")
            .map(|r| r.qps);
        if let Some(sync) = sync {
            for r in &mut self.rows {
                r.vs_sync = r.qps / sync;
            }
        }
        let (tasks, pool) = (64, 4);
        self.headline = match (
            self.find("sylvan", tasks, pool),
            self.find("naive", tasks, naive_pool),
            sync,
        ) {
            (Some(s), Some(n), Some(sync_qps)) => {
                let (st, nt) = (s.ticker.unwrap(), n.ticker.unwrap());
                Some(Headline {
                    tasks,
                    pool,
                    sylvan_p99_ms: st.p99_ms,
                    floor_p99_ms: self.floor.p99_ms,
                    naive_p99_ms: nt.p99_ms,
                    no_stall_met: st.p99_ms <= self.floor.p99_ms + 1.0,
                    sylvan_qps: s.qps,
                    sync_qps,
                    throughput_vs_sync: s.qps / sync_qps,
                })
            }
            _ => None,
        };
    }
}

/// `12345.6` as `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints the table and the headline.
pub fn print_table(r: &Results) {
    println!(
        "\nConcurrency on {}: point lookups by key; 1 query in {} is slow ({:.1} ms alone).\n\
         Each row: {:.1} s measured after {:.2} s of warm-up, on a {}-worker tokio runtime ({} CPUs).",
        r.backend,
        r.slow_query.every,
        r.slow_query.median_ms,
        r.window_seconds,
        r.warmup_seconds,
        r.runtime_workers,
        r.cpus,
    );
    let head = |a: &str, b: &str, c: &str, d: &str, e: &str, f: &str, g: &str, h: &str, i: &str| {
        println!("{a:<34} {b:>5} {c:>4} {d:>10} {e:>6}  {f:>6} {g:>6} {h:>6}  {i:>8}");
    };
    println!();
    head("", "", "", "", "", "ticker", "late,", "ms", "");
    head(
        "variant",
        "tasks",
        "pool",
        "queries/s",
        "x sync",
        "p50",
        "p99",
        "max",
        "CPU wait",
    );
    let ticks = |l: &Lateness| {
        (
            format!("{:.2}", l.p50_ms),
            format!("{:.2}", l.p99_ms),
            format!("{:.2}", l.max_ms),
        )
    };
    let (f50, f99, fmax) = ticks(&r.floor);
    head(
        "idle runtime, ticker only (floor)",
        "-",
        "-",
        "-",
        "-",
        &f50,
        &f99,
        &fmax,
        "",
    );
    let mut last = "";
    for row in &r.rows {
        if row.variant != last {
            println!();
            last = row.variant;
        }
        let name = match row.variant {
            "sylvan" => "Sylvan, async, pooled",
            "naive" => "naive: sync driver in async tasks",
            _ => "sync: 1 thread, 1 conn, in turn",
        };
        let (p50, p99, max) = row
            .ticker
            .as_ref()
            .map_or(("-".into(), "-".into(), "-".into()), ticks);
        let wait = row
            .cpu_wait
            .map_or(String::new(), |w| format!("{:.0}%", w * 100.0));
        head(
            name,
            &row.tasks.to_string(),
            &row.pool.to_string(),
            &thousands(row.qps),
            &format!("{:.2}", row.vs_sync),
            &p50,
            &p99,
            &max,
            &wait,
        );
    }
    println!(
        "\nticker: a task on the same runtime asking to wake every 1 ms; late = woken - scheduled\n\
         (missed ticks count, so a 5 ms stall adds 5 late ticks). A busy runtime can beat the idle\n\
         floor: its workers check the timer on every round instead of sleeping until it fires.\n\
         CPU wait: share of the time the runtime's 2 worker threads were ready but waiting for a\n\
         core (Linux schedstat): lateness with a high CPU wait is the OS sharing the cores (with\n\
         SQLite's worker threads, or other programs), not a blocked runtime thread."
    );
    if let Some(h) = &r.headline {
        println!(
            "\nAt {} tasks on a pool of {}:\n\
             - ticker p99: Sylvan {:.2} ms, idle floor {:.2} ms ({:+.2} ms; target within +1 ms: {}), \
             naive pattern {:.2} ms\n\
             - throughput: Sylvan {} queries/s = {:.2}x the sync driver used one query at a time ({}/s)",
            h.tasks,
            h.pool,
            h.sylvan_p99_ms,
            h.floor_p99_ms,
            h.sylvan_p99_ms - h.floor_p99_ms,
            if h.no_stall_met { "met" } else { "MISSED" },
            h.naive_p99_ms,
            thousands(h.sylvan_qps),
            h.throughput_vs_sync,
            thousands(h.sync_qps),
        );
    }
}

/// Writes the results as pretty JSON.
pub fn write_json(path: &Path, r: &Results) -> Result<(), BoxError> {
    std::fs::write(path, serde_json::to_vec_pretty(r)?)?;
    Ok(())
}

const POOL_COLORS: [RGBColor; 3] = [
    RGBColor(0x6b, 0xae, 0xd6),
    RGBColor(0x08, 0x51, 0x9c),
    RGBColor(0x6a, 0x3d, 0x9a),
];
const NAIVE: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const SYNC: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const FLOOR: RGBColor = RGBColor(0x44, 0x44, 0x44);
const TARGET: RGBColor = RGBColor(0xaa, 0xaa, 0xaa);

/// A named line on a chart.
struct Line {
    label: String,
    color: RGBColor,
    width: u32,
    points: Vec<(f64, f64)>,
}

/// x position of a task count: log2, so 1, 8, 64, 256 spread evenly.
fn x_of(tasks: usize) -> f64 {
    (tasks as f64).log2()
}

fn lines_for(r: &Results, pools: &[usize], value: impl Fn(&Row) -> Option<f64>) -> Vec<Line> {
    let mut lines = Vec::new();
    for (i, &pool) in pools.iter().enumerate() {
        let points = r
            .rows
            .iter()
            .filter(|row| row.variant == "sylvan" && row.pool == pool)
            .filter_map(|row| Some((x_of(row.tasks), value(row)?)))
            .collect();
        lines.push(Line {
            label: format!("Sylvan async, pool {pool}"),
            color: POOL_COLORS[i % POOL_COLORS.len()],
            width: if pool == 4 { 3 } else { 2 },
            points,
        });
    }
    let naive: Vec<_> = r.rows.iter().filter(|row| row.variant == "naive").collect();
    if let Some(first) = naive.first() {
        lines.push(Line {
            label: format!("naive: sync calls in tasks, {} conns", first.pool),
            color: NAIVE,
            width: 2,
            points: naive
                .iter()
                .filter_map(|row| Some((x_of(row.tasks), value(row)?)))
                .collect(),
        });
    }
    lines
}

fn flat(label: String, color: RGBColor, y: f64) -> Line {
    Line {
        label,
        color,
        width: 2,
        points: vec![(x_of(1), y), (x_of(256), y)],
    }
}

fn draw_panel<Y>(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    y_range: Y,
    y_format: &dyn Fn(&f64) -> String,
    lines: &[Line],
) -> Result<(), BoxError>
where
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.3f64..8.3f64, y_range)?;
    chart
        .configure_mesh()
        .x_desc("concurrent tasks (log scale)")
        .y_desc(y_desc)
        .x_labels(9)
        .x_label_formatter(&|x| format!("{:.0}", 2f64.powf(*x)))
        .y_label_formatter(y_format)
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .draw()?;
    for line in lines {
        let style = line.color.stroke_width(line.width);
        let color = line.color;
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style).point_size(3))?
            .label(line.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}

/// Draws throughput and ticker p99 against concurrency, side by side.
pub fn write_chart(path: &Path, r: &Results) -> Result<(), BoxError> {
    let mut pools: Vec<usize> = r
        .rows
        .iter()
        .filter(|row| row.variant == "sylvan")
        .map(|row| row.pool)
        .collect();
    pools.sort_unstable();
    pools.dedup();

    let root = SVGBackend::new(path, (1280, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Sylvan on {}: point lookups + 1 slow query in {} ({:.1} ms), 2-worker tokio runtime",
            r.backend, r.slow_query.every, r.slow_query.median_ms
        ),
        ("sans-serif", 20),
    )?;
    let (left, right) = root.split_horizontally(640);

    let mut throughput = lines_for(r, &pools, |row| Some(row.qps));
    if let Some(sync) = r.rows.iter().find(|row| row.variant == "sync") {
        throughput.push(flat(
            "sync driver, 1 thread, one query at a time".into(),
            SYNC,
            sync.qps,
        ));
    }
    let top = throughput
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    draw_panel(
        &left,
        "Throughput (higher is better)",
        "queries / s",
        0f64..top * 1.45,
        &|v| {
            if *v >= 1000.0 {
                format!("{:.0}k", v / 1000.0)
            } else {
                format!("{v:.0}")
            }
        },
        &throughput,
    )?;

    let mut lateness = lines_for(r, &pools, |row| row.ticker.map(|t| t.p99_ms));
    lateness.push(flat(
        format!("idle runtime (floor), {:.2} ms", r.floor.p99_ms),
        FLOOR,
        r.floor.p99_ms,
    ));
    lateness.push(flat(
        "target: floor + 1 ms".into(),
        TARGET,
        r.floor.p99_ms + 1.0,
    ));
    let values = lateness.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    draw_panel(
        &right,
        "1 ms ticker p99 lateness (lower is better)",
        "ms (log scale)",
        ((lo * 0.5).max(0.01)..hi * 4.0).log_scale(),
        &|v| {
            if *v < 1.0 {
                format!("{v:.2}")
            } else {
                format!("{v:.0}")
            }
        },
        &lateness,
    )?;
    root.present()?;
    Ok(())
}
