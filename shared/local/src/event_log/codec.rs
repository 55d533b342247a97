//! Byte layout of log values, checkpoint keys and dead letters.
//!
//! A record value is `[arrival millis: i64 BE][partition key length: u16 BE][partition key][data]`.

use super::{DeadLetter, LogError, LoggedRecord};
use chrono::{TimeZone, Utc};

pub fn encode_record(arrived_millis: i64, partition_key: &str, data: &[u8]) -> Vec<u8> {
    let key = partition_key.as_bytes();
    let key_len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    let mut value = Vec::with_capacity(10 + key.len() + data.len());
    value.extend_from_slice(&arrived_millis.to_be_bytes());
    value.extend_from_slice(&key_len.to_be_bytes());
    value.extend_from_slice(&key[..usize::from(key_len)]);
    value.extend_from_slice(data);
    value
}

pub fn decode_record(shard: usize, seq: u64, value: &[u8]) -> Result<LoggedRecord, LogError> {
    let corrupt = |reason| LogError::Corrupt { shard, seq, reason };
    let (millis, rest) = split_array::<8>(value).ok_or_else(|| corrupt("short header"))?;
    let (key_len, rest) = split_array::<2>(rest).ok_or_else(|| corrupt("short header"))?;
    let key_len = usize::from(u16::from_be_bytes(key_len));
    if rest.len() < key_len {
        return Err(corrupt("partition key overruns the value"));
    }
    let (key, data) = rest.split_at(key_len);
    let arrived_at = Utc
        .timestamp_millis_opt(i64::from_be_bytes(millis))
        .single()
        .ok_or_else(|| corrupt("arrival time out of range"))?;
    Ok(LoggedRecord {
        shard,
        seq,
        partition_key: String::from_utf8_lossy(key).into_owned(),
        arrived_at,
        data: data.to_vec(),
    })
}

pub fn decode_seq(shard: usize, bytes: &[u8]) -> Result<u64, LogError> {
    let array: [u8; 8] =
        bytes.try_into().map_err(|_| LogError::Corrupt { shard, seq: 0, reason: "sequence number is not 8 bytes" })?;
    Ok(u64::from_be_bytes(array))
}

pub fn checkpoint_key(consumer: &str, shard: usize) -> Vec<u8> {
    let mut key = consumer.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&(shard as u32).to_be_bytes());
    key
}

pub fn dead_letter_prefix(consumer: &str) -> Vec<u8> {
    let mut key = consumer.as_bytes().to_vec();
    key.push(0);
    key
}

pub fn dead_letter_key(consumer: &str, shard: usize, seq: u64) -> Vec<u8> {
    let mut key = dead_letter_prefix(consumer);
    key.extend_from_slice(&(shard as u32).to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// First byte of a dead letter that carries its parking time: `[1][parked millis:
/// i64 BE][reason length: u32 BE][reason][data]`. Older letters start with the reason
/// length, whose first byte is 0 for any reason under 16 MiB.
const DEAD_LETTER_V1: u8 = 1;

pub fn encode_dead_letter(parked_millis: i64, reason: &str, data: &[u8]) -> Vec<u8> {
    let reason_bytes = reason.as_bytes();
    let mut value = Vec::with_capacity(13 + reason_bytes.len() + data.len());
    value.push(DEAD_LETTER_V1);
    value.extend_from_slice(&parked_millis.to_be_bytes());
    value.extend_from_slice(&(reason_bytes.len() as u32).to_be_bytes());
    value.extend_from_slice(reason_bytes);
    value.extend_from_slice(data);
    value
}

pub fn decode_dead_letter(consumer: &str, key: &[u8], value: &[u8]) -> Result<DeadLetter, LogError> {
    let corrupt = |reason| LogError::Corrupt { shard: 0, seq: 0, reason };
    let position = key.get(consumer.len() + 1..).ok_or_else(|| corrupt("dead-letter key too short"))?;
    let (shard, seq_bytes) = split_array::<4>(position).ok_or_else(|| corrupt("dead-letter key too short"))?;
    let (seq, _) = split_array::<8>(seq_bytes).ok_or_else(|| corrupt("dead-letter key too short"))?;
    let (parked_at, value) = match value.split_first() {
        Some((&DEAD_LETTER_V1, rest)) => {
            let (millis, rest) = split_array::<8>(rest).ok_or_else(|| corrupt("dead-letter value too short"))?;
            (Utc.timestamp_millis_opt(i64::from_be_bytes(millis)).single(), rest)
        }
        _ => (None, value),
    };
    let (reason_len, rest) = split_array::<4>(value).ok_or_else(|| corrupt("dead-letter value too short"))?;
    let reason_len = u32::from_be_bytes(reason_len) as usize;
    if rest.len() < reason_len {
        return Err(corrupt("dead-letter reason overruns the value"));
    }
    let (reason, data) = rest.split_at(reason_len);
    Ok(DeadLetter {
        consumer: consumer.to_owned(),
        shard: u32::from_be_bytes(shard) as usize,
        seq: u64::from_be_bytes(seq),
        reason: String::from_utf8_lossy(reason).into_owned(),
        data: data.to_vec(),
        parked_at,
    })
}

fn split_array<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = bytes.split_at_checked(N)?;
    Some((head.try_into().ok()?, rest))
}
