//! Per-entity sliding state: a ring of per-hop buckets plus exact distinct counters.
//!
//! Each hop (default 0.5 s) has one [`Bucket`] of additive counters. A window of width
//! `m` hops is the sum of the last `m` buckets, so every width is served by one ring.
//! Distinct counts use a last-seen map: each key remembers the hop it was last seen in,
//! and each bucket counts the keys whose last sighting is in it. The number of distinct
//! keys in a window is then the sum of those counts over the window's buckets — exact,
//! O(1) per packet, with no per-window set unions.
//!
//! The three address trackers (hosts sent to, hosts received from, peers) share one
//! map, [`AddrSeen`], so a packet's address is looked up once for two of them; each
//! tracker still has its own last sighting, count and cap, exactly as three maps would.

use foldhash::fast::FixedState;
use hashbrown::HashMap;

/// The hasher of every engine map: foldhash with a fixed seed, so iteration order (and
/// any output) is reproducible. foldhash measured ~2x fewer instructions per lookup
/// than ahash's portable fallback on these u128 keys.
pub(crate) type FixedHasher = FixedState;

/// A hasher with the engine's fixed seed.
pub(crate) fn fixed_hasher() -> FixedHasher {
    FixedState::with_seed(0x5eed_0001_5eed_0002)
}

/// Keys kept inline before a tracker spills to a hash map: most hosts (every source of
/// a spoofed flood) see only one or two peers and ports.
const INLINE_KEYS: usize = 4;

/// Key → hop of its last sighting.
enum LastSeen {
    Inline {
        len: u8,
        keys: [u128; INLINE_KEYS],
        hops: [u64; INLINE_KEYS],
    },
    Map(HashMap<u128, u64, FixedHasher>),
}

impl LastSeen {
    fn new() -> Self {
        LastSeen::Inline {
            len: 0,
            keys: [0; INLINE_KEYS],
            hops: [0; INLINE_KEYS],
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            LastSeen::Inline { len, .. } => *len as usize,
            LastSeen::Map(m) => m.len(),
        }
    }

    #[inline]
    fn get_mut(&mut self, key: u128) -> Option<&mut u64> {
        match self {
            LastSeen::Inline { len, keys, hops } => {
                let n = *len as usize;
                keys[..n]
                    .iter()
                    .position(|k| *k == key)
                    .map(move |i| &mut hops[i])
            }
            LastSeen::Map(m) => m.get_mut(&key),
        }
    }

