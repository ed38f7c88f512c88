//! `weir perf e2e --histogram-png FILE`: the end-to-end latency distribution as a PNG picture,
//! drawn with `plotters` (bitmap backend). Left: how many records took each latency (log-spaced
//! buckets); right: latency by percentile up to the maximum, so the tail can be looked at.
//! Text needs a TrueType font, read at run time (`--font`, else a common system path) so that
//! no font library is linked.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Where a sans-serif TTF is usually found (Debian/Ubuntu, Fedora/Arch, macOS).
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Make `font` (or the first of [`FONT_PATHS`] that exists) plotters' "sans-serif".
fn register_font(font: Option<&Path>) -> Result<(), String> {
    let path: PathBuf = match font {
        Some(p) => p.to_path_buf(),
        None => FONT_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "--histogram-png: no TrueType font found (looked at {}); give one with --font",
                    FONT_PATHS.join(", ")
                )
            })?,
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("font {}: {e}", path.display()))?;
    // plotters keeps fonts for the life of the process; this runs once per `weir perf` run.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("font {}: not a TrueType/OpenType font", path.display()))
}

/// Log-spaced latency buckets (in ms, `per_decade` per power of ten) holding the histogram's
/// records: (lower, upper, count), from the minimum's decade to past the maximum.
pub fn log_buckets(h: &Histogram<u64>, per_decade: u32) -> Vec<(f64, f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let per = f64::from(per_decade.max(1));
    let lo = (h.min().max(1) as f64).log10().floor();
    let index = |us: u64| ((us.max(1) as f64).log10() - lo).mul_add(per, 1e-9).floor() as usize;
    let mut counts = vec![0u64; index(h.max()) + 1];
    for v in h.iter_recorded() {
        let i = index(v.value_iterated_to()).min(counts.len() - 1);
        counts[i] += v.count_at_value();
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let e = lo + i as f64 / per;
            (
                10f64.powf(e) / 1000.0,
                10f64.powf(e + 1.0 / per) / 1000.0,
                n,
            )
        })
        .collect()
}

/// (percentile as "nines" x = -log10(1 - q), latency ms) points up to the maximum.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let max_x = (h.len() as f64).log10().clamp(1.0, 6.0);
    let steps = 300;
    (0..=steps)
        .map(|i| {
            let x = max_x * f64::from(i) / f64::from(steps);
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect()
}

/// Draw `h` (µs) to `path` as a 1400×560 PNG titled `title`.
pub fn write(
    path: &Path,
    font: Option<&Path>,
    title: &str,
    h: &Histogram<u64>,
) -> Result<(), String> {
    if h.is_empty() {
        return Err("--histogram-png: no latency was recorded".into());
    }
    register_font(font)?;
    let err = |e: &dyn std::fmt::Display| format!("--histogram-png {}: {e}", path.display());
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(700);

    let buckets = log_buckets(h, 10);
    let x_lo = buckets.first().map_or(0.001, |b| b.0);
    let x_hi = buckets.last().map_or(1.0, |b| b.1);
    let y_hi = buckets.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.5;
    let mut chart = ChartBuilder::on(&left)
        .margin(15)
        .caption("records per latency bucket", ("sans-serif", 16))
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (0.5..y_hi).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("end-to-end latency (ms)")
        .y_desc("records")
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(
            buckets.iter().filter(|b| b.2 > 0).map(|&(a, b, n)| {
                Rectangle::new([(a, 0.5), (b, n as f64)], BLUE.mix(0.6).filled())
            }),
        )
        .map_err(|e| err(&e))?;

    let curve = percentile_curve(h);
    let x_hi = curve.last().map_or(1.0, |p| p.0);
    let y_hi = h.max() as f64 / 1000.0 * 1.1;
    let mut chart = ChartBuilder::on(&right)
        .margin(15)
        .caption("latency by percentile", ("sans-serif", 16))
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_hi, 0.0..y_hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|x| nines_label(*x))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(curve, RED.stroke_width(2)))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

/// Axis label for x = -log10(1 - q): 0 → "0%", 1 → "90%", 2 → "99%", 3 → "99.9%".
fn nines_label(x: f64) -> String {
    let q = (1.0 - 10f64.powf(-x)) * 100.0;
    let digits = (x - 2.0).ceil().max(0.0) as usize;
    format!("{q:.digits$}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_every_record_and_curve_rises_to_the_max() {
        let mut h = super::super::report::new_histogram();
        for us in [150u64, 900, 1_000, 1_200, 5_000, 48_000] {
            h.record(us).unwrap();
        }
        let b = log_buckets(&h, 10);
        assert_eq!(b.iter().map(|x| x.2).sum::<u64>(), 6);
        assert!(
            b.first().unwrap().0 <= 0.15 && b.last().unwrap().1 >= 48.0,
            "{b:?}"
        );
        let c = percentile_curve(&h);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!((c.last().unwrap().1 - 48.0).abs() < 0.1, "{:?}", c.last());
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(1.0), "90%");
    }
}
