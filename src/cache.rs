//! Bounded in-memory caches with a time to live, for rows a gateway may serve without a
//! database round trip of its own.
//!
//! Nothing served from these caches is trusted on its own: every request that used an
//! entry has it re-checked inside its audit transaction (`crate::audit::freshness`)
//! before it is answered, which is what keeps them correct across gateway instances.
//! The time to live only bounds how long a copy may sit in memory (after an erasure, say)
//! when nobody asks for it again: expired entries are dropped when read, and by
//! [`TtlCache::purge_expired`], which the gateway runs in the background. Entries hold
//! ciphertexts and ids, never plaintext PII.

use std::hash::Hash;
use std::time::{Duration, Instant};

/// A size-bounded (S3-FIFO) concurrent cache whose entries expire after `ttl`.
pub struct TtlCache<K, V> {
    inner: quick_cache::sync::Cache<K, (Instant, V)>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache of at most `capacity` entries; 0 makes a cache that stores nothing.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            inner: quick_cache::sync::Cache::new(capacity.max(1)),
            ttl: if capacity == 0 { Duration::ZERO } else { ttl },
        }
    }

    /// The entry for `key` if it is younger than the time to live.
    pub fn get(&self, key: &K) -> Option<V> {
        let (stored_at, value) = self.inner.get(key)?;
        if stored_at.elapsed() < self.ttl {
            Some(value)
        } else {
            self.inner.remove(key);
            None
        }
    }

    pub fn insert(&self, key: K, value: V) {
        if !self.ttl.is_zero() {
            self.inner.insert(key, (Instant::now(), value));
        }
    }

    pub fn remove(&self, key: &K) {
        self.inner.remove(key);
    }

    /// Drops every entry older than the time to live.
    pub fn purge_expired(&self) {
        let ttl = self.ttl;
        self.inner.retain(|_, (stored_at, _)| stored_at.elapsed() < ttl);
    }

    /// How long entries live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Drops every entry for which `keep` is false.
    pub fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        self.inner.retain(|k, (_, v)| keep(k, v));
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Default for TtlCache<K, V> {
    /// A cache that stores nothing (until replaced by a sized one).
    fn default() -> Self {
        Self::new(0, Duration::ZERO)
    }
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let cache = TtlCache::new(10, Duration::from_millis(30));
        cache.insert("a", 1);
        cache.insert("b", 2);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.remove(&"a");
        assert_eq!(cache.get(&"a"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&"b"), None, "expired entries are not served");
    }

    #[test]
    fn purging_drops_expired_entries_nobody_read_again() {
        let cache = TtlCache::new(10, Duration::from_millis(30));
        cache.insert("old", 1);
        std::thread::sleep(Duration::from_millis(40));
        cache.insert("new", 2);
        cache.purge_expired();
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&"new"), Some(2));
    }

    #[test]
    fn a_zero_capacity_cache_stores_nothing() {
        let cache = TtlCache::new(0, Duration::from_secs(60));
        cache.insert(1, 1);
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn retain_drops_what_it_is_told_to() {
        let cache = TtlCache::new(10, Duration::from_secs(60));
        for n in 0..6 {
            cache.insert(n, n);
        }
        cache.retain(|_, v| v % 2 == 0);
        assert_eq!((0..6).filter(|n| cache.get(n).is_some()).count(), 3);
    }
}
