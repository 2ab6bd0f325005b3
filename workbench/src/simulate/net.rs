//! The simulated network: one LAN (clients and a few servers behind a gateway, where the
//! capture is taken), external servers, and per-host wire state (address, MAC, OS stack
//! profile, hop count, round-trip time, IP id counter, TCP clock, open ports).
//!
//! Everything varies with the seed: the prefix, the number of clients, their operating
//! systems, latencies and services.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use rand::Rng;

use super::frame::Ep;
use super::sim::{between, lognormal, pick, uniform, SimRng, MS};

/// Index of a host in [`Net::hosts`].
pub(crate) type HostId = usize;

/// The TCP/IP stack a host runs: initial TTL, SYN options, windows, ephemeral ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Os {
    Linux,
    Windows,
    Mac,
}

impl Os {
    pub(crate) fn initial_ttl(self) -> u8 {
        match self {
            Os::Windows => 128,
            Os::Linux | Os::Mac => 64,
        }
    }

    /// Whether the stack uses TCP timestamps (RFC 7323) by default.
    pub(crate) fn timestamps(self) -> bool {
        self != Os::Windows
    }

    pub(crate) fn syn_window(self) -> u16 {
        match self {
            Os::Mac => 65535,
            Os::Linux | Os::Windows => 64240,
        }
    }

    pub(crate) fn synack_window(self, ts: bool) -> u16 {
        match self {
            Os::Linux if ts => 65160,
            Os::Linux => 64240,
            Os::Windows | Os::Mac => 65535,
        }
    }

    /// Scaled window values seen after the handshake: (initial, maximum).
    pub(crate) fn data_window(self) -> (u16, u16) {
        match self {
            Os::Linux => (501, 6000),
            Os::Windows => (1026, 8212),
            Os::Mac => (2048, 4096),
        }
    }

    fn ephemeral(self) -> (u16, u16) {
        match self {
            Os::Linux => (32768, 60999),
            Os::Windows | Os::Mac => (49152, 65535),
        }
    }
}

/// One addressable host.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    pub os: Os,
    /// On the LAN (its own MAC on the wire) rather than behind the gateway.
    pub internal: bool,
    /// Routers between the host and the capture point (TTL decrement).
    pub hops: u8,
    /// One-way delay between the capture point and the host, ns.
    pub half_rtt: u64,
    pub mss: u16,
    /// Listening ports, sorted.
    pub open_tcp: Vec<u16>,
    pub open_udp: Vec<u16>,
    /// Silently drops packets to closed ports instead of answering RST / ICMP.
    pub firewall: bool,
    ip_id: u16,
    port_seq: u16,
    clock: u32,
}

impl Host {
    /// TTL seen at the capture point for a packet sent with `initial`.
    pub(crate) fn ttl_from(&self, initial: u8) -> u8 {
        initial.saturating_sub(self.hops).max(1)
    }

    pub(crate) fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    pub(crate) fn tcp_open(&self, port: u16) -> bool {
        self.open_tcp.binary_search(&port).is_ok()
    }

    pub(crate) fn udp_open(&self, port: u16) -> bool {
        self.open_udp.binary_search(&port).is_ok()
    }

    /// The TCP timestamp clock (1 kHz, random offset) at `ts`.
    pub(crate) fn tsval(&self, ts: u64) -> u32 {
        ((ts / MS) as u32).wrapping_add(self.clock)
    }
}

/// The whole topology. Built once per simulation from the seed.
pub(crate) struct Net {
    pub hosts: Vec<Host>,
    pub gateway_mac: [u8; 6],
    pub prefix: [u8; 3],
    pub clients: Vec<HostId>,
    pub web: HostId,
    pub ssh: HostId,
    pub ftp: HostId,
    pub files: HostId,
    pub db: HostId,
    pub resolver: HostId,
    pub external_web: Vec<HostId>,
    pub external_ssh: HostId,
    pub upstream_dns: HostId,
    pub ntp: Vec<HostId>,
    used: BTreeSet<u32>,
    salt: [u8; 3],
}

const ROUTER_OUIS: [[u8; 3]; 4] = [
    [0x00, 0x1b, 0x54],
    [0x4c, 0x5e, 0x0c],
    [0x24, 0x5a, 0x4c],
    [0x00, 0x05, 0x85],
];
const PC_OUIS: [[u8; 3]; 5] = [
    [0xf8, 0xbc, 0x12],
    [0x3c, 0xd9, 0x2b],
    [0x54, 0xee, 0x75],
    [0x3c, 0x97, 0x0e],
    [0x98, 0xfa, 0x9b],
];
const MAC_OUIS: [[u8; 3]; 2] = [[0xa4, 0x83, 0xe7], [0xf0, 0x18, 0x98]];
const SERVER_OUIS: [[u8; 3]; 3] = [[0xac, 0x1f, 0x6b], [0x00, 0x50, 0x56], [0x14, 0x18, 0x77]];

