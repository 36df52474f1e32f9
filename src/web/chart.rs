//! Charts drawn on the server as SVG: no script, no asset, readable
//! without one. Pure: series in, markup out.

use maud::{Markup, html};

/// One line of a chart: its name, colour and points (x, y); a point
/// without y breaks the line.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub points: Vec<(f64, Option<f64>)>,
    /// Drawn dashed: a projection or a limit rather than a measurement.
    pub dashed: bool,
}

/// What a chart shows.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Said to screen readers and shown as the figure's caption.
    pub caption: String,
    pub series: Vec<Series>,
    /// Labels under the x axis at these x.
    pub x_labels: Vec<(f64, String)>,
    /// Dashed vertical lines (a toner replaced) at these x, with a label.
    pub marks: Vec<(f64, String)>,
    /// The y axis from 0 to at least this (100 for levels in %).
    pub y_at_least: f64,
    /// The unit of y, written after the top tick.
    pub y_unit: &'static str,
}

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 28.0;

impl Chart {
    /// The chart as an SVG figure with a legend.
    pub fn render(&self) -> Markup {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(self.x_labels.iter().map(|l| l.0));
        let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let (x0, x1) = if x0 < x1 { (x0, x1) } else { (0.0, 1.0) };
        let y_max = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| p.1))
            .fold(self.y_at_least, f64::max)
            .max(1.0);
        let y_max = nice(y_max);
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let py = |y: f64| TOP + (1.0 - y / y_max) * (H - TOP - BOTTOM);
        let paths: Vec<(String, &Series)> = self
            .series
            .iter()
            .map(|s| {
                let mut d = String::new();
                let mut pen_down = false;
                for (x, y) in &s.points {
                    match y {
                        Some(y) => {
                            let cmd = if pen_down { 'L' } else { 'M' };
                            d.push_str(&format!("{cmd}{:.1},{:.1} ", px(*x), py(*y)));
                            pen_down = true;
                        }
                        None => pen_down = false,
                    }
                }
                (d, s)
            })
            .collect();
        let ticks = [0.0, y_max / 2.0, y_max];
        html! {
            figure class="chart" {
                svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(self.caption) xmlns="http://www.w3.org/2000/svg" {
                    title { (self.caption) }
                    @for t in ticks {
                        line x1=(LEFT) x2=(W - RIGHT) y1=(format!("{:.1}", py(t))) y2=(format!("{:.1}", py(t))) stroke="#d0d5dc" {}
                        text x=(LEFT - 6.0) y=(format!("{:.1}", py(t) + 4.0)) text-anchor="end" font-size="11" fill="#4a5360" {
                            (tick_text(t))
                        }
                    }
                    @for (i, (x, label)) in self.x_labels.iter().enumerate() {
                        @let anchor = if i == 0 { "start" } else if i + 1 == self.x_labels.len() { "end" } else { "middle" };
                        text x=(format!("{:.1}", px(*x))) y=(H - 8.0) text-anchor=(anchor) font-size="11" fill="#4a5360" { (label) }
                    }
                    text x="4" y="12" font-size="11" fill="#4a5360" { (self.y_unit) }
                    @for (x, label) in &self.marks {
                        line x1=(format!("{:.1}", px(*x))) x2=(format!("{:.1}", px(*x))) y1=(TOP) y2=(H - BOTTOM) stroke="#4a5360" stroke-dasharray="4 3" {
                            title { (label) }
                        }
                    }
                    @for (d, s) in &paths {
                        @if !d.is_empty() {
                            path d=(d) fill="none" stroke=(s.colour) stroke-width="2" stroke-dasharray=[s.dashed.then_some("6 4")] {
                                title { (s.name) }
                            }
                        }
                    }
                }
                figcaption {
                    span class="legend" {
                        @for s in &self.series {
                            span { i class=[s.dashed.then_some("dashed")] style=(format!("background:{}", s.colour)) {} (s.name) }
                        }
                    }
                    (self.caption)
                }
            }
        }
    }
}

/// A round number at or above `y` for the top of the axis.
fn nice(y: f64) -> f64 {
    let magnitude = 10f64.powf(y.log10().floor());
    for step in [1.0, 1.2, 1.5, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= y {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn tick_text(t: f64) -> String {
    if t >= 1e6 {
        format!("{} M", tick_text(t / 1e6))
    } else if t >= 1e4 {
        format!("{} k", tick_text(t / 1e3))
    } else if t.fract() == 0.0 {
        format!("{t:.0}")
    } else {
        format!("{t:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_its_lines_and_breaks_at_gaps() {
        let chart = Chart {
            caption: "Pages per day".into(),
            series: vec![Series {
                name: "b/w".into(),
                colour: "#222",
                points: vec![
                    (0.0, Some(10.0)),
                    (1.0, Some(30.0)),
                    (2.0, None),
                    (3.0, Some(5.0)),
                ],
                dashed: false,
            }],
            x_labels: vec![(0.0, "1.9".into()), (3.0, "4.9".into())],
            marks: vec![(1.5, "replaced".into())],
            y_at_least: 0.0,
            y_unit: "pages",
        };
        let svg = chart.render().into_string();
        assert!(
            svg.contains("<svg") && svg.contains("role=\"img\""),
            "{svg}"
        );
        // Two pieces: M…L… then M… after the gap.
        let d = svg.split(" d=\"").nth(1).unwrap();
        assert_eq!(
            d.split('"').next().unwrap().matches('M').count(),
            2,
            "{svg}"
        );
        assert!(svg.contains("stroke-dasharray"), "{svg}");
        assert!(svg.contains(">50</text>"), "the top tick is round: {svg}");
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice(37.0), 50.0);
        assert_eq!(nice(100.0), 100.0);
        assert_eq!(nice(1_234.0), 1_500.0);
        assert_eq!(nice(115.0), 120.0);
        assert_eq!(nice(1.0), 1.0);
        assert_eq!(tick_text(2_500_000.0), "2.5 M");
        assert_eq!(tick_text(50_000.0), "50 k");
        assert_eq!(tick_text(115.0), "115");
    }
}
