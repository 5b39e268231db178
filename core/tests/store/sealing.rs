//! Secrets at rest: env values and webhook secrets are sealed in the
//! database, open with the current or the previous key, and `rekey` moves
//! them (and rows from before sealing) to the current key.

use crate::{change, env_of, fixture, on_both_backends, Fixture};
use slipway_core::domain::{
    AppName, EventPattern, ReleaseId, Scope, TokenName, WebhookId, WebhookKind,
};
use slipway_core::seal::{generate_key, Keyring, Purpose, SealError};
use slipway_core::secret::{hash_token, Secret};
use slipway_core::store::{
    Backend, IdempotencyGuard, NewRelease, NewToken, NewWebhook, Prior, PromoteOptions, Rekeyed,
    Store, StoreError,
};
use slipway_core::testing::TestDatabase;
use std::sync::Arc;

on_both_backends!(
    env_values_and_webhook_secrets_are_not_stored_in_plaintext,
    a_rotated_key_still_opens_and_rekey_moves_everything_to_the_new_key,
    rows_from_before_sealing_are_read_and_rekey_seals_them,
    a_store_without_a_keyring_refuses_sealed_values,
    a_tampered_value_fails_to_open,
    callers_seal_their_own_values_by_purpose,
);

/// A value that appears nowhere unless this test wrote it.
fn unique(label: &str) -> String {
    let key = generate_key().unwrap();
    let tail: String = key
        .expose()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    format!("{label}-{tail}")
}

fn subscribe(store: &Store) -> (WebhookId, Secret<String>) {
    let new = NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Generic,
        events: vec![EventPattern::parse("*").unwrap()],
        apps: vec![],
        description: "ci".into(),
    };
    let (webhook, secret) = store.create_webhook(&new, "tester").unwrap();
    (webhook.id, secret)
}

/// The secrets a worker would sign the next due delivery with.
fn signing_secrets(store: &Store) -> Result<Vec<String>, StoreError> {
    let claimed = store.claim_deliveries("test-worker", 1, 100, chrono::TimeDelta::seconds(60))?;
    let due = claimed.into_iter().next().expect("a due delivery");
    Ok(due.secrets.iter().map(|s| s.expose().clone()).collect())
}

fn keyring(current: &Secret<String>, previous: Option<&Secret<String>>) -> Keyring {
    Keyring::from_base64(current.expose(), previous.map(|p| p.expose().as_str())).unwrap()
}

fn env_values_and_webhook_secrets_are_not_stored_in_plaintext(backend: Backend) {
    let f = fixture(backend);
    let (api_key, password) = (unique("api-key-value"), unique("password-value"));
    f.build(None);
    let first = f
        .change_env(&[("API_KEY", &api_key), ("DB_PASSWORD", &password)], &[])
        .unwrap();
    let explicit = unique("explicit-value");
    let env = change(&[("EXPLICIT", &explicit)], &[]);
    let new = NewRelease {
        env: Some(env_of(&f.store, &f.app, &first.id).apply(&env).unwrap()),
        ..NewRelease::default()
    };
    f.store.create_release(&f.app, &new, "tester").unwrap();
    let (rolled, _) = f
        .store
        .rollback(&f.app, &first.id, &PromoteOptions::default(), "tester")
        .unwrap();
    let (hook, old_secret) = subscribe(&f.store);
    let (_, new_secret) = f.store.rotate_webhook_secret(&hook).unwrap();
    f.change_env(&[("AFTER", "x")], &[]);

    // Everything still reads back as written.
    let env = env_of(&f.store, &f.app, &rolled.id);
    assert_eq!(env.get("API_KEY"), Some(api_key.as_str()));
    assert_eq!(
        signing_secrets(&f.store).unwrap(),
        [new_secret.expose().clone(), old_secret.expose().clone()]
    );

    // The search finds what is stored in the clear (keys, names) ...
    assert!(f.db.raw_contains("DB_PASSWORD"));
    assert!(f.db.raw_contains("example.com/hook"));
    // ... and no value or secret, whole or base64 part.
    for secret in [&old_secret, &new_secret] {
        let text = secret.expose();
        assert!(!f.db.raw_contains(text));
        assert!(!f.db.raw_contains(text.trim_start_matches("whsec_")));
    }
    for value in [&api_key, &password, &explicit] {
        assert!(!f.db.raw_contains(value), "{value} is stored in plaintext");
    }
}

