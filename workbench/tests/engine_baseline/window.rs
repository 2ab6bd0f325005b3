//! [`WindowEngine`]: sliding event-time windows over per-host state.

use capture::{ip_proto, PacketRecord};
use hashbrown::HashMap;
use serde::Serialize;

use super::entity_state::{
    addr_key, fixed_hasher, key_addr, port_key, Bucket, EntityState, FixedHasher, Seen, Tracker,
};
use super::features::compute;
use workbench::engine::{ConfigError, Resolved, WindowConfig};
use workbench::engine::{Entity, RowRef, RowSink};
use workbench::engine::{FeatureSchema, N_BASE};

/// Distinct keys the global row may remember per tracker (it sees every address).
const GLOBAL_KEY_CAP: usize = 1 << 18;

/// How often (in hops) idle keys are swept from per-host maps.
const SWEEP_EVERY_HOPS: u64 = 8;

/// Counters describing what the engine did, for reports and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EngineStats {
    /// Packets pushed.
    pub packets: u64,
    /// Packets older than the open hop, counted into it (out-of-order captures).
    pub late_packets: u64,
    /// Packet sides (sender or receiver) not attributed to a host because the host
    /// table was full; they still count in the global row and at the other side.
    pub untracked_host_sides: u64,
    /// Hosts admitted over the run.
    pub hosts_admitted: u64,
    /// Hosts dropped after going idle for the longest window.
    pub hosts_evicted: u64,
    /// Most hosts held at once.
    pub hosts_peak: u64,
    /// Distinct-key sightings not remembered because a per-host map was full.
    pub distinct_saturated: u64,
    /// Hops closed.
    pub hops_closed: u64,
    /// Rows emitted.
    pub rows: u64,
}

/// Turns a time-ordered stream of packets into feature rows.
///
/// Rows for a window are emitted when the first packet of a later hop arrives, when
/// [`advance_to`](Self::advance_to) moves time past it, or at [`finish`](Self::finish).
pub struct WindowEngine {
    cfg: WindowConfig,
    r: Resolved,
    schema: FeatureSchema,
    hosts: HashMap<u128, EntityState, FixedHasher>,
    global: EntityState,
    /// The hop packets are currently added to; `None` before the first packet.
    open_hop: Option<u64>,
    stats: EngineStats,
    values: Vec<f64>,
    active: Vec<u128>,
    sum: Bucket,
}

impl WindowEngine {
    /// An engine for a validated configuration.
    pub fn new(cfg: WindowConfig) -> Result<Self, ConfigError> {
        let r = cfg.resolve()?;
        let schema = FeatureSchema::for_widths(&cfg.widths_s);
        Ok(WindowEngine {
            values: vec![0.0; schema.len()],
            global: EntityState::new(r.n_buckets as usize, 0),
            hosts: HashMap::with_hasher(fixed_hasher()),
            schema,
            cfg,
            r,
            open_hop: None,
            stats: EngineStats::default(),
            active: Vec::new(),
            sum: Bucket::default(),
        })
    }

    /// The schema of the rows this engine emits.
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// The configuration.
    pub fn config(&self) -> &WindowConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Hosts currently held.
    pub fn hosts_tracked(&self) -> usize {
        self.hosts.len()
    }

    /// Approximate heap bytes of the engine state.
    pub fn heap_bytes(&self) -> usize {
        self.global.heap_bytes()
            + self
                .hosts
                .values()
                .map(|h| h.heap_bytes() + 48)
                .sum::<usize>()
    }

    /// Adds one packet, first emitting every window that ends at or before its hop.
    pub fn push(&mut self, pkt: &PacketRecord, sink: &mut dyn RowSink) {
        let mut hop = pkt.ts_ns / self.r.hop_ns;
        match self.open_hop {
            None => self.open_hop = Some(hop),
            Some(open) if hop > open => self.close_through(hop, sink),
            Some(open) if hop < open => {
                self.stats.late_packets += 1;
                hop = open;
            }
            Some(_) => {}
        }
        self.stats.packets += 1;
        self.add_global(pkt, hop);
        let cap = self.cfg.max_keys_per_host;
        let n = self.r.n_buckets as usize;
        let src = addr_key(pkt.src);
        let dst = addr_key(pkt.dst);
        let mut saturated = 0;
        if let Some(h) = self.host_mut(src, hop, n) {
            add_sender(h, pkt, dst, cap, &mut saturated);
        }
        if let Some(h) = self.host_mut(dst, hop, n) {
            add_receiver(h, pkt, src, cap, &mut saturated);
        }
        self.stats.distinct_saturated += saturated;
    }