impl Net {
    /// Builds a LAN of 20–60 clients and six servers, plus external hosts.
    pub(crate) fn build(rng: &mut SimRng) -> Net {
        let prefix = match rng.random_range(0..3) {
            0 => [10, rng.random(), rng.random_range(0..=254)],
            1 => [172, rng.random_range(16..=31), rng.random()],
            _ => [192, 168, rng.random_range(0..=254)],
        };
        let router = pick(rng, &ROUTER_OUIS).copied().unwrap_or(ROUTER_OUIS[0]);
        let gateway_mac = [
            router[0],
            router[1],
            router[2],
            rng.random(),
            rng.random(),
            rng.random(),
        ];
        let mut net = Net {
            hosts: Vec::new(),
            gateway_mac,
            prefix,
            clients: Vec::new(),
            web: 0,
            ssh: 0,
            ftp: 0,
            files: 0,
            db: 0,
            resolver: 0,
            external_web: Vec::new(),
            external_ssh: 0,
            upstream_dns: 0,
            ntp: Vec::new(),
            used: BTreeSet::new(),
            salt: [rng.random(), rng.random(), rng.random()],
        };
        net.used.insert(u32::from(net.lan_addr(1)));
        net.used.insert(u32::from(net.lan_addr(255)));
        net.web = net.add_internal(rng, Os::Linux, &[22, 80, 443], &[]);
        net.ssh = net.add_internal(rng, Os::Linux, &[22], &[]);
        net.ftp = net.add_internal(rng, Os::Linux, &[21, 22], &[]);
        net.files = if rng.random_bool(0.7) {
            net.add_internal(rng, Os::Windows, &[135, 139, 445, 3389, 5985], &[137, 138])
        } else {
            net.add_internal(rng, Os::Linux, &[22, 139, 445], &[137, 138])
        };
        let db_port = if rng.random_bool(0.5) { 3306 } else { 5432 };
        net.db = net.add_internal(rng, Os::Linux, &[22, db_port], &[]);
        net.resolver = net.add_internal(rng, Os::Linux, &[22, 53], &[53, 123]);
        for &s in &[net.web, net.ssh, net.ftp, net.files, net.db, net.resolver] {
            net.hosts[s].firewall = rng.random_bool(0.1);
        }
        for _ in 0..between(rng, 20, 60) {
            let os = match rng.random_range(0..10) {
                0..=5 => Os::Windows,
                6..=8 => Os::Linux,
                _ => Os::Mac,
            };
            let (tcp, udp, fw): (Vec<u16>, Vec<u16>, f64) = match os {
                Os::Windows if rng.random_bool(0.3) => {
                    (vec![135, 139, 445, 3389], vec![137, 138], 0.6)
                }
                Os::Windows => (vec![135, 139, 445], vec![137, 138], 0.6),
                Os::Linux if rng.random_bool(0.4) => (vec![22], vec![5353], 0.2),
                Os::Linux => (vec![], vec![5353], 0.2),
                Os::Mac => (vec![], vec![5353], 0.5),
            };
            let h = net.add_internal(rng, os, &tcp, &udp);
            net.hosts[h].firewall = rng.random_bool(fw);
            net.clients.push(h);
        }
        for _ in 0..between(rng, 25, 50) {
            let os = if rng.random_bool(0.9) {
                Os::Linux
            } else {
                Os::Windows
            };
            let h = net.add_external(rng, os, &[80, 443], &[]);
            net.external_web.push(h);
        }
        net.external_ssh = net.add_external(rng, Os::Linux, &[22], &[]);
        net.upstream_dns = net.add_external(rng, Os::Linux, &[53, 443], &[53]);
        net.hosts[net.upstream_dns].half_rtt = between(rng, 2 * MS, 12 * MS);
        for _ in 0..between(rng, 2, 4) {
            let h = net.add_external(rng, Os::Linux, &[], &[123]);
            net.ntp.push(h);
        }
        net
    }

