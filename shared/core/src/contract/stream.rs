//! Contract of the event stream port (producer side).

use crate::ports::stream::{EventStream, PutOutcome, StreamRecordIn};
use std::collections::HashSet;

/// A put answers once per record, in order, each stored at a distinct position.
pub async fn put_answers_every_record(stream: &dyn EventStream) {
    let records: Vec<StreamRecordIn> = (0..120)
        .map(|n| StreamRecordIn { partition_key: format!("contract-{n}"), data: format!("{{\"n\":{n}}}").into_bytes() })
        .collect();
    let outcomes = stream.put_records(records).await.expect("put_records");
    assert_eq!(outcomes.len(), 120, "one outcome per record");
    let mut positions = HashSet::new();
    for outcome in outcomes {
        match outcome {
            PutOutcome::Stored { shard_id, sequence_number } => {
                assert!(positions.insert((shard_id, sequence_number)), "positions are distinct");
            }
            PutOutcome::Failed { reason, .. } => panic!("record not stored: {reason}"),
        }
    }
}

/// An empty put is legal and stores nothing.
pub async fn empty_put_is_a_no_op(stream: &dyn EventStream) {
    let outcomes = stream.put_records(Vec::new()).await.expect("empty put");
    assert!(outcomes.is_empty());
}