    /// Moves event time to `ts_ns` without a packet (live sources call this on a timer),
    /// emitting every window that ends at or before it. Calls with a time earlier than
    /// the next packet's do not change any row.
    pub fn advance_to(&mut self, ts_ns: u64, sink: &mut dyn RowSink) {
        let hop = ts_ns / self.r.hop_ns;
        if let Some(open) = self.open_hop {
            if hop > open {
                self.close_through(hop, sink);
            }
        }
    }

    /// Emits every remaining window (until all state is idle) and resets the engine, so
    /// the next packet starts a new, independent timeline.
    pub fn finish(&mut self, sink: &mut dyn RowSink) {
        if let Some(mut k) = self.open_hop {
            while !self.hosts.is_empty() || !self.global.is_idle_after(k) {
                self.close_hop(k, sink);
                k += 1;
            }
        }
        self.open_hop = None;
        self.hosts.clear();
        self.global = EntityState::new(self.r.n_buckets as usize, 0);
    }

    /// The hop packets are currently added to, if any.
    pub fn open_hop_end_ns(&self) -> Option<u64> {
        self.open_hop.map(|h| (h + 1) * self.r.hop_ns)
    }

    fn host_mut(&mut self, key: u128, hop: u64, n: usize) -> Option<&mut EntityState> {
        let len = self.hosts.len();
        let max = self.cfg.max_hosts;
        let stats = &mut self.stats;
        let entry = self.hosts.entry(key);
        let state = match entry {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                if len >= max {
                    stats.untracked_host_sides += 1;
                    return None;
                }
                stats.hosts_admitted += 1;
                stats.hosts_peak = stats.hosts_peak.max(len as u64 + 1);
                v.insert(EntityState::new(n, hop))
            }
        };
        state.roll_to(hop);
        Some(state)
    }

    fn add_global(&mut self, pkt: &PacketRecord, hop: u64) {
        let g = &mut self.global;
        g.roll_to(hop);
        let b = g.current();
        b.pkts_out += 1;
        b.bytes_out += pkt.wire_len as u64;
        count_common(b, pkt);
        count_sent_flags(b, pkt);
        if pkt.is_rst() {
            b.rst_in += 1;
        }
        if pkt.is_syn_ack() {
            b.synack_in += 1;
        }
        if pkt.is_icmp_unreachable() {
            b.unreach_in += 1;
        }
        let sat = &mut self.stats.distinct_saturated;
        let (src, dst) = (addr_key(pkt.src), addr_key(pkt.dst));
        if has_ports(pkt) {
            let seen = g.see_key(
                Tracker::Dports,
                port_key(pkt.proto, pkt.dst_port),
                GLOBAL_KEY_CAP,
                sat,
            );
            if seen == Seen::New && pkt.proto == ip_proto::UDP {
                g.current().udp_new_out += 1;
            }
        }
        g.see_key(Tracker::DstHosts, dst, GLOBAL_KEY_CAP, sat);
        g.see_key(Tracker::SrcHosts, src, GLOBAL_KEY_CAP, sat);
        g.see_key(Tracker::Peers, src, GLOBAL_KEY_CAP, sat);
        g.see_key(Tracker::Peers, dst, GLOBAL_KEY_CAP, sat);
    }

    /// Closes hops from the open one up to (not including) `new_hop`.
    fn close_through(&mut self, new_hop: u64, sink: &mut dyn RowSink) {
        let Some(mut k) = self.open_hop else { return };
        while k < new_hop {
            self.close_hop(k, sink);
            k += 1;
            // Nothing left that a later window could include: jump over the gap.
            if self.hosts.is_empty() && self.global.is_idle_after(k) {
                k = new_hop;
            }
        }
        self.open_hop = Some(new_hop);
    }

    /// Emits the windows ending at the end of hop `k`, then evicts idle hosts.
    fn close_hop(&mut self, k: u64, sink: &mut dyn RowSink) {
        self.stats.hops_closed += 1;
        let end_ns = (k + 1) * self.r.hop_ns;
        let width_s = self.cfg.widths_s[0];
        if self.fill_values(None, k) {
            sink.accept(RowRef {
                window_end_ns: end_ns,
                entity: Entity::Global,
                width_s,
                values: &self.values,
            });
            self.stats.rows += 1;
        }
        let primary = self.r.width_hops[0];
        let mut active = std::mem::take(&mut self.active);
        active.clear();
        // An entity's `cur_hop` is the last hop it had a packet in, so activity in the
        // primary window needs no bucket sums.
        active.extend(
            self.hosts
                .iter()
                .filter(|(_, h)| h.cur_hop + primary > k)
                .map(|(key, _)| *key),
        );
        active.sort_unstable();
        for key in &active {
            if self.fill_values(Some(*key), k) {
                sink.accept(RowRef {
                    window_end_ns: end_ns,
                    entity: Entity::Host(key_addr(*key)),
                    width_s,
                    values: &self.values,
                });
                self.stats.rows += 1;
            }
        }
        self.active = active;
        let before = self.hosts.len();
        let sweep = k % SWEEP_EVERY_HOPS == 0;
        self.hosts.retain(|_, h| {
            if sweep {
                h.sweep_keys();
            }
            !h.is_idle_after(k + 1)
        });
        self.stats.hosts_evicted += (before - self.hosts.len()) as u64;
        if sweep {
            self.global.sweep_keys();
        }
    }

    /// Computes every width's features for an entity into `self.values`; false when the
    /// entity had no packets in the primary window.
    fn fill_values(&mut self, key: Option<u128>, k: u64) -> bool {
        let state = match key {
            None => &self.global,
            Some(key) => match self.hosts.get(&key) {
                Some(h) => h,
                None => return false,
            },
        };
        for (i, &m) in self.r.width_hops.iter().enumerate() {
            state.window_sum(k, m, &mut self.sum);
            if i == 0 && self.sum.pkts_out + self.sum.pkts_in == 0 {
                return false;
            }
            let w = m as f64 * self.r.hop_ns as f64 / 1e9;
            compute(&self.sum, w, &mut self.values[i * N_BASE..(i + 1) * N_BASE]);
        }
        true
    }
}

