//! The traffic simulator: labelled synthetic captures that look like real networks and
//! real attack tools.
//!
//! A [`Simulator`] plans a whole scenario when it is built — a LAN with clients and
//! servers, external hosts, benign background traffic and the attack episodes — and then
//! yields Ethernet frames in time order. Everything is deterministic from
//! [`SimConfig::seed`]; parameters (addresses, operating systems, tools, ports, rates,
//! sizes, timing) vary with it, so no fixed fingerprint separates attacks from benign
//! traffic. Memory is bounded by the flows active at once: frames are produced from a
//! queue of scheduled events, never materialised.
//!
//! Layout: `sim` (event queue, actors), `net` (addresses, hosts), `frame` (wire
//! bytes and checksums), `tcp` (sessions), `dialog` (what sessions say),
//! `proto` (DNS/NTP/ICMP/banners), `tls` (TLS records), `benign` (background), `scan`, `flood`, `intrusion` (attacks),
//! `attacks` and `plan` (turning a config into actors and episodes).

mod attacks;
mod benign;
mod dialog;
mod flood;
mod frame;
mod intrusion;
mod net;
mod plan;
mod proto;
mod scan;
mod sim;
mod tcp;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use capture::{LinkType, PcapWriter};

use crate::labels::{self, AttackType, Episode};

/// What to simulate. Every scenario except `Benign` has benign background traffic too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Background traffic only; no episodes.
    Benign,
    /// SYN (half-open) port scan of one host.
    Portscan,
    /// TCP connect() port scan of one host.
    ConnectScan,
    /// UDP port scan of one host.
    UdpScan,
    /// Low-rate SYN scan (one probe every 1-10 s), vertical or a sweep across the LAN.
    SlowScan,
    /// SYN flood from one real attacker.
    Synflood,
    /// SYN flood from random spoofed sources.
    SynfloodSpoofed,
    /// UDP flood from one attacker.
    Udpflood,
    /// Flood from a botnet of 50-500 sources.
    Ddos,
    /// Reflection/amplification DDoS: responses from many reflectors to one victim.
    Reflection,
    /// SSH/FTP password brute force.
    Bruteforce,
    /// Large upload from an internal host to an external one.
    Exfil,
    /// Background plus a random sequence of the attacks.
    Mixed,
}

const ALL: [Scenario; 13] = [
    Scenario::Benign,
    Scenario::Portscan,
    Scenario::ConnectScan,
    Scenario::UdpScan,
    Scenario::SlowScan,
    Scenario::Synflood,
    Scenario::SynfloodSpoofed,
    Scenario::Udpflood,
    Scenario::Ddos,
    Scenario::Reflection,
    Scenario::Bruteforce,
    Scenario::Exfil,
    Scenario::Mixed,
];

impl Scenario {
    /// Every scenario, benign first and mixed last.
    pub fn all() -> &'static [Scenario] {
        &ALL
    }

    /// The kebab-case name used on the command line and in episode details.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Benign => "benign",
            Scenario::Portscan => "portscan",
            Scenario::ConnectScan => "connect-scan",
            Scenario::UdpScan => "udp-scan",
            Scenario::SlowScan => "slow-scan",
            Scenario::Synflood => "synflood",
            Scenario::SynfloodSpoofed => "synflood-spoofed",
            Scenario::Udpflood => "udpflood",
            Scenario::Ddos => "ddos",
            Scenario::Reflection => "reflection",
            Scenario::Bruteforce => "bruteforce",
            Scenario::Exfil => "exfil",
            Scenario::Mixed => "mixed",
        }
    }

    /// One line saying what the scenario produces.
    pub fn describe(&self) -> &'static str {
        match self {
            Scenario::Benign => "benign LAN traffic only: web, DNS, file shares, databases, SSH, streaming, NTP, pings",
            Scenario::Portscan => "nmap -sS / masscan SYN scan of one host (RST/ACK from closed ports, SYN/ACK from open)",
            Scenario::ConnectScan => "nmap -sT connect scan: full handshakes then RST on open ports",
            Scenario::UdpScan => "nmap -sU UDP scan; closed ports answer rate-limited ICMP port unreachable",
            Scenario::SlowScan => "stealthy SYN scan, one probe every 1-10 s, of one host or one port across the LAN",
            Scenario::Synflood => "hping3-like SYN flood from one real host to a web server",
            Scenario::SynfloodSpoofed => {
                "SYN flood from random spoofed sources (about 20k pps x intensity)"
            }
            Scenario::Udpflood => "UDP flood from one host, fixed or random ports, 64-1400 byte payloads",
            Scenario::Ddos => "50-500 bots flooding a web server with SYNs, UDP or HTTP GET connections",
            Scenario::Reflection => "reflection DDoS: DNS/NTP/SNMP/SSDP/memcached/CLDAP/... responses or TCP SYN-ACKs from 20-5000 reflectors to one victim",
            Scenario::Bruteforce => "hydra-like SSH or FTP password guessing: many short sessions, 2-20 attempts/s",
            Scenario::Exfil => "one internal host uploading tens of MB to an external host",
            Scenario::Mixed => "benign background with a random sequence of the attacks above, separated by quiet gaps",
        }
    }

    /// The label type of this scenario's episodes (`None` for benign and mixed).
    pub fn attack_type(&self) -> Option<AttackType> {
        match self {
            Scenario::Portscan | Scenario::ConnectScan | Scenario::UdpScan | Scenario::SlowScan => {
                Some(AttackType::PortScan)
            }
            Scenario::Synflood | Scenario::SynfloodSpoofed => Some(AttackType::SynFlood),
            Scenario::Udpflood => Some(AttackType::UdpFlood),
            Scenario::Ddos | Scenario::Reflection => Some(AttackType::Ddos),
            Scenario::Bruteforce => Some(AttackType::BruteForce),
            Scenario::Exfil => Some(AttackType::DataExfiltration),
            Scenario::Benign | Scenario::Mixed => None,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown scenario name; its message lists the valid names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario(
    /// The name as given.
    pub String,
);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown scenario `{}`; valid scenarios: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;
    /// Case-insensitive; `_` is accepted for `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        ALL.iter()
            .copied()
            .find(|sc| sc.name() == norm)
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// What to simulate and how much.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Which scenario.
    pub scenario: Scenario,
    /// Capture length in seconds.
    pub seconds: f64,
    /// Everything is a function of the seed.
    pub seed: u64,
    /// Timestamp of the capture start, ns since the Unix epoch.
    pub start_ts_ns: u64,
    /// Multiplies attack packet (or connection) rates; 1.0 is the realistic default.
    pub intensity: f64,
}

impl Default for SimConfig {
    /// Mixed, 60 s, seed 7, starting 2024-01-01T00:00:00Z, intensity 1.
    fn default() -> Self {
        SimConfig {
            scenario: Scenario::Mixed,
            seconds: 60.0,
            seed: 7,
            start_ts_ns: 1_704_067_200_000_000_000,
            intensity: 1.0,
        }
    }
}

/// One frame and its capture time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFrame {
    /// Capture timestamp, ns since the Unix epoch.
    pub ts_ns: u64,
    /// A full Ethernet II frame (IPv4 inside), at least 60 bytes.
    pub frame: Vec<u8>,
}

