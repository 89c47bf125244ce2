//! Daily counts as SVG charts drawn with plotters: a line or bars with axes and a title, or a
//! bare sparkline to sit inline in text.
//!
//! Text is laid out with a font compiled into the binary (DejaVu Sans, registered with
//! plotters' `ab_glyph` backend), so a server without any font installed draws the same chart.
//! The SVG names the generic `sans-serif` family; the viewer draws the glyphs. The title comes
//! from the request (a path): it is cleaned of characters XML forbids and shortened, and
//! plotters escapes what it writes.

use std::sync::Once;

use chrono::NaiveDate;
use plotters::prelude::*;
use plotters::style::{register_font, FontFamily, FontStyle};

use crate::{number, xml};

/// DejaVu Sans (see `assets/fonts/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// Characters of a title shown.
const MAX_TITLE_CHARS: usize = 60;

/// Sizes a chart may be drawn at, in pixels.
pub const WIDTHS: std::ops::RangeInclusive<u32> = 40..=2000;
pub const HEIGHTS: std::ops::RangeInclusive<u32> = 16..=1200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Line,
    Bars,
    /// No axes, no text: the trend alone.
    Sparkline,
}

impl Kind {
    pub const NAMES: &'static str = "line, bars or sparkline";

    pub fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "line" => Kind::Line,
            "bars" => Kind::Bars,
            "sparkline" => Kind::Sparkline,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub const NAMES: &'static str = "light or dark";

    pub fn parse(name: &str) -> Option<Theme> {
        Some(match name {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => return None,
        })
    }

    fn colors(self) -> Colors {
        match self {
            Theme::Light => Colors {
                background: RGBColor(255, 255, 255),
                text: RGBColor(51, 51, 51),
                grid: RGBColor(230, 230, 230),
                accent: RGBColor(0, 126, 198),
            },
            Theme::Dark => Colors {
                background: RGBColor(24, 26, 27),
                text: RGBColor(220, 220, 220),
                grid: RGBColor(60, 63, 65),
                accent: RGBColor(77, 171, 247),
            },
        }
    }
}

struct Colors {
    background: RGBColor,
    text: RGBColor,
    grid: RGBColor,
    accent: RGBColor,
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    pub title: &'a str,
    /// One value per day, in order.
    pub days: &'a [(NaiveDate, u64)],
    pub kind: Kind,
    pub theme: Theme,
    pub width: u32,
    pub height: u32,
}

/// A chart that could not be drawn (a size too small for its axes, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn failed(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// The chart as an SVG document.
pub fn render(chart: &Chart) -> Result<String, ChartError> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            unreachable!("the embedded font is a valid TrueType file");
        }
    });
    let width = chart.width.clamp(*WIDTHS.start(), *WIDTHS.end());
    let height = chart.height.clamp(*HEIGHTS.start(), *HEIGHTS.end());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        match chart.kind {
            Kind::Sparkline => sparkline(&root, chart)?,
            Kind::Line | Kind::Bars => full(&root, chart)?,
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

type Area<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;

fn top(days: &[(NaiveDate, u64)]) -> f64 {
    // Room above the highest day, and an axis even when every day is 0.
    (days.iter().map(|(_, n)| *n).max().unwrap_or(0) as f64 * 1.1).max(1.0)
}

fn sparkline(root: &Area, chart: &Chart) -> Result<(), ChartError> {
    let colors = chart.theme.colors();
    let n = chart.days.len().max(2) as f64 - 1.0;
    let mut plot = ChartBuilder::on(root)
        .margin(1)
        .build_cartesian_2d(0.0..n, 0.0..top(chart.days))
        .map_err(failed)?;
    let points = chart
        .days
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (i as f64, *v as f64));
    plot.draw_series(
        AreaSeries::new(points, 0.0, colors.accent.mix(0.15))
            .border_style(colors.accent.stroke_width(1)),
    )
    .map_err(failed)?;
    Ok(())
}

fn full(root: &Area, chart: &Chart) -> Result<(), ChartError> {
    let colors = chart.theme.colors();
    root.fill(&colors.background).map_err(failed)?;
    let title = xml::shorten(&xml::clean(chart.title), MAX_TITLE_CHARS);
    let bars = chart.kind == Kind::Bars;
    let n = chart.days.len() as f64;
    // Day i is at x = i: a point of the line, or the middle of its bar.
    let x_range = if bars {
        -0.5..(n - 0.5).max(0.5)
    } else {
        0.0..(n - 1.0).max(1.0)
    };
    let text = |size: f64| {
        FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal).color(&colors.text)
    };
    let mut plot = ChartBuilder::on(root)
        .caption(title, text(15.0))
        .margin(10)
        .x_label_area_size(22)
        .y_label_area_size(44)
        .build_cartesian_2d(x_range, 0.0..top(chart.days))
        .map_err(failed)?;
    let days = chart.days;
    // Labels only where a day is.
    let date_label = |x: &f64| {
        if (x - x.round()).abs() > 1e-6 || *x < 0.0 {
            return String::new();
        }
        days.get(x.round() as usize)
            .map(|(d, _)| d.format("%b %-d").to_string())
            .unwrap_or_default()
    };
    plot.configure_mesh()
        .disable_x_mesh()
        .x_labels(days.len().clamp(2, 6))
        .y_labels(5)
        .x_label_formatter(&date_label)
        .y_label_formatter(&|v| number::compact(v.round().max(0.0) as u64))
        .label_style(text(11.0))
        .axis_style(colors.grid)
        .bold_line_style(colors.grid)
        .max_light_lines(0)
        .draw()
        .map_err(failed)?;
    if bars {
        plot.draw_series(days.iter().enumerate().map(|(i, (_, v))| {
            let x = i as f64;
            Rectangle::new(
                [(x - 0.35, 0.0), (x + 0.35, *v as f64)],
                colors.accent.filled(),
            )
        }))
        .map_err(failed)?;
    } else {
        let points = days
            .iter()
            .enumerate()
            .map(|(i, (_, v))| (i as f64, *v as f64));
        plot.draw_series(
            AreaSeries::new(points, 0.0, colors.accent.mix(0.12))
                .border_style(colors.accent.stroke_width(2)),
        )
        .map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days() -> Vec<(NaiveDate, u64)> {
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        [3, 5, 2, 8, 13, 21, 0, 7, 9, 12, 4, 6, 1, 30]
            .iter()
            .enumerate()
            .map(|(i, n)| (first + chrono::Duration::days(i as i64), *n))
            .collect()
    }

    fn draw(kind: Kind, theme: Theme) -> String {
        render(&Chart {
            title: "Visitors of /blog/hello",
            days: &days(),
            kind,
            theme,
            width: 480,
            height: 200,
        })
        .unwrap()
    }

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("line_light", draw(Kind::Line, Theme::Light));
        insta::assert_snapshot!("bars_dark", draw(Kind::Bars, Theme::Dark));
        insta::assert_snapshot!("sparkline", draw(Kind::Sparkline, Theme::Light));
    }

    #[test]
    fn empty_and_tiny_charts_still_draw() {
        for kind in [Kind::Line, Kind::Bars, Kind::Sparkline] {
            for (width, height) in [(40, 16), (2000, 1200), (1, 1)] {
                let days = [(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), 0)];
                let drawn = render(&Chart {
                    title: "",
                    days: if width == 1 { &[] } else { &days },
                    kind,
                    theme: Theme::Light,
                    width,
                    height,
                });
                // Too small for axes is an error to report, never a panic.
                if let Ok(svg) = drawn {
                    assert!(svg.starts_with("<svg"), "{svg}");
                }
            }
        }
    }
}
