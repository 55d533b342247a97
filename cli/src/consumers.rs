//! The two stream consumers as runner functions over the embedded stores.

use std::sync::Arc;
use tidemark_core::consume::{index_batch, store_batch, StreamRecord};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::{KvStore, SearchIndex};
use tidemark_local::runner::{ConsumerFn, ConsumerFuture};

pub const STREAM_INDEX: &str = "stream-index";
pub const STREAM_STORE: &str = "stream-store";

pub fn stream_index(index: Arc<dyn SearchIndex>) -> ConsumerFn {
    Arc::new(move |records: Arc<[StreamRecord]>| -> ConsumerFuture {
        let index = Arc::clone(&index);
        Box::pin(async move { index_batch(&records, index.as_ref()).await })
    })
}

pub fn stream_store(kv: Arc<dyn KvStore>, layout: KvLayout) -> ConsumerFn {
    Arc::new(move |records: Arc<[StreamRecord]>| -> ConsumerFuture {
        let kv = Arc::clone(&kv);
        let layout = layout.clone();
        Box::pin(async move { store_batch(&records, kv.as_ref(), &layout).await })
    })
}