/// A planned simulation yielding frames in non-decreasing timestamp order. It is `Send`,
/// so it can run on another thread.
pub struct Simulator {
    engine: sim::Engine,
    episodes: Vec<Episode>,
}

impl Simulator {
    /// Plans the scenario (network, background, attack episodes). Invalid durations give
    /// an empty capture; invalid intensities count as 1; durations are capped at 10^7 s,
    /// intensities at 10^4 and starts at about the year 2096. Never panics.
    pub fn new(cfg: &SimConfig) -> Self {
        let (engine, episodes) = plan::build(cfg);
        Simulator { engine, episodes }
    }

    /// The ground truth, known before any frame is produced: one episode per attack
    /// (DDoS and spoofed floods: attacker `*`, the victim), sorted by start time. Start is the first attack packet; end
    /// bounds the attacker's last packet (including its kernel's replies).
    pub fn episodes(&self) -> &[Episode] {
        &self.episodes
    }

    /// Scheduled events right now (a measure of the simulator's memory).
    pub fn pending(&self) -> usize {
        self.engine.queue.len()
    }
}

impl Iterator for Simulator {
    type Item = SimFrame;

    fn next(&mut self) -> Option<SimFrame> {
        self.engine.next_frame()
    }
}

/// What [`write_scenario`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimSummary {
    /// Frames written.
    pub frames: u64,
    /// Sum of frame lengths (bytes on the wire, without pcap headers).
    pub bytes: u64,
    /// Episodes in `labels.csv`.
    pub episodes: usize,
    /// `out_dir/capture.pcap`.
    pub pcap: PathBuf,
    /// `out_dir/labels.csv`.
    pub labels: PathBuf,
}

/// Simulates `cfg` into `out_dir/capture.pcap` (Ethernet, nanosecond pcap, snaplen
/// 65535) and `out_dir/labels.csv`, creating `out_dir` if needed. `progress` is called
/// with the number of frames written every 65 536 frames and once at the end. Same
/// config, same bytes.
pub fn write_scenario(
    cfg: &SimConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<SimSummary> {
    if !(cfg.seconds.is_finite() && cfg.seconds > 0.0) {
        bail!(
            "simulation length must be a positive number of seconds, got {}",
            cfg.seconds
        );
    }
    if !(cfg.intensity.is_finite() && cfg.intensity > 0.0) {
        bail!("intensity must be a positive number, got {}", cfg.intensity);
    }
    if cfg.start_ts_ns > plan::MAX_START_NS || cfg.start_ts_ns as f64 / 1e9 + cfg.seconds > 4.2e9 {
        bail!("the capture must end before the year 2100 (pcap timestamps are 32-bit seconds)");
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let pcap = out_dir.join("capture.pcap");
    let labels_path = out_dir.join("labels.csv");
    let file = File::create(&pcap).with_context(|| format!("creating {}", pcap.display()))?;
    let mut writer = PcapWriter::new(
        BufWriter::with_capacity(4 << 20, file),
        LinkType::Ethernet,
        65535,
    )
    .with_context(|| format!("writing {}", pcap.display()))?;
    let mut sim = Simulator::new(cfg);
    let episodes = sim.episodes().to_vec();
    let (mut frames, mut bytes) = (0u64, 0u64);
    for f in &mut sim {
        let len = f.frame.len() as u32;
        writer
            .write_frame(f.ts_ns, &f.frame, len)
            .with_context(|| format!("writing {}", pcap.display()))?;
        frames += 1;
        bytes += u64::from(len);
        if frames % 65_536 == 0 {
            progress(frames);
        }
    }
    let out = writer
        .finish()
        .with_context(|| format!("writing {}", pcap.display()))?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", pcap.display()))?;
    progress(frames);
    labels::write_episodes(&labels_path, &episodes)?;
    Ok(SimSummary {
        frames,
        bytes,
        episodes: episodes.len(),
        pcap,
        labels: labels_path,
    })
}
