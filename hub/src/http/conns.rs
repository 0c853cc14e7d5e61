//! Open connections, capped in all and per address. The cap in all keeps
//! the hub under its open-file limit (so `/healthz` and agents always get a
//! descriptor); the per-address share keeps a few addresses from taking the
//! whole allowance. A connection that authenticates as an agent leaves its
//! address's share: a fleet behind one NAT is not a few hostile clients.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::addr::AddrKey;

/// Counts open connections.
pub struct Connections {
    total: usize,
    per_addr: usize,
    state: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    open: usize,
    by_addr: HashMap<AddrKey, usize>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every connection slot of the hub is taken.
    Hub,
    /// This address holds its whole share.
    Address,
}

/// One open connection; dropping it frees its slot.
pub struct ConnSlot {
    conns: Arc<Connections>,
    key: AddrKey,
    in_share: AtomicBool,
}

impl Connections {
    /// At most `total` connections, `per_addr` of them (0: no limit) from one address.
    pub fn new(total: usize, per_addr: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            per_addr: if per_addr == 0 { usize::MAX } else { per_addr },
            state: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a slot for a new connection from `key`.
    pub fn admit(self: &Arc<Self>, key: AddrKey) -> Result<ConnSlot, Full> {
        let mut s = self.lock();
        if s.open >= self.total {
            return Err(Full::Hub);
        }
        let n = s.by_addr.entry(key).or_insert(0);
        if *n >= self.per_addr {
            return Err(Full::Address);
        }
        *n += 1;
        s.open += 1;
        Ok(ConnSlot {
            conns: self.clone(),
            key,
            in_share: AtomicBool::new(true),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    fn leave_share(&self, key: AddrKey) {
        let mut s = self.lock();
        if let Some(n) = s.by_addr.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                s.by_addr.remove(&key);
            }
        }
    }
}

impl ConnSlot {
    /// The connection proved itself (an authenticated agent): it stops
    /// counting against its address's share, still against the total.
    pub fn promote(&self) {
        if self.in_share.swap(false, Ordering::AcqRel) {
            self.conns.leave_share(self.key);
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.promote();
        self.conns.lock().open -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_total_are_enforced_and_freed() {
        let c = Connections::new(3, 2);
        let a = AddrKey::V4(1);
        let b = AddrKey::V4(2);
        let a1 = c.admit(a).unwrap();
        let a2 = c.admit(a).unwrap();
        assert_eq!(c.admit(a).err(), Some(Full::Address));
        a2.promote();
        let a3 = c.admit(a).unwrap();
        assert_eq!(c.admit(b).err(), Some(Full::Hub));
        drop(a1);
        let _b1 = c.admit(b).unwrap();
        assert_eq!(c.open(), 3);
        drop((a2, a3));
        assert_eq!(c.open(), 1);
    }
}
