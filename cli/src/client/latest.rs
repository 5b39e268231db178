//! The warning that a new release was made from a latest release that is
//! not the active one. A new release (a build, an env change) copies what
//! it does not change from the latest release, so after a change that was
//! never promoted or rolled back, the next one inherits it silently. After
//! `build`, `deploy`, `env set` and `env unset`, one line on stderr names
//! the env keys in which that base differs from the active release, and
//! the command that starts from the active release instead.

use super::output;
use super::Ctx;
use reqwest::Method;
use serde_json::Value;
use slipway_core::contract::ReleaseDiff;

/// Whether the new release also took its build from its base (an env
/// change does; a build brings its own).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Inherits {
    Env,
    EnvAndBuild,
}

/// Prints the warning when the release in `answer` (a write's answer with
/// `release`, and `deployment` when it was promoted) was made from a
/// release that is not the active one. The warning is advice: a lookup
/// that fails prints nothing.
pub async fn warn_if_based_on_inactive(ctx: &Ctx, app: &str, answer: &Value, inherits: Inherits) {
    if let Some(line) = warning(ctx, app, answer, inherits).await {
        output::err_line(line);
    }
}

async fn warning(ctx: &Ctx, app: &str, answer: &Value, inherits: Inherits) -> Option<String> {
    let made = answer["release"]["id"].as_str()?;
    // A promoted release's deployment names the release active when it
    // started; otherwise the app does.
    let active = match answer["deployment"]["previous_release"].as_str() {
        Some(active) => active.to_owned(),
        None if answer["deployment"].is_object() => return None,
        None => {
            let shown = ctx.api.get(&["apps", app]).await.ok()?;
            shown["active_release"].as_str()?.to_owned()
        }
    };
    let query = [("limit", "1".to_owned()), ("before", made.to_owned())];
    let releases = ctx
        .api
        .call(Method::GET, &["apps", app, "releases"], &query, None)
        .await
        .ok()?;
    let base = releases["releases"][0]["id"].as_str()?.to_owned();
    if base == active {
        return None;
    }
    let query = [("against", active.clone())];
    let path = ["apps", app, "releases", base.as_str(), "diff"];
    let diff = ctx.api.call(Method::GET, &path, &query, None).await.ok()?;
    let diff: ReleaseDiff = ctx.api.read(&diff).ok()?;
    line(made, &base, &active, &diff, inherits)
}

/// The one line, or None when the base differs from the active release in
/// nothing the new release took from it.
fn line(
    made: &str,
    base: &str,
    active: &str,
    diff: &ReleaseDiff,
    inherits: Inherits,
) -> Option<String> {
    let mut keys: Vec<&str> = [diff.env.added(), diff.env.changed(), diff.env.removed()]
        .into_iter()
        .flatten()
        .map(|k| super::clip(k))
        .collect();
    keys.sort_unstable();
    let build = inherits == Inherits::EnvAndBuild && diff.build.changed;
    let differs = match (keys.is_empty(), build) {
        (true, false) => return None,
        (true, true) => "its build".to_owned(),
        (false, false) => format!("env keys {}", keys.join(", ")),
        (false, true) => format!("env keys {} and its build", keys.join(", ")),
    };
    Some(format!(
        "WARNING: {made} was made from the latest release {base}, which is not the active \
         one ({active}) and differs from it in {differs}; to start from the active release \
         instead: slipway releases rollback {active}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use slipway_core::domain::ReleaseId;

    fn diff(added: &[&str], changed: &[&str], build_changed: bool) -> ReleaseDiff {
        serde_json::from_value(json!({
            "release": ReleaseId::generate(),
            "against": ReleaseId::generate(),
            "build": { "from": null, "to": null, "changed": build_changed },
            "env": { "added": added, "changed": changed, "removed": [] },
        }))
        .unwrap()
    }

    #[test]
    fn the_line_names_the_keys_and_the_rollback() {
        let line = line(
            "RNEW",
            "RBASE",
            "RACT",
            &diff(&["X"], &["BROKEN"], true),
            Inherits::Env,
        );
        assert_eq!(
            line.unwrap(),
            "WARNING: RNEW was made from the latest release RBASE, which is not the active one \
             (RACT) and differs from it in env keys BROKEN, X; to start from the active \
             release instead: slipway releases rollback RACT"
        );
        let both = line_of(&diff(&["X"], &[], true), Inherits::EnvAndBuild);
        assert!(both.unwrap().contains("env keys X and its build"));
        assert!(line_of(&diff(&[], &[], true), Inherits::EnvAndBuild)
            .unwrap()
            .contains("in its build;"));
        assert_eq!(line_of(&diff(&[], &[], true), Inherits::Env), None);
        assert_eq!(line_of(&diff(&[], &[], false), Inherits::EnvAndBuild), None);
    }

    fn line_of(diff: &ReleaseDiff, inherits: Inherits) -> Option<String> {
        line("RNEW", "RBASE", "RACT", diff, inherits)
    }
}
