//! Any adapter, failing on command: the fault suites' store.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::event::Event;
use crate::kv_key::{KvItem, KvKey};
use crate::ports::kv::{KvError, KvStore, PutItemOutcome};
use crate::ports::search::{IndexOutcome, SearchError, SearchIndex};
use crate::search::{Query, SearchRequest, SearchResponse};

/// What a [`Faulty`] store does with each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes every call through.
    None,
    /// Fails every call as a store that is down (retryable: I/O error, throttling).
    Unavailable,
    /// Refuses every call as a store that will never take it (not retryable).
    Rejecting,
}

/// Any port adapter, failing on command: the fault suites' store. Wraps the real
/// adapter, so what passes is really stored.
pub struct Faulty<S> {
    inner: S,
    fault: Mutex<Fault>,
}

impl<S> Faulty<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, fault: Mutex::new(Fault::None) }
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

const INJECTED: &str = "injected fault";

impl<S: KvStore> Faulty<S> {
    fn kv_check(&self) -> Result<(), KvError> {
        match self.fault() {
            Fault::None => Ok(()),
            Fault::Unavailable => Err(KvError::Unavailable(INJECTED.into())),
            Fault::Rejecting => Err(KvError::Rejected(INJECTED.into())),
        }
    }
}

#[async_trait]
impl<S: KvStore> KvStore for Faulty<S> {
    async fn put_items(&self, items: Vec<KvItem>) -> Result<Vec<PutItemOutcome>, KvError> {
        self.kv_check()?;
        self.inner.put_items(items).await
    }

    async fn get_items(&self, keys: Vec<KvKey>) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.kv_check()?;
        self.inner.get_items(keys).await
    }

    async fn query_partition(&self, pk: &str) -> Result<Vec<KvItem>, KvError> {
        self.kv_check()?;
        self.inner.query_partition(pk).await
    }

    async fn scan(&self, after: Option<KvKey>, limit: usize) -> Result<Vec<KvItem>, KvError> {
        self.kv_check()?;
        self.inner.scan(after, limit).await
    }

    async fn delete_items(&self, keys: Vec<KvKey>) -> Result<(), KvError> {
        self.kv_check()?;
        self.inner.delete_items(keys).await
    }
}

impl<S: SearchIndex> Faulty<S> {
    fn search_check(&self) -> Result<(), SearchError> {
        match self.fault() {
            Fault::None => Ok(()),
            Fault::Unavailable => Err(SearchError::Unavailable(INJECTED.into())),
            Fault::Rejecting => Err(SearchError::BadRequest(INJECTED.into())),
        }
    }
}

#[async_trait]
impl<S: SearchIndex> SearchIndex for Faulty<S> {
    async fn index_events(&self, events: &[Event]) -> Result<Vec<IndexOutcome>, SearchError> {
        match self.fault() {
            Fault::None => self.inner.index_events(events).await,
            Fault::Unavailable => Err(SearchError::Unavailable(INJECTED.into())),
            // A document the index will never take: failed for good, one by one.
            Fault::Rejecting => {
                Ok(vec![IndexOutcome::Failed { retryable: false, reason: INJECTED.into() }; events.len()])
            }
        }
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        self.search_check()?;
        self.inner.search(request).await
    }

    async fn delete_matching(&self, query: &Query) -> Result<u64, SearchError> {
        self.search_check()?;
        self.inner.delete_matching(query).await
    }
}