    #[inline]
    fn insert(&mut self, key: u128, hop: u64) {
        match self {
            LastSeen::Inline { len, keys, hops } => {
                let n = *len as usize;
                if n < INLINE_KEYS {
                    keys[n] = key;
                    hops[n] = hop;
                    *len += 1;
                } else {
                    let mut m = HashMap::with_capacity_and_hasher(2 * INLINE_KEYS, fixed_hasher());
                    for i in 0..n {
                        m.insert(keys[i], hops[i]);
                    }
                    m.insert(key, hop);
                    *self = LastSeen::Map(m);
                }
            }
            LastSeen::Map(m) => {
                m.insert(key, hop);
            }
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
        match self {
            LastSeen::Inline { len, keys, hops } => {
                let mut w = 0;
                for r in 0..*len as usize {
                    if keep(hops[r]) {
                        keys[w] = keys[r];
                        hops[w] = hops[r];
                        w += 1;
                    }
                }
                *len = w as u8;
            }
            LastSeen::Map(m) => {
                m.retain(|_, h| keep(*h));
                m.shrink_to_fit();
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            LastSeen::Inline { .. } => 0,
            LastSeen::Map(m) => m.capacity() * 32,
        }
    }
}

/// One address's last sighting in each address tracker ([`ADDR_TRACKERS`] order); a
/// tracker that does not remember the address has its bit clear in `present`.
#[derive(Clone, Copy, Debug, Default)]
struct AddrSlots {
    hop: [u64; 3],
    present: u8,
}

/// The trackers keyed by address, in [`AddrSlots`] order.
const ADDR_TRACKERS: [Tracker; 3] = [Tracker::DstHosts, Tracker::SrcHosts, Tracker::Peers];
/// Slot of [`Tracker::DstHosts`], [`Tracker::SrcHosts`] and [`Tracker::Peers`].
const SLOT_DST: usize = 0;
const SLOT_SRC: usize = 1;
const SLOT_PEERS: usize = 2;

/// Which way an address was seen, from the entity's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// The entity sent to it: a sighting in `DstHosts` and in `Peers`.
    SentTo,
    /// It sent to the entity: a sighting in `SrcHosts` and in `Peers`.
    SentFrom,
}

/// Address → [`AddrSlots`], inline for the first few addresses.
enum AddrMap {
    Inline {
        len: u8,
        keys: [u128; INLINE_KEYS],
        slots: [AddrSlots; INLINE_KEYS],
    },
    Map(HashMap<u128, AddrSlots, FixedHasher>),
}

/// The address trackers of one entity: one map, and per tracker the number of
/// addresses it remembers (what its cap and its sweep look at), so it behaves exactly
/// like one [`LastSeen`] per tracker.
struct AddrSeen {
    map: AddrMap,
    len: [usize; 3],
}

impl AddrSeen {
    fn new() -> Self {
        AddrSeen {
            map: AddrMap::Inline {
                len: 0,
                keys: [0; INLINE_KEYS],
                slots: [AddrSlots::default(); INLINE_KEYS],
            },
            len: [0; 3],
        }
    }

    #[inline]
    fn get_mut(map: &mut AddrMap, key: u128) -> Option<&mut AddrSlots> {
        match map {
            AddrMap::Inline { len, keys, slots } => {
                let n = *len as usize;
                keys[..n]
                    .iter()
                    .position(|k| *k == key)
                    .map(move |i| &mut slots[i])
            }
            AddrMap::Map(m) => m.get_mut(&key),
        }
    }

    /// Adds an address that is not in the map.
    #[inline]
    fn insert(map: &mut AddrMap, key: u128, new: AddrSlots) {
        match map {
            AddrMap::Inline { len, keys, slots } => {
                let n = *len as usize;
                if n < INLINE_KEYS {
                    keys[n] = key;
                    slots[n] = new;
                    *len += 1;
                } else {
                    let mut m = HashMap::with_capacity_and_hasher(2 * INLINE_KEYS, fixed_hasher());
                    for i in 0..n {
                        m.insert(keys[i], slots[i]);
                    }
                    m.insert(key, new);
                    *map = AddrMap::Map(m);
                }
            }
            AddrMap::Map(m) => {
                m.insert(key, new);
            }
        }
    }

