//! Contract of the object store port: whole-object puts, exact gets, sorted prefix lists.

use crate::ports::object_store::{ObjectStore, ObjectStoreError};

pub async fn put_get_list_delete(store: &dyn ObjectStore) {
    store.put("raw/a/1/part-00000.csv", b"x,y\n1,2\n".to_vec()).await.expect("put");
    store.put("raw/a/1/manifest.json", b"{}".to_vec()).await.expect("put");
    store.put("raw/ab/1/part-00000.csv", b"other".to_vec()).await.expect("put");
    store.put("raw/a/2/part-00000.csv", b"second".to_vec()).await.expect("put");
    assert_eq!(store.get("raw/a/1/part-00000.csv").await.expect("get"), Some(b"x,y\n1,2\n".to_vec()));
    assert_eq!(store.get("raw/a/9/nothing").await.expect("get"), None);
    // A prefix ending in '/' names a folder exactly: raw/ab/ is not under raw/a/.
    assert_eq!(
        store.list("raw/a/").await.expect("list"),
        ["raw/a/1/manifest.json", "raw/a/1/part-00000.csv", "raw/a/2/part-00000.csv"]
    );
    assert!(store.list("raw/none/").await.expect("list").is_empty());
    // A put replaces the whole object.
    store.put("raw/a/2/part-00000.csv", b"2".to_vec()).await.expect("put");
    assert_eq!(store.get("raw/a/2/part-00000.csv").await.expect("get"), Some(b"2".to_vec()));
    store.delete("raw/a/2/part-00000.csv").await.expect("delete");
    store.delete("raw/a/2/part-00000.csv").await.expect("deleting twice is fine");
    assert_eq!(store.get("raw/a/2/part-00000.csv").await.expect("get"), None);
}

pub async fn rejects_keys_that_escape(store: &dyn ObjectStore) {
    for key in ["../etc/passwd", "/abs", "a//b", "a/./b", ""] {
        assert!(
            matches!(store.put(key, Vec::new()).await, Err(ObjectStoreError::InvalidKey(_))),
            "{key:?} must be rejected"
        );
    }
}
