//! The PNG chart: throughput and p99 latency over the flash sale, one point a second.

use std::path::Path;

use plotters::prelude::*;

use crate::recorder::TimelinePoint;

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers a system font for labels. Without one the chart is drawn unlabelled.
fn register_font() -> bool {
    for path in FONT_PATHS {
        if let Ok(bytes) = std::fs::read(path) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
    }
    false
}

/// Draws two stacked panels: requests per second, and p99 latency in milliseconds.
pub fn draw(path: &Path, title: &str, timeline: &[TimelinePoint]) -> anyhow::Result<()> {
    let labelled = register_font();
    let root = BitMapBackend::new(path, (1000, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (top, bottom) = root.split_vertically(320);
    let seconds = timeline.len().max(1) as u64;
    let max_rps = timeline
        .iter()
        .map(|p| p.requests)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_p99 = timeline.iter().map(|p| p.p99_ms).fold(1.0_f64, f64::max);

    let panels = [
        (
            top,
            format!("{title}: requests per second"),
            max_rps * 1.1,
            true,
        ),
        (bottom, "p99 latency (ms)".to_owned(), max_p99 * 1.1, false),
    ];
    for (area, caption, y_max, throughput) in panels {
        let mut builder = ChartBuilder::on(&area);
        builder
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60);
        if labelled {
            builder.caption(&caption, ("sans-serif", 20));
        }
        let mut chart = builder
            .build_cartesian_2d(0_u64..seconds, 0_f64..y_max)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut mesh = chart.configure_mesh();
        if labelled {
            mesh.x_desc("second of the run");
        } else {
            mesh.disable_x_mesh()
                .disable_y_mesh()
                .x_labels(0)
                .y_labels(0);
        }
        mesh.draw().map_err(|e| anyhow::anyhow!("{e}"))?;
        let color = if throughput { BLUE } else { RED };
        let points = timeline.iter().map(|p| {
            (
                p.second,
                if throughput {
                    p.requests as f64
                } else {
                    p.p99_ms
                },
            )
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