    /// Forgets, for each tracker slot in `which` (bit mask), the addresses whose last
    /// sighting fails `keep`; drops addresses no tracker remembers.
    fn retain(&mut self, which: u8, keep: impl Fn(u64) -> bool) {
        let len = &mut self.len;
        let mut forget = |a: &mut AddrSlots| {
            for (s, count) in len.iter_mut().enumerate() {
                let bit = 1u8 << s;
                if which & a.present & bit != 0 && !keep(a.hop[s]) {
                    a.present &= !bit;
                    *count -= 1;
                }
            }
            a.present != 0
        };
        match &mut self.map {
            AddrMap::Inline {
                len: n,
                keys,
                slots,
            } => {
                let mut w = 0;
                for r in 0..*n as usize {
                    if forget(&mut slots[r]) {
                        keys[w] = keys[r];
                        slots[w] = slots[r];
                        w += 1;
                    }
                }
                *n = w as u8;
            }
            AddrMap::Map(m) => {
                m.retain(|_, a| forget(a));
                m.shrink_to_fit();
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match &self.map {
            AddrMap::Inline { .. } => 0,
            AddrMap::Map(m) => m.capacity() * 48,
        }
    }
}

/// The distinct-key trackers every entity has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Tracker {
    /// (protocol, destination port) pairs sent to.
    Dports,
    /// Hosts sent to.
    DstHosts,
    /// Hosts that sent to the entity.
    SrcHosts,
    /// Peers in either direction.
    Peers,
    /// Own (protocol, port) pairs that received packets.
    LocalPorts,
}

pub(crate) const N_TRACKERS: usize = 5;

/// Additive counters for one entity over one hop.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Bucket {
    pub pkts_out: u64,
    pub pkts_in: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmp: u64,
    pub syn_out: u64,
    pub syn_in: u64,
    pub synack_out: u64,
    pub synack_in: u64,
    pub rst_out: u64,
    pub rst_in: u64,
    pub unreach_in: u64,
    pub echo_out: u64,
    /// UDP packets sent to a (proto, port) not seen within the horizon.
    pub udp_new_out: u64,
    pub fragments: u64,
    /// TCP packets sent with none of SYN, ACK, RST.
    pub probe_out: u64,
    pub size_sum: u64,
    /// Sum of squared wire lengths (u64: overflows only past ~2^28 max-size packets
    /// in one hop for one entity).
    pub size_sq_sum: u64,
    /// Keys whose last sighting is in this hop, per tracker.
    pub distinct_last: [u32; N_TRACKERS],
    /// Destination ports first seen (within the horizon) in this hop.
    pub new_dports: u32,
}

impl Bucket {
    pub fn add(&mut self, o: &Bucket) {
        self.pkts_out += o.pkts_out;
        self.pkts_in += o.pkts_in;
        self.bytes_out += o.bytes_out;
        self.bytes_in += o.bytes_in;
        self.tcp += o.tcp;
        self.udp += o.udp;
        self.icmp += o.icmp;
        self.syn_out += o.syn_out;
        self.syn_in += o.syn_in;
        self.synack_out += o.synack_out;
        self.synack_in += o.synack_in;
        self.rst_out += o.rst_out;
        self.rst_in += o.rst_in;
        self.unreach_in += o.unreach_in;
        self.echo_out += o.echo_out;
        self.udp_new_out += o.udp_new_out;
        self.fragments += o.fragments;
        self.probe_out += o.probe_out;
        self.size_sum += o.size_sum;
        self.size_sq_sum = self.size_sq_sum.wrapping_add(o.size_sq_sum);
        for i in 0..N_TRACKERS {
            self.distinct_last[i] += o.distinct_last[i];
        }
        self.new_dports += o.new_dports;
    }
}

/// What [`EntityState::see_port`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Already seen within the horizon.
    Again,
    /// Not seen within the horizon (a "new" key).
    New,
}

/// Sliding state of one entity (a host, or the whole network for the global row).
pub(crate) struct EntityState {
    /// Ring of buckets, index = hop & mask. Its length is the horizon rounded up to a
    /// power of two, so indexing needs no division.
    ring: Box<[Bucket]>,
    mask: u64,
    /// Horizon: the longest window, in hops.
    horizon: u64,
    /// The last hop this entity had a packet in (buckets are only rolled on packets);
    /// buckets for later hops are stale.
    pub cur_hop: u64,
    /// The hop the entity was created in: buckets of earlier hops are all zero (their
    /// ring slots are not written before a later hop), so window sums skip them.
    first_hop: u64,
    /// [`Tracker::Dports`] and [`Tracker::LocalPorts`], keyed by (protocol, port).
    ports: [LastSeen; 2],
    /// [`Tracker::DstHosts`], [`Tracker::SrcHosts`] and [`Tracker::Peers`].
    addrs: AddrSeen,
}

