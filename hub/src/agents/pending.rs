//! Websocket upgrades that have not authenticated yet. Each may hold up to
//! a frame of memory and a descriptor while proving nothing, so they are
//! capped per address and in all, and the pool is shared fairly: when it is
//! full, a newcomer from an address holding fewer slots takes the oldest slot
//! of the address holding the most. A few addresses can therefore never keep
//! an agent from another address out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::http::addr::AddrKey;

/// The pool of pending handshakes.
pub struct Pending {
    total: usize,
    per_addr: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    count: usize,
    next_id: u64,
    by_addr: HashMap<AddrKey, VecDeque<(u64, oneshot::Sender<()>)>>,
}

/// Why an upgrade was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The address holds its whole share of pending handshakes.
    Address,
    /// The pool is full and the address already holds its fair part of it.
    Pool,
}

/// A pending handshake's place; dropping it frees the place.
pub struct Slot {
    pool: Arc<Pending>,
    key: AddrKey,
    id: u64,
    evicted: Option<oneshot::Receiver<()>>,
}

impl Pending {
    /// At most `total` pending handshakes, `per_addr` from one address.
    pub fn new(total: usize, per_addr: usize) -> Arc<Self> {
        Arc::new(Self {
            total: total.max(1),
            per_addr: per_addr.max(1),
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a handshake from `key`, evicting the oldest
    /// handshake of the heaviest address when the pool is full and that is fair.
    pub fn admit(self: &Arc<Self>, key: AddrKey) -> Result<Slot, Refused> {
        let mut s = self.lock();
        let mine = s.by_addr.get(&key).map_or(0, VecDeque::len);
        if mine >= self.per_addr {
            return Err(Refused::Address);
        }
        if s.count >= self.total {
            let heaviest = s
                .by_addr
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(k, q)| (*k, q.len()));
            // Taking from an address only one ahead would just swap places.
            match heaviest {
                Some((victim, n)) if n >= mine + 2 => {
                    let q = s.by_addr.get_mut(&victim).expect("present");
                    if let Some((_, tx)) = q.pop_front() {
                        let _ = tx.send(());
                    }
                    if q.is_empty() {
                        s.by_addr.remove(&victim);
                    }
                    s.count -= 1;
                }
                _ => return Err(Refused::Pool),
            }
        }
        let (tx, rx) = oneshot::channel();
        s.next_id += 1;
        let id = s.next_id;
        s.by_addr.entry(key).or_default().push_back((id, tx));
        s.count += 1;
        Ok(Slot {
            pool: self.clone(),
            key,
            id,
            evicted: Some(rx),
        })
    }

    /// Pending handshakes now.
    pub fn count(&self) -> usize {
        self.lock().count
    }
}

impl Slot {
    /// Resolves when a fairer newcomer took this place.
    pub async fn evicted(&mut self) {
        match self.evicted.as_mut() {
            Some(rx) => {
                if rx.await.is_ok() {
                    return;
                }
                // The sender is gone only when the slot is released: never here.
                std::future::pending::<()>().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.pool.lock();
        let Some(q) = s.by_addr.get_mut(&self.key) else {
            return;
        };
        let before = q.len();
        q.retain(|(id, _)| *id != self.id);
        let removed = before - q.len();
        if q.is_empty() {
            s.by_addr.remove(&self.key);
        }
        s.count -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_address_cap_then_fair_eviction() {
        let pool = Pending::new(4, 3);
        let (a, b, c) = (AddrKey::V4(1), AddrKey::V4(2), AddrKey::V4(3));
        let mut held: Vec<Slot> = (0..3).map(|_| pool.admit(a).unwrap()).collect();
        assert_eq!(pool.admit(a).err(), Some(Refused::Address));
        held.push(pool.admit(b).unwrap());
        assert_eq!(pool.count(), 4);
        // Full: c holds none, a holds three, so a's oldest goes.
        let _c1 = pool.admit(c).unwrap();
        assert_eq!(pool.count(), 4);
        held[0].evicted().await;
        // b (1) cannot take from a (2): that would only swap places.
        assert_eq!(pool.admit(b).err(), Some(Refused::Pool));
        held.clear();
        assert_eq!(pool.count(), 1);
    }
}
