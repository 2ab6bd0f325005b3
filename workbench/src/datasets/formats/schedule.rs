//! The CIC-IDS2017 attack schedule as seen inside the captures, built in.
//!
//! Source: the "machine-checkable schedule" of the corrected relabelling by Engelen et
//! al. (WTMC 2021, `GintsEngelen/WTMC2021-Code`, `labelling_CSV_flows.py`; facts only),
//! as listed in `PROVENANCE.md`. Inside the captures the external attackers are NATed, so
//! most attacks appear as 172.16.0.1 → 192.168.10.50.
//!
//! Clock: the windows are in the CSVs' local clock. That script subtracts 5 h from its
//! CICFlowMeter timestamps, which turns Central European Summer Time (UTC+2, its
//! authors' clock) into New Brunswick's Atlantic Daylight Time (UTC−3), the clock of the
//! UNB schedule and of the original CSVs; both agree on the attacks' local times. So
//! every window is converted with ADT = UTC−3 (UTC = local + 3 h).
//!
//! Window ends given to the minute include that minute (`10:13–10:38` then Hulk
//! `10:39`, and slowloris ends `10:12:59`), so an end `HH:MM` means `HH:MM:59`.
//! Deviations, each because the relabelling gives no usable bound:
//! - DoS slowloris starts at 09:47 (UNB's published start): the script only bounds it
//!   below by 02:23, hours before the capture day began.
//! - Bot: the script matches TCP port 8080 with 205.174.165.73 on either side, or
//!   192.168.10.17→52.7.235.158 and 192.168.10.12→52.6.13.28. Episodes cannot carry a
//!   port, so the bots UNB names (192.168.10.5/.8/.9/.14/.15) → 205.174.165.73, the
//!   C&C 205.174.165.73 → `*`, and the two extra pairs are listed.
//! - Infiltration is listed from the infected host (192.168.10.8 → 205.174.165.73), the
//!   direction the flows are matched in, since that host is the one acting maliciously.
//!
//! Attack types follow the CSV labels through [`super::cicids2017::attack_for_label`], so
//! schedule episodes and CSV-derived episodes name attacks the same way.

use std::net::{IpAddr, Ipv4Addr};

use super::cicids2017::{attack_for_label, normalise_label};
use crate::labels::{AttackType, Episode, HostSpec};

/// Local (ADT) clock offset from UTC used for the schedule.
pub const ADT_OFFSET_S: i64 = -3 * 3600;

/// One row: label, day of July 2017, local start and end `(h, m, s)`, attacker, victim.
type Row = (
    &'static str,
    u32,
    (u32, u32, u32),
    (u32, u32, u32),
    Host,
    Host,
);

#[derive(Clone, Copy)]
enum Host {
    Any,
    V4(u8, u8, u8, u8),
}

const NAT: Host = Host::V4(172, 16, 0, 1);
const WEB: Host = Host::V4(192, 168, 10, 50);
const C2: Host = Host::V4(205, 174, 165, 73);

const fn lan(last: u8) -> Host {
    Host::V4(192, 168, 10, last)
}

const BOT_START: (u32, u32, u32) = (9, 30, 0);
const BOT_END: (u32, u32, u32) = (12, 59, 59);

const ROWS: [Row; 21] = [
    ("FTP-Patator", 4, (9, 17, 0), (10, 30, 59), NAT, WEB),
    ("SSH-Patator", 4, (13, 0, 0), (16, 11, 59), NAT, WEB),
    ("DoS slowloris", 5, (9, 47, 0), (10, 12, 59), NAT, WEB),
    ("DoS Slowhttptest", 5, (10, 13, 0), (10, 38, 59), NAT, WEB),
    ("DoS Hulk", 5, (10, 39, 0), (11, 9, 59), NAT, WEB),
    ("DoS GoldenEye", 5, (11, 10, 0), (11, 23, 59), NAT, WEB),
    ("Heartbleed", 5, (15, 11, 0), (15, 33, 59), NAT, lan(51)),
    (
        "Web Attack – Brute Force",
        6,
        (9, 10, 0),
        (10, 12, 59),
        NAT,
        WEB,
    ),
    ("Web Attack – XSS", 6, (10, 13, 0), (10, 37, 59), NAT, WEB),
    (
        "Web Attack – Sql Injection",
        6,
        (10, 39, 0),
        (10, 45, 59),
        NAT,
        WEB,
    ),
    ("Infiltration", 6, (14, 15, 0), (15, 50, 59), lan(8), C2),
    ("Bot", 7, BOT_START, BOT_END, lan(5), C2),
    ("Bot", 7, BOT_START, BOT_END, lan(8), C2),
    ("Bot", 7, BOT_START, BOT_END, lan(9), C2),
    ("Bot", 7, BOT_START, BOT_END, lan(14), C2),
    ("Bot", 7, BOT_START, BOT_END, lan(15), C2),
    ("Bot", 7, BOT_START, BOT_END, C2, Host::Any),
    (
        "Bot",
        7,
        BOT_START,
        BOT_END,
        lan(17),
        Host::V4(52, 7, 235, 158),
    ),
    (
        "Bot",
        7,
        BOT_START,
        BOT_END,
        lan(12),
        Host::V4(52, 6, 13, 28),
    ),
    ("PortScan", 7, (12, 30, 0), (15, 40, 59), NAT, WEB),
    ("DDoS", 7, (15, 40, 0), (16, 30, 59), NAT, WEB),
];

fn host(h: Host) -> HostSpec {
    match h {
        Host::Any => HostSpec::Any,
        Host::V4(a, b, c, d) => HostSpec::Addr(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
    }
}

/// Epoch seconds UTC of a local ADT time on `day` July 2017.
fn utc(day: u32, (h, m, s): (u32, u32, u32)) -> f64 {
    // 2017-07-01 00:00:00 UTC.
    const JULY_1_2017: i64 = 1_498_867_200;
    let local = JULY_1_2017 + i64::from(day - 1) * 86_400 + i64::from(h * 3600 + m * 60 + s);
    (local - ADT_OFFSET_S) as f64
}

/// The CIC-IDS2017 attack episodes (Tue 4 – Fri 7 July 2017), in UTC, sorted by start.
pub fn cicids2017_schedule() -> Vec<Episode> {
    let mut out: Vec<Episode> = ROWS
        .iter()
        .map(|&(label, day, start, end, attacker, victim)| {
            let label = normalise_label(label);
            let attack_type =
                attack_for_label(&label).unwrap_or_else(|| AttackType::Other(label.clone()));
            let fmt = |(h, m, s): (u32, u32, u32)| format!("{h:02}:{m:02}:{s:02}");
            Episode {
                attack_type,
                attacker: host(attacker),
                victim: host(victim),
                start_ts: utc(day, start),
                end_ts: utc(day, end),
                detail: format!(
                    "CIC-IDS2017 {label}, {day:02}/07/2017 {}–{} ADT (Engelen et al. 2021 schedule)",
                    fmt(start),
                    fmt(end)
                ),
            }
        })
        .collect();
    // Stable sort: rows with the same start keep the table's order.
    out.sort_by(|a, b| a.start_ts.total_cmp(&b.start_ts));
    out
}
