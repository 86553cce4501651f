//! The lessor: leases with a TTL, the keys attached to them, and expiry. Grants and
//! revocations are applied through the write path (they are persisted in the lease
//! bucket with etcd's `leasepb.Lease` encoding); renewals only move the in-memory
//! deadline, as etcd's leader does. After a restart every lease gets its full TTL back.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// etcd's upper bound on a lease TTL, in seconds.
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// etcd's `leasepb.Lease` record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseRecord {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(int64, tag = "2")]
    pub ttl: i64,
    #[prost(int64, tag = "3")]
    pub remaining_ttl: i64,
}

struct Entry {
    ttl: i64,
    expiry: Instant,
    keys: BTreeSet<Vec<u8>>,
}

pub struct Lessor {
    leases: Mutex<HashMap<i64, Entry>>,
    min_ttl: i64,
}

/// What `LeaseTimeToLive` reports.
pub struct TimeToLive {
    pub remaining: i64,
    pub granted: i64,
    pub keys: Vec<Vec<u8>>,
}

impl Lessor {
    /// `min_ttl`: etcd raises shorter TTLs to 1.5 election timeouts, in whole seconds.
    pub fn new(min_ttl: i64) -> Self {
        Self { leases: Mutex::new(HashMap::new()), min_ttl }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn min_ttl(&self) -> i64 {
        self.min_ttl
    }

    pub fn exists(&self, id: i64) -> bool {
        self.lock().contains_key(&id)
    }

    /// Adds a lease; returns the effective TTL.
    pub fn grant(&self, id: i64, ttl: i64) -> i64 {
        let ttl = ttl.max(self.min_ttl);
        let expiry = Instant::now() + Duration::from_secs(ttl as u64);
        self.lock().insert(id, Entry { ttl, expiry, keys: BTreeSet::new() });
        ttl
    }

    /// Removes a lease; returns its attached keys, or None when unknown.
    pub fn revoke(&self, id: i64) -> Option<Vec<Vec<u8>>> {
        self.lock().remove(&id).map(|e| e.keys.into_iter().collect())
    }

    /// Restarts the lease's countdown; returns its TTL, or None when unknown or expired.
    pub fn renew(&self, id: i64) -> Option<i64> {
        let mut l = self.lock();
        let e = l.get_mut(&id)?;
        let now = Instant::now();
        if e.expiry <= now {
            return None;
        }
        e.expiry = now + Duration::from_secs(e.ttl as u64);
        Some(e.ttl)
    }

    pub fn attach(&self, id: i64, key: &[u8]) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.keys.insert(key.to_vec());
        }
    }

    pub fn detach(&self, id: i64, key: &[u8]) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.keys.remove(key);
        }
    }

    pub fn time_to_live(&self, id: i64) -> Option<TimeToLive> {
        let l = self.lock();
        let e = l.get(&id)?;
        let remaining = e.expiry.saturating_duration_since(Instant::now()).as_secs() as i64;
        Some(TimeToLive { remaining, granted: e.ttl, keys: e.keys.iter().cloned().collect() })
    }

    /// Lease ids, soonest expiry first (the order etcd lists them in).
    pub fn ids(&self) -> Vec<i64> {
        let l = self.lock();
        let mut v: Vec<(Instant, i64)> = l.iter().map(|(id, e)| (e.expiry, *id)).collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// Leases whose deadline has passed.
    pub fn expired(&self) -> Vec<i64> {
        let now = Instant::now();
        self.lock().iter().filter(|(_, e)| e.expiry <= now).map(|(id, _)| *id).collect()
    }

    /// Forgets every lease (before reloading them from an installed snapshot).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Gives every lease its full TTL again (after a restart or leader change).
    pub fn refresh_all(&self) {
        let now = Instant::now();
        for e in self.lock().values_mut() {
            e.expiry = now + Duration::from_secs(e.ttl as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ttls_are_raised_to_the_minimum() {
        let l = Lessor::new(2);
        assert_eq!(l.grant(1, 1), 2);
        assert_eq!(l.grant(2, 30), 30);
        assert_eq!(l.ids(), vec![1, 2], "soonest expiry first");
        l.grant(3, 5);
        assert_eq!(l.ids(), vec![1, 3, 2]);
    }

    #[test]
    fn attach_detach_and_revoke_return_keys() {
        let l = Lessor::new(1);
        l.grant(7, 10);
        l.attach(7, b"a");
        l.attach(7, b"b");
        l.detach(7, b"a");
        assert_eq!(l.time_to_live(7).unwrap().keys, vec![b"b".to_vec()]);
        assert_eq!(l.revoke(7), Some(vec![b"b".to_vec()]));
        assert_eq!(l.revoke(7), None);
        assert_eq!(l.renew(7), None);
    }
}