/// TCP and UDP carry ports; a non-first fragment has none.
#[inline]
fn has_ports(pkt: &PacketRecord) -> bool {
    (pkt.proto == ip_proto::TCP || pkt.proto == ip_proto::UDP)
        && !(pkt.fragment && pkt.src_port == 0 && pkt.dst_port == 0)
}

#[inline]
fn count_common(b: &mut Bucket, pkt: &PacketRecord) {
    match pkt.proto {
        ip_proto::TCP => b.tcp += 1,
        ip_proto::UDP => b.udp += 1,
        ip_proto::ICMP | ip_proto::ICMPV6 => b.icmp += 1,
        _ => {}
    }
    if pkt.fragment {
        b.fragments += 1;
    }
    let len = pkt.wire_len as u64;
    b.size_sum += len;
    b.size_sq_sum = b.size_sq_sum.wrapping_add(len * len);
}

#[inline]
fn count_sent_flags(b: &mut Bucket, pkt: &PacketRecord) {
    if pkt.is_syn_only() {
        b.syn_out += 1;
    } else if pkt.is_syn_ack() {
        b.synack_out += 1;
    }
    if pkt.is_rst() {
        b.rst_out += 1;
    } else if pkt.is_tcp_probe() {
        b.probe_out += 1;
    }
    if pkt.is_icmp_echo_request() {
        b.echo_out += 1;
    }
}

fn add_sender(h: &mut EntityState, pkt: &PacketRecord, dst: u128, cap: usize, sat: &mut u64) {
    let b = h.current();
    b.pkts_out += 1;
    b.bytes_out += pkt.wire_len as u64;
    count_common(b, pkt);
    count_sent_flags(b, pkt);
    if has_ports(pkt) {
        let seen = h.see_key(Tracker::Dports, port_key(pkt.proto, pkt.dst_port), cap, sat);
        if seen == Seen::New && pkt.proto == ip_proto::UDP {
            h.current().udp_new_out += 1;
        }
    }
    h.see_key(Tracker::DstHosts, dst, cap, sat);
    h.see_key(Tracker::Peers, dst, cap, sat);
}

fn add_receiver(h: &mut EntityState, pkt: &PacketRecord, src: u128, cap: usize, sat: &mut u64) {
    let b = h.current();
    b.pkts_in += 1;
    b.bytes_in += pkt.wire_len as u64;
    count_common(b, pkt);
    if pkt.is_syn_only() {
        b.syn_in += 1;
    } else if pkt.is_syn_ack() {
        b.synack_in += 1;
    }
    if pkt.is_rst() {
        b.rst_in += 1;
    }
    if pkt.is_icmp_unreachable() {
        b.unreach_in += 1;
    }
    if has_ports(pkt) {
        h.see_key(
            Tracker::LocalPorts,
            port_key(pkt.proto, pkt.dst_port),
            cap,
            sat,
        );
    }
    h.see_key(Tracker::SrcHosts, src, cap, sat);
    h.see_key(Tracker::Peers, src, cap, sat);
}