fn a_rotated_key_still_opens_and_rekey_moves_everything_to_the_new_key(backend: Backend) {
    let db = TestDatabase::new(backend);
    let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
    let app = AppName::parse("myapp").unwrap();
    let on_a = db.store_with_keyring(keyring(&a, None));
    on_a.verify_keyring().unwrap();
    on_a.create_app(&app, None, "tester").unwrap();
    let (hook, old_secret) = subscribe(&on_a);
    let (_, secret) = on_a.rotate_webhook_secret(&hook).unwrap();
    let mut releases = Vec::new();
    for i in 0..5 {
        let value = format!("value-{i}");
        let set = change(&[("N", &value)], &[]);
        let release = on_a.change_env(&app, &set, None, "tester").unwrap();
        releases.push(release.unwrap().id);
    }
    let expect = |store: &Store, release: &ReleaseId, value: &str| {
        let env = store.get_release(&app, release).unwrap().env.unwrap();
        assert_eq!(env.get("N"), Some(value));
    };
    let secrets = vec![secret.expose().clone(), old_secret.expose().clone()];
    // A response kept for an Idempotency-Key, sealed under A.
    let new_token = NewToken {
        name: TokenName::parse("ci").unwrap(),
        scope: Scope::Deploy,
        apps: vec![],
        lifetime: None,
    };
    let (token, secret) = on_a.create_token(&new_token).unwrap();
    let guard = Arc::new(IdempotencyGuard::new(
        token.id.clone(),
        "k".into(),
        "f".into(),
    ));
    on_a.guarded(guard.clone())
        .create_app(&AppName::parse("other").unwrap(), None, "ci")
        .unwrap();
    on_a.record_idempotent_response(&guard, 201, "{\"name\":\"other\"}")
        .unwrap();
    let hash = hash_token(secret.expose());
    let replay = |store: &Store| {
        let found = store.authenticate_with_prior(&hash, "k", "f")?;
        Ok::<_, StoreError>(found.expect("the token authenticates").1)
    };
    let response = Prior::Done {
        status: 201,
        body: "{\"name\":\"other\"}".into(),
    };

    // Rotated: B seals, A still opens.
    let rotated = db.store_with_keyring(keyring(&b, Some(&a)));
    rotated.verify_keyring().unwrap();
    expect(&rotated, &releases[0], "value-0");
    assert_eq!(signing_secrets(&rotated).unwrap(), secrets);
    let set = change(&[("N", "value-5")], &[]);
    let sealed_under_b = rotated.change_env(&app, &set, None, "tester").unwrap();
    releases.push(sealed_under_b.unwrap().id);

    // B alone opens only what B sealed, until rekey.
    let only_b = db.store_with_keyring(keyring(&b, None));
    assert!(matches!(
        only_b.verify_keyring(),
        Err(StoreError::WrongKey(SealError::UnknownKey { .. }))
    ));
    expect(&only_b, &releases[5], "value-5");
    let err = only_b.get_release(&app, &releases[0]).unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::UnreadableRelease { release, source: SealError::UnknownKey { .. }, .. }
                if release == releases[0].as_str()
        ),
        "{err}"
    );

    assert!(replay(&only_b).is_err(), "a response sealed under A");

    let rekeyed = rotated.rekey(2).unwrap();
    assert_eq!(
        rekeyed,
        Rekeyed {
            releases: 5,
            webhooks: 1,
            responses: 1,
            key_check: true
        }
    );
    assert_eq!(rotated.rekey(2).unwrap(), Rekeyed::default(), "idempotent");

    only_b.verify_keyring().unwrap();
    for (i, release) in releases.iter().enumerate() {
        expect(&only_b, release, &format!("value-{i}"));
    }
    assert_eq!(signing_secrets(&only_b).unwrap(), secrets);
    assert_eq!(replay(&only_b).unwrap(), response);
    let only_a = db.store_with_keyring(keyring(&a, None));
    assert!(matches!(
        only_a.verify_keyring(),
        Err(StoreError::WrongKey(_))
    ));
    assert!(only_a.get_release(&app, &releases[0]).is_err());
}

