//! The labelling rule: which host windows count as attack.
//!
//! A host's window `[end - width, end)` is **positive** when
//! 1. the host is the attacker of an episode that overlaps the window, or
//! 2. the host is the victim of a volumetric episode (syn_flood, udp_flood, ddos) whose
//!    sources are spoofed or many (attacker `*`, or any ddos episode),
//!
//! and negative otherwise. Victims of scans, brute force or a single-source flood are
//! negative: the detector is asked to point at the attacker, and a flood from one real
//! source is visible at that source. The global row (`*`) is not labelled; metrics are
//! over host windows.

use std::net::IpAddr;

use hashbrown::HashMap;

use super::{AttackType, Episode, HostSpec};

/// Why a window is positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Attacker,
    Victim,
}

/// Answers "is this host window an attack?" quickly for many windows.
pub struct Labeler {
    episodes: Vec<Episode>,
    by_host: HashMap<IpAddr, Vec<(usize, Role)>>,
}

/// True for episodes whose victim is labelled positive (spoofed or many sources).
pub fn victim_is_positive(e: &Episode) -> bool {
    let volumetric = matches!(
        e.attack_type,
        AttackType::SynFlood | AttackType::UdpFlood | AttackType::Ddos
    );
    volumetric && (matches!(e.attacker, HostSpec::Any) || e.attack_type == AttackType::Ddos)
}

impl Labeler {
    /// Indexes `episodes` by the hosts they make positive.
    pub fn new(episodes: Vec<Episode>) -> Self {
        let mut by_host: HashMap<IpAddr, Vec<(usize, Role)>> = HashMap::new();
        for (i, e) in episodes.iter().enumerate() {
            if let HostSpec::Addr(a) = e.attacker {
                by_host.entry(a).or_default().push((i, Role::Attacker));
            }
            if victim_is_positive(e) {
                if let HostSpec::Addr(v) = e.victim {
                    by_host.entry(v).or_default().push((i, Role::Victim));
                }
            }
        }
        Labeler { episodes, by_host }
    }

    /// The episodes.
    pub fn episodes(&self) -> &[Episode] {
        &self.episodes
    }

    /// The first episode (by index) that makes `host`'s window `[start, end)` positive,
    /// with the host's role in it.
    pub fn label(&self, host: IpAddr, start_s: f64, end_s: f64) -> Option<(usize, Role)> {
        self.by_host.get(&host)?.iter().copied().find(|&(i, _)| {
            let e = &self.episodes[i];
            e.start_ts < end_s && e.end_ts >= start_s
        })
    }

    /// Every episode that makes `host`'s window `[start, end)` positive.
    pub fn all_labels(
        &self,
        host: IpAddr,
        start_s: f64,
        end_s: f64,
    ) -> impl Iterator<Item = usize> + '_ {
        self.by_host
            .get(&host)
            .into_iter()
            .flatten()
            .filter(move |&&(i, _)| {
                let e = &self.episodes[i];
                e.start_ts < end_s && e.end_ts >= start_s
            })
            .map(|&(i, _)| i)
    }

    /// Hosts that can be positive for episode `i` (its attacker, and its victim when
    /// [`victim_is_positive`]).
    pub fn hosts_of(&self, i: usize) -> Vec<IpAddr> {
        let e = &self.episodes[i];
        let mut out = Vec::new();
        if let HostSpec::Addr(a) = e.attacker {
            out.push(a);
        }
        if victim_is_positive(e) {
            if let HostSpec::Addr(v) = e.victim {
                out.push(v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(kind: AttackType, attacker: HostSpec, victim: HostSpec) -> Episode {
        Episode {
            attack_type: kind,
            attacker,
            victim,
            start_ts: 100.0,
            end_ts: 110.0,
            detail: String::new(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn attackers_overlap_and_victims_only_of_spoofed_or_many() {
        let a = HostSpec::Addr(ip("10.0.0.1"));
        let v = HostSpec::Addr(ip("10.0.0.2"));
        let l = Labeler::new(vec![
            ep(AttackType::PortScan, a, v),
            ep(
                AttackType::SynFlood,
                HostSpec::Any,
                HostSpec::Addr(ip("10.0.0.3")),
            ),
            ep(
                AttackType::SynFlood,
                HostSpec::Addr(ip("10.0.0.4")),
                HostSpec::Addr(ip("10.0.0.5")),
            ),
        ]);
        assert_eq!(
            l.label(ip("10.0.0.1"), 98.0, 100.5),
            Some((0, Role::Attacker))
        );
        assert_eq!(
            l.label(ip("10.0.0.1"), 110.5, 112.5),
            None,
            "after the episode"
        );
        assert_eq!(
            l.label(ip("10.0.0.1"), 110.0, 112.0),
            Some((0, Role::Attacker)),
            "end is inclusive"
        );
        assert_eq!(l.label(ip("10.0.0.1"), 97.0, 99.0), None);
        assert_eq!(
            l.label(ip("10.0.0.2"), 100.0, 102.0),
            None,
            "scan victim is negative"
        );
        assert_eq!(
            l.label(ip("10.0.0.3"), 100.0, 102.0),
            Some((1, Role::Victim))
        );
        assert_eq!(
            l.label(ip("10.0.0.5"), 100.0, 102.0),
            None,
            "single-source flood victim"
        );
        assert_eq!(
            l.label(ip("10.0.0.4"), 100.0, 102.0),
            Some((2, Role::Attacker))
        );
    }
}