impl EntityState {
    pub fn new(n_buckets: usize, hop: u64) -> Self {
        let len = n_buckets.next_power_of_two();
        EntityState {
            ring: vec![Bucket::default(); len].into_boxed_slice(),
            mask: len as u64 - 1,
            horizon: n_buckets as u64,
            cur_hop: hop,
            first_hop: hop,
            ports: [LastSeen::new(), LastSeen::new()],
            addrs: AddrSeen::new(),
        }
    }

    #[inline]
    fn n(&self) -> u64 {
        self.horizon
    }

    #[inline]
    fn slot(&self, hop: u64) -> usize {
        (hop & self.mask) as usize
    }

    /// Moves the entity to `hop`, clearing buckets that now represent new hops.
    #[inline]
    pub fn roll_to(&mut self, hop: u64) {
        if hop <= self.cur_hop {
            return;
        }
        let steps = (hop - self.cur_hop).min(self.ring.len() as u64);
        for h in (hop + 1 - steps)..=hop {
            let i = self.slot(h);
            self.ring[i] = Bucket::default();
        }
        self.cur_hop = hop;
    }

    /// The bucket of the current hop (call [`Self::roll_to`] first).
    #[inline]
    pub fn current(&mut self) -> &mut Bucket {
        let i = self.slot(self.cur_hop);
        &mut self.ring[i]
    }

    /// Records a sighting of port key `key` in tracker `t` ([`Tracker::Dports`] or
    /// [`Tracker::LocalPorts`]) at the current hop.
    ///
    /// `cap` bounds the map: when full, an unseen key is counted as new and distinct
    /// but not remembered (counted in `saturated`), so memory stays bounded under a
    /// scan of every port of every host.
    #[inline(always)]
    pub fn see_port(&mut self, t: Tracker, key: u128, cap: usize, saturated: &mut u64) -> Seen {
        debug_assert!(matches!(t, Tracker::Dports | Tracker::LocalPorts));
        let n = self.n();
        let hop = self.cur_hop;
        let mask = self.mask;
        let cur = self.slot(hop);
        let ti = t as usize;
        let map = &mut self.ports[usize::from(t == Tracker::LocalPorts)];
        let len = map.len();
        let seen = match map.get_mut(key) {
            Some(last) if hop - *last < n => {
                if *last != hop {
                    self.ring[(*last & mask) as usize].distinct_last[ti] -= 1;
                    *last = hop;
                    self.ring[cur].distinct_last[ti] += 1;
                }
                Seen::Again
            }
            Some(last) => {
                *last = hop;
                self.ring[cur].distinct_last[ti] += 1;
                Seen::New
            }
            None => {
                if len >= cap {
                    *saturated += 1;
                } else {
                    map.insert(key, hop);
                }
                self.ring[cur].distinct_last[ti] += 1;
                Seen::New
            }
        };
        if seen == Seen::New && t == Tracker::Dports {
            self.ring[cur].new_dports += 1;
        }
        seen
    }

    /// Records a sighting of address key `key` at the current hop: in `DstHosts` and
    /// `Peers` when the entity sent to it, in `SrcHosts` and `Peers` when it sent to the
    /// entity. The same as a sighting in each of the two trackers (see
    /// [`Self::see_port`] for `cap` and `saturated`), with one lookup.
    #[inline(always)]
    pub fn see_addr(&mut self, way: Peer, key: u128, cap: usize, saturated: &mut u64) {
        let n = self.n();
        let hop = self.cur_hop;
        let mask = self.mask;
        let cur = self.slot(hop);
        let first = match way {
            Peer::SentTo => SLOT_DST,
            Peer::SentFrom => SLOT_SRC,
        };
        let ring = &mut self.ring;
        let AddrSeen { map, len } = &mut self.addrs;
        // One tracker's sighting: as `see_port`, with "in the map" meaning "this
        // tracker's bit is set".
        let mut see = |a: &mut AddrSlots, s: usize| {
            let ti = ADDR_TRACKERS[s] as usize;
            let bit = 1u8 << s;
            if a.present & bit != 0 {
                let last = a.hop[s];
                if hop - last < n {
                    if last != hop {
                        ring[(last & mask) as usize].distinct_last[ti] -= 1;
                        a.hop[s] = hop;
                        ring[cur].distinct_last[ti] += 1;
                    }
                    return;
                }
                a.hop[s] = hop;
            } else if len[s] >= cap {
                *saturated += 1;
            } else {
                a.present |= bit;
                a.hop[s] = hop;
                len[s] += 1;
            }
            ring[cur].distinct_last[ti] += 1;
        };
        match AddrSeen::get_mut(map, key) {
            Some(a) => {
                see(a, first);
                see(a, SLOT_PEERS);
            }
            None => {
                let mut a = AddrSlots::default();
                see(&mut a, first);
                see(&mut a, SLOT_PEERS);
                if a.present != 0 {
                    AddrSeen::insert(map, key, a);
                }
            }
        }
    }