fn rows_from_before_sealing_are_read_and_rekey_seals_them(backend: Backend) {
    let f = fixture(backend);
    f.store.verify_keyring().unwrap();
    let release = f.change_env(&[("LEGACY", "placeholder")], &[]).unwrap();
    let (hook, _) = subscribe(&f.store);
    f.change_env(&[("AFTER", "x")], &[]);
    // Rows as they were written before sealing: plaintext JSON and whsec_.
    let value = unique("legacy-value");
    let secret = format!("whsec_{}", unique("legacy").replace('-', ""));
    f.db.execute(&format!(
        "UPDATE releases SET env = '{{\"LEGACY\":\"{value}\"}}' WHERE id = '{}';
         UPDATE webhooks SET secret = '{secret}' WHERE id = '{}';",
        release.id, hook
    ));
    assert!(f.db.raw_contains(&value), "the search sees plaintext");
    assert_eq!(
        env_of(&f.store, &f.app, &release.id).get("LEGACY"),
        Some(value.as_str())
    );
    assert_eq!(signing_secrets(&f.store).unwrap(), vec![secret.clone()]);

    let rekeyed = f.store.rekey(100).unwrap();
    assert_eq!((rekeyed.releases, rekeyed.webhooks), (1, 1));
    assert!(!f.db.raw_contains(&value));
    assert!(!f.db.raw_contains(&secret));
    assert_eq!(
        env_of(&f.store, &f.app, &release.id).get("LEGACY"),
        Some(value.as_str())
    );
    assert_eq!(f.store.rekey(100).unwrap(), Rekeyed::default());
}

fn a_store_without_a_keyring_refuses_sealed_values(backend: Backend) {
    let f = fixture(backend);
    let release = f.change_env(&[("A", "1")], &[]).unwrap();
    let bare = f.db.store_without_keyring();
    let no_key = |result: Result<(), StoreError>| {
        let err = result.unwrap_err();
        assert!(matches!(err, StoreError::NoKeyring), "{err}");
        assert!(err.to_string().contains("no secret key"), "{err}");
    };
    no_key(
        bare.change_env(&f.app, &change(&[("B", "2")], &[]), None, "t")
            .map(drop),
    );
    no_key(bare.get_release(&f.app, &release.id).map(drop));
    no_key(bare.get_env(&f.app).map(drop));
    no_key(
        bare.create_release(&f.app, &NewRelease::default(), "t")
            .map(drop),
    );
    no_key(bare.create_webhook(&webhook(), "t").map(drop));
    no_key(bare.verify_keyring());
    no_key(bare.rekey(10).map(drop));
    no_key(bare.seal(Purpose::RELEASE_ENV, "x").map(drop));
    // Nothing was written; what holds no secret still reads.
    assert_eq!(bare.list_releases(&f.app, 100, None).unwrap().len(), 1);
    assert!(f.store.list_webhooks().unwrap().is_empty());
}

fn webhook() -> NewWebhook {
    NewWebhook {
        url: "https://example.com/hook".into(),
        kind: WebhookKind::Generic,
        events: vec![EventPattern::parse("*").unwrap()],
        apps: vec![],
        description: String::new(),
    }
}

/// Changes one base64 character in the middle of a sealed column (both
/// databases have `substr` and `||`).
fn tamper(f: &Fixture, table: &str, column: &str, id: &str) {
    f.db.execute(&format!(
        "UPDATE {table} SET {column} = substr({column}, 1, 20)
           || CASE substr({column}, 21, 1) WHEN 'A' THEN 'B' ELSE 'A' END
           || substr({column}, 22)
         WHERE id = '{id}'"
    ));
}

fn a_tampered_value_fails_to_open(backend: Backend) {
    let f = fixture(backend);
    let value = unique("tamper-value");
    let release = f.change_env(&[("A", &value)], &[]).unwrap();
    let (hook, _) = subscribe(&f.store);
    f.change_env(&[("B", "2")], &[]);
    tamper(&f, "releases", "env", release.id.as_str());
    tamper(&f, "webhooks", "secret", hook.as_str());

    let err = f.store.get_release(&f.app, &release.id).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::UnreadableRelease {
                source: SealError::Rejected,
                ..
            }
        ),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains(&value));
    assert!(matches!(
        signing_secrets(&f.store),
        Err(StoreError::Seal(SealError::Rejected))
    ));
    // The env of the latest release is untouched: the app still works.
    assert_eq!(
        f.store.get_env(&f.app).unwrap().0.get("A"),
        Some(value.as_str())
    );
}

fn callers_seal_their_own_values_by_purpose(backend: Backend) {
    let f = fixture(backend);
    let purpose = Purpose::new("idempotent-response");
    let body = r#"{"token": "slp_not_a_real_one"}"#;
    let sealed = f.store.seal(purpose, body).unwrap();
    assert!(!sealed.contains("slp_"));
    assert_eq!(f.store.open(purpose, &sealed).unwrap(), body);
    assert!(matches!(
        f.store.open(Purpose::RELEASE_ENV, &sealed),
        Err(StoreError::Seal(SealError::Rejected))
    ));
    let other = TestDatabase::new(backend).store();
    assert!(matches!(
        other.open(purpose, &sealed),
        Err(StoreError::Seal(SealError::UnknownKey { .. }))
    ));
}
