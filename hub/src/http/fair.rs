//! A pool of places shared fairly between client addresses: at most
//! `per_key` places for one address (IPv6: one /64), at most `total` in all,
//! and when the pool is full a newcomer from an address holding fewer
//! places takes the oldest place of the address holding the most. A few
//! addresses, or many, can therefore never keep a client from another
//! address out. The hub keeps two: open connections and pending handshakes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use prometheus::IntGauge;
use tokio::sync::oneshot;

use pmr_shared::sync::Locked;

use super::addr::AddrKey;

/// The pool.
pub struct FairPool {
    total: usize,
    per_key: usize,
    state: Mutex<State>,
    /// Places taken now, for `/metrics`.
    gauge: IntGauge,
}

#[derive(Default)]
struct State {
    /// Places taken, evictable or not.
    count: usize,
    next_id: u64,
    /// The evictable places of each address, oldest first.
    by_key: HashMap<AddrKey, VecDeque<(u64, oneshot::Sender<()>)>>,
}

/// Why a newcomer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Its address holds its whole share.
    Address,
    /// The pool is full and its address already holds its fair part.
    Pool,
}

/// A place in the pool; dropping it frees the place.
pub struct Place {
    pool: Arc<FairPool>,
    key: AddrKey,
    id: u64,
    /// Left its address's share (see [`Place::settle`]).
    settled: AtomicBool,
}

/// Resolves when a fairer newcomer took the place.
pub struct Eviction(oneshot::Receiver<()>);

impl FairPool {
    /// `total` places, `per_key` (0: no limit) for one address; `gauge` shows the count.
    pub fn new(total: usize, per_key: usize, gauge: IntGauge) -> Arc<Self> {
        Arc::new(Self {
            total: total.max(1),
            per_key: if per_key == 0 { usize::MAX } else { per_key },
            state: Mutex::new(State::default()),
            gauge,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.locked()
    }

    /// Takes a place for `key`, evicting the oldest place of the heaviest
    /// address when the pool is full and that is fair.
    pub fn admit(self: &Arc<Self>, key: AddrKey) -> Result<(Place, Eviction), Full> {
        let mut s = self.lock();
        let mine = s.by_key.get(&key).map_or(0, VecDeque::len);
        if mine >= self.per_key {
            return Err(Full::Address);
        }
        if s.count >= self.total {
            let heaviest = s
                .by_key
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(k, q)| (*k, q.len()));
            // Taking from an address only one ahead would just swap places.
            match heaviest {
                Some((victim, n)) if n >= mine + 2 => {
                    let q = s.by_key.get_mut(&victim).expect("present");
                    if let Some((_, tx)) = q.pop_front() {
                        let _ = tx.send(());
                    }
                    if q.is_empty() {
                        s.by_key.remove(&victim);
                    }
                    s.count -= 1;
                }
                _ => return Err(Full::Pool),
            }
        }
        let (tx, rx) = oneshot::channel();
        s.next_id += 1;
        let id = s.next_id;
        s.by_key.entry(key).or_default().push_back((id, tx));
        s.count += 1;
        self.gauge.set(s.count as i64);
        let place = Place {
            pool: self.clone(),
            key,
            id,
            settled: AtomicBool::new(false),
        };
        Ok((place, Eviction(rx)))
    }

    /// Places taken now.
    pub fn count(&self) -> usize {
        self.lock().count
    }

    /// Takes `id` out of its address's queue; true if it was there.
    fn unqueue(s: &mut State, key: AddrKey, id: u64) -> bool {
        let Some(q) = s.by_key.get_mut(&key) else {
            return false;
        };
        let before = q.len();
        q.retain(|(i, _)| *i != id);
        let found = q.len() < before;
        if q.is_empty() {
            s.by_key.remove(&key);
        }
        found
    }
}

impl Place {
    /// The place's holder proved itself: it leaves its address's share and
    /// can no longer be evicted, but still counts in the total.
    pub fn settle(&self) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut s = self.pool.lock();
        if !FairPool::unqueue(&mut s, self.key, self.id) {
            // Evicted meanwhile: its count is already given back.
            self.settled.store(false, Ordering::Release);
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut s = self.pool.lock();
        // Still queued, or settled: its count is ours to give back; evicted:
        // the evictor gave it back.
        if FairPool::unqueue(&mut s, self.key, self.id) || *self.settled.get_mut() {
            s.count -= 1;
        }
        self.pool.gauge.set(s.count as i64);
    }
}

impl Eviction {
    /// Resolves when the place was taken by a fairer newcomer; never
    /// otherwise.
    pub async fn wait(&mut self) {
        if (&mut self.0).await.is_err() {
            // The sender goes only with the place itself: not while it is held.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(total: usize, per_key: usize) -> Arc<FairPool> {
        FairPool::new(total, per_key, IntGauge::new("g", "g").unwrap())
    }

    #[tokio::test]
    async fn per_address_cap_then_fair_eviction() {
        let p = pool(4, 3);
        let (a, b, c) = (AddrKey::V4(1), AddrKey::V4(2), AddrKey::V4(3));
        let mut held: Vec<(Place, Eviction)> = (0..3).map(|_| p.admit(a).unwrap()).collect();
        assert_eq!(p.admit(a).err(), Some(Full::Address));
        held.push(p.admit(b).unwrap());
        assert_eq!(p.count(), 4);
        // Full: c holds none, a holds three, so a's oldest goes.
        let _c1 = p.admit(c).unwrap();
        assert_eq!(p.count(), 4);
        held[0].1.wait().await;
        // b (1) cannot take from a (2): that would only swap places.
        assert_eq!(p.admit(b).err(), Some(Full::Pool));
        held.clear();
        assert_eq!(p.count(), 1);
    }

    #[test]
    fn settled_places_leave_the_share_but_count_in_the_total() {
        let p = pool(3, 2);
        let a = AddrKey::V4(1);
        let (a1, mut e1) = p.admit(a).unwrap();
        let (a2, _e2) = p.admit(a).unwrap();
        assert_eq!(p.admit(a).err(), Some(Full::Address));
        a2.settle();
        let (a3, _e3) = p.admit(a).unwrap();
        assert_eq!(p.count(), 3);
        // Full: a newcomer takes a's oldest evictable place, never the settled one.
        let (b1, _eb) = p.admit(AddrKey::V4(2)).unwrap();
        assert!(futures_util::FutureExt::now_or_never(e1.wait()).is_some());
        assert_eq!(p.count(), 3);
        // a now holds one evictable place and b one: nothing left to take.
        assert_eq!(p.admit(AddrKey::V4(3)).err(), Some(Full::Pool));
        drop((a1, a2, a3, b1));
        assert_eq!(p.count(), 0);
        // Zero means no per-address limit.
        let open = pool(10, 0);
        let all: Vec<_> = (0..10).map(|_| open.admit(a).unwrap()).collect();
        assert_eq!(open.count(), 10);
        drop(all);
    }
}
