//! Checking the store's history queries on the seeded app: none may scan
//! releases, deployments or builds sequentially, read more than a page's
//! worth of their rows, or sort more than that.

use serde_json::Value;
use slipway_core::store::QueryPlan;

/// The tables whose rows grow with an app's history.
const HISTORY: [&str; 3] = ["releases", "deployments", "builds"];
/// The most rows a scan of them may read, or a sort may sort, in one query:
/// a page is at most 100 (and a handful of deployments per release).
const MOST_ROWS: f64 = 1_000.0;

/// Rows a node produced over all its loops.
fn rows(node: &Value) -> f64 {
    let get = |key: &str| node[key].as_f64().unwrap_or(0.0);
    get("Actual Rows") * get("Actual Loops").max(1.0)
}

/// Rows a scan read: produced, and thrown away by its filter or recheck.
fn read(node: &Value) -> f64 {
    let get = |key: &str| node[key].as_f64().unwrap_or(0.0);
    rows(node) + get("Rows Removed by Filter") + get("Rows Removed by Index Recheck")
}

/// Walks the plan depth first: one line per node, and what is wrong.
fn walk(node: &Value, depth: usize, lines: &mut Vec<String>, wrong: &mut Vec<String>) {
    let kind = node["Node Type"].as_str().unwrap_or("?");
    let relation = node["Relation Name"].as_str();
    let mut line = format!("{:indent$}{kind}", "", indent = 4 + 2 * depth);
    if let Some(index) = node["Index Name"].as_str() {
        line += &format!(" using {index}");
    }
    if let Some(relation) = relation {
        line += &format!(" on {relation}");
    }
    line += &format!(" (rows {}", rows(node));
    let removed = read(node) - rows(node);
    if removed > 0.0 {
        line += &format!(", removed {removed}");
    }
    line += ")";
    lines.push(line);
    let history = relation.is_some_and(|r| HISTORY.contains(&r));
    if history && kind == "Seq Scan" {
        wrong.push(format!("a Seq Scan on {}", relation.unwrap()));
    }
    if history && read(node) > MOST_ROWS {
        wrong.push(format!(
            "{kind} on {} reads {} rows",
            relation.unwrap(),
            read(node)
        ));
    }
    let children = node["Plans"].as_array().cloned().unwrap_or_default();
    if kind == "Sort" || kind == "Incremental Sort" {
        let sorted: f64 = children.iter().map(rows).sum();
        if sorted > MOST_ROWS {
            wrong.push(format!("a {kind} of {sorted} rows"));
        }
    }
    for child in &children {
        walk(child, depth + 1, lines, wrong);
    }
}

/// Prints every plan's nodes; whether all of them pass.
pub(crate) fn check(plans: &[QueryPlan]) -> bool {
    let mut passed = true;
    for plan in plans {
        let root = &plan.plan[0]["Plan"];
        let time = plan.plan[0]["Execution Time"].as_f64().unwrap_or(f64::NAN);
        let (mut lines, mut wrong) = (Vec::new(), Vec::new());
        walk(root, 0, &mut lines, &mut wrong);
        let verdict = if wrong.is_empty() {
            "ok".to_owned()
        } else {
            format!("FAILED: {}", wrong.join("; "))
        };
        println!("  {} ({time:.3} ms): {verdict}", plan.name);
        for line in lines {
            println!("{line}");
        }
        passed &= wrong.is_empty();
    }
    passed
}
