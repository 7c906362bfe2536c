//! What every prefetch does around its one query: the distinct keys to ask
//! for, and the rows handed back to each parent in the parents' order.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// `keys` without repeats, in first-seen order.
pub(super) fn distinct<K: Clone + Hash + Eq>(keys: &[K]) -> Vec<K> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter().filter(|k| seen.insert(*k)).cloned().collect()
}

/// The rows of each key of `keys`, in that order, from `rows` paired with
/// the key they belong to (a row without one is dropped); a key listed
/// twice gets its rows once, at its first place.
pub(super) fn group<K: Hash + Eq, T>(
    keys: &[K],
    rows: impl IntoIterator<Item = (Option<K>, T)>,
) -> Vec<Vec<T>> {
    let mut by_key: HashMap<K, Vec<T>> = HashMap::with_capacity(keys.len());
    for (key, row) in rows {
        if let Some(k) = key {
            by_key.entry(k).or_default().push(row);
        }
    }
    keys.iter()
        .map(|k| by_key.remove(k).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keeps_the_first_of_each() {
        assert_eq!(distinct(&[3, 1, 3, 2, 1]), vec![3, 1, 2]);
        assert!(distinct::<i64>(&[]).is_empty());
    }

    #[test]
    fn group_follows_the_keys_and_gives_a_repeated_key_its_rows_once() {
        let rows = vec![
            (Some(2), "b1"),
            (None, "orphan"),
            (Some(1), "a1"),
            (Some(2), "b2"),
        ];
        assert_eq!(
            group(&[1, 2, 3, 2], rows),
            vec![vec!["a1"], vec!["b1", "b2"], vec![], vec![]]
        );
    }
}
