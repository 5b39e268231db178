//! `slipway tokens` against a real `slipway dev`: a CI token limited to one
//! app and scope, what it may and may not do, and revocation.

use crate::support::{dev_client, Client};

#[test]
fn a_ci_token_deploys_its_app_and_nothing_else() {
    let data = tempfile::tempdir().unwrap();
    let (_server, admin) = dev_client(data.path());
    admin.run(&["apps", "create", "shop"]).ok();
    admin.run(&["apps", "create", "blog"]).ok();

    let out = admin
        .run(&[
            "tokens",
            "create",
            "github-ci",
            "--scope",
            "deploy",
            "--apps",
            "shop",
            "--expires-in",
            "90d",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Token: T"), "{out}");
    let secret = lines[1]
        .strip_prefix("Secret: ")
        .expect("the token")
        .to_owned();
    assert!(secret.starts_with("slp_") && secret.len() == 47, "{out}");
    let id = lines[0].trim_start_matches("Token: ").to_owned();

    let listed = admin.run(&["tokens"]).ok();
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "NAME", "SCOPE", "APPS", "CREATED", "LAST", "USED", "EXPIRES"]
    );
    let row = listed
        .lines()
        .find(|l| l.contains("github-ci"))
        .expect(&listed);
    assert!(
        row.contains("deploy") && row.contains("shop") && row.contains("never"),
        "{row}"
    );
    assert!(!listed.contains(&secret), "the list never shows the token");

    let ci = Client::new(&admin.url, &secret);
    ci.manifest("shop", "--healthy-after-ms 100", 1);
    assert!(ci.run(&["build"]).ok().contains("Release: R"));
    let line = ci.run(&["apps", "create", "other"]).error(1);
    assert!(line.contains("scope `admin`"), "{line}");
    let line = ci.run(&["releases", "--app", "blog"]).error(1);
    assert!(line.contains("may not act on app `blog`"), "{line}");

    let json = admin.run(&["tokens", "--json"]).json();
    let used = json["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "github-ci")
        .unwrap()["last_used_at"]
        .clone();
    assert!(used.is_string(), "{json}");

    assert_eq!(
        admin.run(&["tokens", "remove", &id]).ok().trim(),
        format!("Removing {id}... OK")
    );
    let line = ci.run(&["releases"]).error(1);
    assert!(line.contains("unknown or expired token"), "{line}");
    let bad = admin.run(&["tokens", "create", "x", "--scope", "root"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
}
