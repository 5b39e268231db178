//! Console sessions: stored hashed, acting as their token, ended by
//! signing out, by expiry and with their token.

use chrono::{TimeDelta, Utc};
use slipway_core::domain::{Scope, TokenName};
use slipway_core::secret::hash_token;
use slipway_core::store::{Backend, NewToken, SESSION_LIFETIME};
use slipway_core::testing::TestDatabase;

crate::on_both_backends!(sessions_act_as_their_token_until_they_end);

fn sessions_act_as_their_token_until_they_end(backend: Backend) {
    let db = TestDatabase::new(backend);
    let store = db.store();
    let new = NewToken {
        name: TokenName::parse("browser").unwrap(),
        scope: Scope::Deploy,
        apps: vec![],
        lifetime: None,
    };
    let (token, _) = store.create_token(&new).unwrap();

    let opened = store.create_session(&token.id, SESSION_LIFETIME).unwrap();
    let id = opened.id.expose().clone();
    assert_eq!(id.len(), 64);
    let lasts = opened.expires_at - Utc::now();
    assert!(lasts > TimeDelta::hours(11) && lasts <= TimeDelta::hours(12));
    assert!(store.get_session(&id).unwrap().is_none(), "stored hashed");
    let hash = hash_token(&id);
    let session = store.get_session(&hash).unwrap().expect("a live session");
    assert_eq!(session.identity.token, token.id);
    assert_eq!(session.identity.name, "browser");
    assert_eq!(session.identity.grant.scope, Scope::Deploy);
    let other = store.create_session(&token.id, SESSION_LIFETIME).unwrap();
    let other_hash = hash_token(other.id.expose());
    let other_session = store.get_session(&other_hash).unwrap().unwrap();
    assert_ne!(
        session.csrf_secret.expose(),
        other_session.csrf_secret.expose(),
        "each session has its own CSRF secret"
    );

    assert!(store.delete_session(&hash).unwrap(), "signed out");
    assert!(store.get_session(&hash).unwrap().is_none());
    assert!(!store.delete_session(&hash).unwrap());

    store
        .set_session_expiry(&other_hash, Utc::now() - TimeDelta::seconds(1))
        .unwrap();
    assert!(store.get_session(&other_hash).unwrap().is_none(), "expired");
    assert!(!store.delete_session(&other_hash).unwrap(), "and deleted");

    let third = store.create_session(&token.id, SESSION_LIFETIME).unwrap();
    let third_hash = hash_token(third.id.expose());
    let stale = store
        .create_session(&token.id, TimeDelta::seconds(-1))
        .unwrap();
    assert_eq!(
        store.delete_expired_sessions().unwrap(),
        1,
        "only the stale one"
    );
    assert!(!store
        .delete_session(&hash_token(stale.id.expose()))
        .unwrap());
    store.delete_token(&token.id, "admin").unwrap();
    assert!(
        store.get_session(&third_hash).unwrap().is_none(),
        "ends with its token"
    );

    // A token that expires ends its sessions too.
    let brief = NewToken {
        name: TokenName::parse("brief").unwrap(),
        lifetime: Some(TimeDelta::seconds(-1)),
        ..new
    };
    let (brief, _) = store.create_token(&brief).unwrap();
    let opened = store.create_session(&brief.id, SESSION_LIFETIME).unwrap();
    let hash = hash_token(opened.id.expose());
    assert!(
        store.get_session(&hash).unwrap().is_none(),
        "its token expired"
    );
    assert!(!store.delete_session(&hash).unwrap(), "and it was deleted");
}