    /// Sums the buckets of the `m` hops ending at `end_hop` into `out`.
    pub fn window_sum(&self, end_hop: u64, m: u64, out: &mut Bucket) {
        let n = self.n();
        let oldest_valid = self.cur_hop.saturating_sub(n - 1);
        let first = end_hop
            .saturating_sub(m - 1)
            .max(oldest_valid)
            .max(self.first_hop);
        let last = end_hop.min(self.cur_hop);
        if first > last {
            *out = Bucket::default();
            return;
        }
        // The first bucket is copied rather than added to zeros (the same sum).
        *out = self.ring[self.slot(first)];
        for h in first + 1..=last {
            out.add(&self.ring[self.slot(h)]);
        }
    }

    /// True when no window ending at `end_hop` or later can include this entity's
    /// packets.
    pub fn is_idle_after(&self, end_hop: u64) -> bool {
        self.cur_hop + self.n() <= end_hop
    }

    /// Drops remembered keys that fell out of the horizon, when they dominate a
    /// tracker's map (each tracker decides on its own, as if it had its own map).
    pub fn sweep_keys(&mut self) {
        let n = self.n();
        let hop = self.cur_hop;
        // Stale slots were cleared when rolled over, so the whole ring is live.
        let live = |ring: &[Bucket], t: Tracker| -> u64 {
            ring.iter()
                .map(|b| b.distinct_last[t as usize] as u64)
                .sum()
        };
        for (i, t) in [Tracker::Dports, Tracker::LocalPorts]
            .into_iter()
            .enumerate()
        {
            let map = &mut self.ports[i];
            if map.len() as u64 > 2 * live(&self.ring, t) + 32 {
                map.retain(|last| hop - last < n);
            }
        }
        let mut which = 0u8;
        for (s, t) in ADDR_TRACKERS.into_iter().enumerate() {
            if self.addrs.len[s] as u64 > 2 * live(&self.ring, t) + 32 {
                which |= 1 << s;
            }
        }
        if which != 0 {
            self.addrs.retain(which, |last| hop - last < n);
        }
    }

    /// Approximate heap bytes held (for the memory-bound documentation and tests).
    pub fn heap_bytes(&self) -> usize {
        self.ring.len() * std::mem::size_of::<Bucket>()
            + self.ports.iter().map(LastSeen::heap_bytes).sum::<usize>()
            + self.addrs.heap_bytes()
    }
}

/// Key for a (protocol, port) pair.
#[inline]
pub(crate) fn port_key(proto: u8, port: u16) -> u128 {
    ((proto as u128) << 16) | port as u128
}

/// A hashable, orderable key for any address (IPv4 as IPv4-mapped IPv6).
#[inline]
pub(crate) fn addr_key(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        std::net::IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Inverse of [`addr_key`].
pub(crate) fn key_addr(k: u128) -> std::net::IpAddr {
    let v6 = std::net::Ipv6Addr::from(k);
    match v6.to_ipv4_mapped() {
        Some(v4) => std::net::IpAddr::V4(v4),
        None => std::net::IpAddr::V6(v6),
    }
}
