//! Which stream shard a partition key lands on.
//!
//! Kinesis hashes the partition key with MD5 into a 128-bit hash key and gives each
//! shard an equal slice of that range; the embedded log does the same, so an event
//! lands on the same shard index locally and in the cloud.

use md5::{Digest, Md5};

/// 128-bit hash key of a partition key, as Kinesis computes it.
pub fn hash_key(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// Index of the shard (of `shard_count` equal slices) that owns `partition_key`.
pub fn shard_for(partition_key: &str, shard_count: usize) -> usize {
    debug_assert!(shard_count > 0);
    let top = (hash_key(partition_key) >> 64) as u64;
    // Scale the top 64 bits into 0..shard_count: equal slices of the hash range.
    ((u128::from(top) * shard_count as u128) >> 64) as usize
}

/// A stable 64-bit hash for picking write shards (DynamoDB partitions).
pub fn stable_hash64(text: &str) -> u64 {
    (hash_key(text) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_md5() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(hash_key(""), 0xd41d8cd98f00b204e9800998ecf8427e);
    }

    #[test]
    fn spreads_evenly() {
        let mut counts = [0usize; 4];
        for n in 0..40_000 {
            counts[shard_for(&format!("event-{n}"), 4)] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn single_shard_takes_everything() {
        assert_eq!(shard_for("anything", 1), 0);
    }
}
