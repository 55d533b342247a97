//! In-memory adapters of the ports, for fast unit tests of the jobs and consumers and
//! as the reference the contract suites hold every real adapter to, and [`Faulty`],
//! which makes any adapter fail on command. Behind the `contract` feature: never in a
//! shipped binary. (The warehouse has none: its contract is SQL, which DuckDB runs; its
//! `:memory:` database is the fast warehouse of the job tests.)

mod faulty;
mod kv;
mod notify;
mod object_store;
mod search;
mod stream;

pub use faulty::{Fault, Faulty};
pub use kv::MemoryKv;
pub use notify::MemoryNotifier;
pub use object_store::MemoryObjectStore;
pub use search::MemorySearch;
pub use stream::MemoryStream;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;

    use futures::executor::block_on;

    #[test]
    fn memory_kv_keeps_the_kv_contract() {
        block_on(contract::kv::duplicates_are_absorbed(&MemoryKv::default()));
        block_on(contract::kv::items_are_read_by_key(&MemoryKv::default()));
        block_on(contract::kv::partitions_are_exact_and_sorted(&MemoryKv::default()));
        block_on(contract::kv::bucket_reads_merge_write_shards(&MemoryKv::default()));
        block_on(contract::kv::scans_see_everything_once_and_deletes_remove(&MemoryKv::default()));
    }

    #[test]
    fn memory_stream_keeps_the_stream_contract() {
        block_on(contract::stream::put_answers_every_record(&MemoryStream::default()));
        block_on(contract::stream::empty_put_is_a_no_op(&MemoryStream::default()));
    }

    #[test]
    fn memory_search_keeps_the_search_contract() {
        block_on(contract::search::replays_do_not_double_count(&MemorySearch::default()));
        block_on(contract::search::one_document_per_source_and_id(&MemorySearch::default()));
        block_on(contract::search::aggregations_match_the_events(&MemorySearch::default()));
        block_on(contract::search::filters_and_metrics(&MemorySearch::default()));
        block_on(contract::search::deletes_remove_exactly_what_matches(&MemorySearch::default()));
    }

    #[test]
    fn memory_object_store_keeps_the_object_store_contract() {
        block_on(contract::object_store::put_get_list_delete(&MemoryObjectStore::default()));
        block_on(contract::object_store::rejects_keys_that_escape(&MemoryObjectStore::default()));
    }
}
