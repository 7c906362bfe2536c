//! The backoff between retries of a transaction that failed to serialize
//! (see [`Database::transaction_retry`](crate::Database::transaction_retry)).

/// Delay before retry `attempt` (1-based): exponential from 10 ms, capped
/// at 1 s, with jitter so that retrying transactions spread out.
pub(crate) fn backoff(attempt: u32) -> std::time::Duration {
    let base_ms = 10_u64.saturating_mul(1 << attempt.min(7)).min(1_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // xorshift of the clock: jitter, not cryptography.
    let mut x = u64::from(nanos) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::time::Duration::from_millis(base_ms / 2 + x % (base_ms / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= std::time::Duration::from_millis(1_000), "{d:?}");
            assert!(d >= std::time::Duration::from_millis(5), "{d:?}");
        }
    }
}