    fn lan_addr(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.prefix[0], self.prefix[1], self.prefix[2], last)
    }

    /// Adds a LAN host at a free address (the LAN is a /24; past 250 hosts the
    /// addresses repeat, which the scenarios never reach).
    pub(crate) fn add_internal(
        &mut self,
        rng: &mut SimRng,
        os: Os,
        tcp: &[u16],
        udp: &[u16],
    ) -> HostId {
        let mut ip = self.lan_addr(rng.random_range(2..=254));
        for _ in 0..1000 {
            if !self.used.contains(&u32::from(ip)) {
                break;
            }
            ip = self.lan_addr(rng.random_range(2..=254));
        }
        let o = ip.octets();
        let ouis: &[[u8; 3]] = if !tcp.is_empty()
            && tcp
                .iter()
                .any(|p| [21, 53, 80, 3306, 5432, 5985].contains(p))
        {
            &SERVER_OUIS
        } else if os == Os::Mac {
            &MAC_OUIS
        } else {
            &PC_OUIS
        };
        let oui = ouis[usize::from(o[3]) % ouis.len()];
        let mac = [
            oui[0],
            oui[1],
            oui[2],
            o[1] ^ self.salt[0],
            o[2] ^ self.salt[1],
            o[3] ^ self.salt[2],
        ];
        let half_rtt = between(rng, 40_000, 250_000);
        self.push(rng, ip, mac, os, true, 0, half_rtt, 1460, tcp, udp)
    }

    /// Adds a host behind the gateway at a fresh public address, 5–22 hops and
    /// 1–80 ms away.
    pub(crate) fn add_external(
        &mut self,
        rng: &mut SimRng,
        os: Os,
        tcp: &[u16],
        udp: &[u16],
    ) -> HostId {
        let mut ip = self.random_public(rng);
        while self.used.contains(&u32::from(ip)) {
            ip = self.random_public(rng);
        }
        let hops = between(rng, 5, 22) as u8;
        let half_rtt = (lognormal(rng, 15.0, 0.8).clamp(1.0, 80.0) * MS as f64) as u64;
        let mss = *pick(rng, &[1460, 1460, 1460, 1460, 1440, 1412, 1400, 1380]).unwrap_or(&1460);
        let gw = self.gateway_mac;
        self.push(rng, ip, gw, os, false, hops, half_rtt, mss, tcp, udp)
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rng: &mut SimRng,
        ip: Ipv4Addr,
        mac: [u8; 6],
        os: Os,
        internal: bool,
        hops: u8,
        half_rtt: u64,
        mss: u16,
        tcp: &[u16],
        udp: &[u16],
    ) -> HostId {
        self.used.insert(u32::from(ip));
        let (lo, hi) = os.ephemeral();
        let mut open_tcp = tcp.to_vec();
        open_tcp.sort_unstable();
        let mut open_udp = udp.to_vec();
        open_udp.sort_unstable();
        self.hosts.push(Host {
            ip,
            mac,
            os,
            internal,
            hops,
            half_rtt,
            mss,
            open_tcp,
            open_udp,
            firewall: false,
            ip_id: rng.random(),
            port_seq: rng.random_range(lo..=hi),
            clock: rng.random(),
        });
        self.hosts.len() - 1
    }

    /// A random routable public address outside the LAN (not registered as a host).
    pub(crate) fn random_public(&self, rng: &mut SimRng) -> Ipv4Addr {
        loop {
            let a: u8 = rng.random_range(1..=223);
            let b: u8 = rng.random();
            let reserved = matches!(a, 0 | 10 | 100 | 127)
                || (a == 169 && b == 254)
                || (a == 172 && (16..=31).contains(&b))
                || (a == 192 && (b == 168 || b == 0))
                || (a == 198 && (b == 18 || b == 19 || b == 51))
                || (a == 203 && b == 0);
            if !reserved {
                return Ipv4Addr::new(a, b, rng.random(), rng.random_range(1..=254));
            }
        }
    }

    /// Delay until a reply from `h` to a packet seen now is seen: its round trip plus
    /// a little processing, with jitter. At most [`Net::resp_max`].
    pub(crate) fn resp(&self, h: HostId, rng: &mut SimRng) -> u64 {
        let rtt = 2.0 * self.hosts[h].half_rtt as f64 * uniform(rng, 0.97, 1.08);
        rtt as u64 + between(rng, 15_000, 250_000)
    }

    /// Upper bound of [`Net::resp`].
    pub(crate) fn resp_max(&self, h: HostId) -> u64 {
        (2.0 * self.hosts[h].half_rtt as f64 * 1.08) as u64 + 250_001
    }

    /// The next ephemeral source port of `h` (random for Linux, sequential otherwise).
    pub(crate) fn ephemeral_port(&mut self, h: HostId, rng: &mut SimRng) -> u16 {
        let host = &mut self.hosts[h];
        let (lo, hi) = host.os.ephemeral();
        if host.os == Os::Linux {
            rng.random_range(lo..=hi)
        } else {
            host.port_seq = if host.port_seq >= hi {
                lo
            } else {
                host.port_seq + 1
            };
            host.port_seq
        }
    }

    /// Address and MAC an endpoint has on the wire (external ones: the gateway's MAC).
    pub(crate) fn addr_mac(&self, ep: Ep) -> (Ipv4Addr, [u8; 6]) {
        match ep {
            Ep::Host(h) => {
                let host = &self.hosts[h];
                (
                    host.ip,
                    if host.internal {
                        host.mac
                    } else {
                        self.gateway_mac
                    },
                )
            }
            Ep::Spoof(ip, _) => {
                let o = ip.octets();
                let mac = if ip.is_multicast() {
                    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
                } else if ip.is_broadcast() || (o[..3] == self.prefix && o[3] == 255) {
                    [0xff; 6]
                } else {
                    self.gateway_mac
                };
                (ip, mac)
            }
        }
    }

    /// The internal servers (web, ssh, ftp, files, db, resolver).
    pub(crate) fn servers(&self) -> [HostId; 6] {
        [
            self.web,
            self.ssh,
            self.ftp,
            self.files,
            self.db,
            self.resolver,
        ]
    }
}
