//! Figures: percentiles, and the table printed with each figure's goal.

/// The `p`th percentile (0–100) by nearest rank; NaN for no values.
pub(crate) fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    }
}

/// How many of the intervals `(start, end)` overlap at most at one time.
pub(crate) fn peak_overlap(intervals: &[(f64, f64)]) -> usize {
    let mut edges: Vec<(f64, i32)> = intervals
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    // At equal times the end comes first: back-to-back is not at once.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        peak = peak.max(now);
    }
    peak as usize
}

/// One line of the table: a figure, and its goal if it has one.
pub(crate) struct Row {
    figure: String,
    measured: String,
    goal: Option<(String, bool)>,
}

#[derive(Default)]
pub(crate) struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// A figure without a goal.
    pub(crate) fn info(&mut self, figure: &str, measured: String) {
        self.rows.push(Row {
            figure: figure.to_owned(),
            measured,
            goal: None,
        });
    }

    /// A figure that must be at most `goal` (`unit` follows both).
    pub(crate) fn at_most(&mut self, figure: &str, value: f64, goal: f64, unit: &str) {
        let digits = if unit.is_empty() { 2 } else { 3 };
        self.rows.push(Row {
            figure: figure.to_owned(),
            measured: format!("{value:.digits$}{unit}"),
            goal: Some((format!("≤ {goal:.digits$}{unit}"), value <= goal)),
        });
    }

    /// Prints the table; whether every goal was met.
    pub(crate) fn print(&self, title: &str) -> bool {
        println!("\n{title}");
        let width = |f: fn(&Row) -> usize| self.rows.iter().map(f).max().unwrap_or(0);
        let figure = width(|r| r.figure.chars().count());
        let measured = width(|r| r.measured.chars().count()).max(8);
        println!("  {:<figure$}  {:>measured$}  goal", "figure", "measured");
        let mut met = true;
        for row in &self.rows {
            let goal = match &row.goal {
                None => String::new(),
                Some((goal, true)) => goal.clone(),
                Some((goal, false)) => {
                    met = false;
                    format!("{goal}  MISSED")
                }
            };
            println!(
                "  {:<figure$}  {:>measured$}  {goal}",
                row.figure, row.measured
            );
        }
        met
    }
}
