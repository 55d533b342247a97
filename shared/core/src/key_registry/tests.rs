use super::*;
use crate::clock::FixedClock;
use crate::memory::MemoryKv;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn registry() -> (KeyRegistry, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(at("2026-12-03T10:00:00Z")));
    (KeyRegistry::new(Arc::new(MemoryKv::default()), clock.clone()), clock)
}

fn configured() -> WriteKeys {
    WriteKeys::parse("configured-key-1=web").unwrap()
}

#[test]
fn a_new_key_is_accepted_for_its_source_and_listed_without_its_secret() {
    futures::executor::block_on(async {
        let (registry, _) = registry();
        let made = registry.create("app", Some("ios app")).await.unwrap();
        assert!(made.secret.starts_with("tmk_") && made.secret.len() == 68, "{}", made.secret);
        let keys = registry.effective(&configured()).await.unwrap();
        assert_eq!(keys.source_of(&made.secret), Some("app"));
        assert_eq!(keys.source_of("configured-key-1"), Some("web"), "the configured keys stay");
        let listed = registry.list().await.unwrap();
        assert_eq!(listed, vec![made.key.clone()]);
        assert_eq!(listed[0].label.as_deref(), Some("ios app"));
        let shown = serde_json::to_string(&listed).unwrap();
        assert!(!shown.contains(&made.secret) && !shown.contains("digest"), "{shown}");
    });
}

#[test]
fn two_keys_differ_and_each_maps_to_its_own_source() {
    futures::executor::block_on(async {
        let (registry, _) = registry();
        let web = registry.create("web", None).await.unwrap();
        let app = registry.create("app", None).await.unwrap();
        assert_ne!(web.secret, app.secret);
        assert_ne!(web.key.id, app.key.id);
        let keys = registry.effective(&configured()).await.unwrap();
        assert_eq!((keys.source_of(&web.secret), keys.source_of(&app.secret)), (Some("web"), Some("app")));
    });
}

#[test]
fn a_revoked_key_is_refused_and_listed_as_revoked() {
    futures::executor::block_on(async {
        let (registry, clock) = registry();
        let made = registry.create("web", None).await.unwrap();
        clock.set(at("2026-12-03T11:00:00Z"));
        let revoked = registry.revoke(&made.key.id).await.unwrap();
        assert_eq!(revoked.revoked_at, Some(at("2026-12-03T11:00:00Z")));
        let keys = registry.effective(&configured()).await.unwrap();
        assert_eq!(keys.source_of(&made.secret), None);
        assert_eq!(registry.list().await.unwrap(), vec![revoked]);
        assert!(matches!(registry.revoke(&made.key.id).await, Err(KeyError::Unknown(_))), "revoked once only");
    });
}

#[test]
fn bad_input_is_refused_naming_the_rule() {
    futures::executor::block_on(async {
        let (registry, _) = registry();
        assert!(matches!(registry.create("Web Site", None).await, Err(KeyError::BadSource(_))));
        assert!(matches!(registry.create("web", Some(&"x".repeat(65))).await, Err(KeyError::BadLabel)));
        assert!(matches!(registry.create("web", Some("a\nb")).await, Err(KeyError::BadLabel)));
        for id in ["", "../../etc", "ABCDEF012345", "0123456789abc", "0123456789ab"] {
            assert!(matches!(registry.revoke(id).await, Err(KeyError::Unknown(_))), "{id:?}");
        }
        assert!(registry.list().await.unwrap().is_empty());
    });
}

#[test]
fn active_keys_are_bounded_and_revoked_records_trimmed() {
    futures::executor::block_on(async {
        let (registry, clock) = registry();
        let mut made = Vec::new();
        for i in 0..MAX_KEYS {
            clock.set(at("2026-12-03T10:00:00Z") + chrono::Duration::seconds(i as i64));
            made.push(registry.create("web", None).await.unwrap());
        }
        assert!(matches!(registry.create("web", None).await, Err(KeyError::TooMany)));
        for key in made.iter().take(KEEP_REVOKED + 5) {
            registry.revoke(&key.key.id).await.unwrap();
        }
        let listed = registry.list().await.unwrap();
        let revoked = listed.iter().filter(|k| k.revoked_at.is_some()).count();
        assert_eq!(revoked, KEEP_REVOKED);
        assert_eq!(listed.len() - revoked, MAX_KEYS - KEEP_REVOKED - 5);
        assert!(registry.create("web", None).await.is_ok(), "room again after revoking");
    });
}
