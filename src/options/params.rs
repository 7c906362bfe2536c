//! The pool parameters a URL may carry (`pool_*`, `statement_timeout`).

use super::duration::{parse_duration, parse_optional_duration};
use crate::pool::PoolConfig;

/// Applies one `pool_*` parameter; `Ok(false)` when `key` is not one.
pub(super) fn apply_pool_param(
    pool: &mut PoolConfig,
    key: &str,
    value: &str,
) -> std::result::Result<bool, String> {
    let config = std::mem::take(pool);
    *pool = match key {
        "pool_max_size" => config.max_size(
            value
                .parse()
                .map_err(|_| format!("pool_max_size must be a number, not `{value}`"))?,
        ),
        "pool_wait_timeout" => config.wait_timeout(parse_duration(value)?),
        "pool_create_timeout" => config.create_timeout(parse_duration(value)?),
        "pool_recycle_timeout" => config.recycle_timeout(parse_duration(value)?),
        "pool_max_lifetime" => config.max_lifetime(parse_optional_duration(value)?),
        "pool_idle_timeout" => config.idle_timeout(parse_optional_duration(value)?),
        "pool_liveness_check_after" => config.liveness_check_after(parse_optional_duration(value)?),
        "statement_timeout" => config.statement_timeout(parse_optional_duration(value)?),
        _ => {
            *pool = config;
            return Ok(false);
        }
    };
    Ok(true)
}

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::super::ConnectOptions;
    use std::time::Duration;

    #[test]
    fn pool_params() {
        let o = ConnectOptions::parse(
            "sqlite::memory:?pool_max_size=3&pool_wait_timeout=2s&pool_idle_timeout=off",
        )
        .unwrap();
        assert_eq!(o.pool.max_size_value(), 3);
        assert_eq!(o.pool.wait_timeout_value(), Duration::from_secs(2));
        assert_eq!(o.pool.idle_timeout_value(), None);
    }

    #[test]
    fn statement_timeout_is_ours_not_the_drivers() {
        let o = ConnectOptions::parse(
            "postgres://u@h/db?statement_timeout=5s&pool_liveness_check_after=off",
        )
        .unwrap();
        assert_eq!(
            o.pool.statement_timeout_value(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(o.pool.liveness_check_after_value(), None);
        let o = ConnectOptions::parse("sqlite::memory:?statement_timeout=250ms").unwrap();
        assert_eq!(
            o.pool.statement_timeout_value(),
            Some(Duration::from_millis(250))
        );
    }
}
