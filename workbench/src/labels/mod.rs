//! Attack episodes: the ground-truth format every dataset uses (`labels.csv`).
//!
//! An [`Episode`] says "this attacker attacked this victim between these two times".
//! Simulated captures, public datasets and hand-labelled captures all end in the same
//! CSV file:
//!
//! ```text
//! attack_type,attacker_ip,victim_ip,start_ts,end_ts,detail
//! port_scan,203.0.113.7,10.1.2.3,1704067206.25,1704067251.5,"portscan tool=nmap-sS, ports=1000"
//! syn_flood,*,10.1.2.10,1704067300,1704067360,synflood-spoofed
//! ```
//!
//! Reading is forgiving about layout (extra columns, column order, missing `detail`,
//! whitespace, blank and `#` comment lines) and strict about values: every error names
//! the file, the line and the field, and no input makes it panic.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod labeler;

pub use labeler::{victim_is_positive, Labeler, Role};

/// The kind of attack an episode labels. Canonical names are snake_case; serde writes
/// and reads the name as a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum AttackType {
    /// Probing many ports (or hosts): `port_scan`.
    PortScan,
    /// Half-open TCP connection flood: `syn_flood`.
    SynFlood,
    /// UDP packet flood: `udp_flood`.
    UdpFlood,
    /// Distributed flood from many sources: `ddos`.
    Ddos,
    /// Repeated authentication attempts: `brute_force`.
    BruteForce,
    /// Large outbound transfer of data: `data_exfiltration`.
    DataExfiltration,
    /// Any other label, kept verbatim (trimmed).
    Other(String),
}

impl AttackType {
    /// The known types, in canonical order.
    pub const KNOWN: [AttackType; 6] = [
        AttackType::PortScan,
        AttackType::SynFlood,
        AttackType::UdpFlood,
        AttackType::Ddos,
        AttackType::BruteForce,
        AttackType::DataExfiltration,
    ];

    /// Parses a name case-insensitively, accepting common aliases (`portscan`,
    /// `synflood`, `bruteforce`, `SSH-Patator`, `exfil`, ...). `-` and spaces count as `_`.
    /// Unknown names become [`AttackType::Other`] with the trimmed original text.
    pub fn parse(name: &str) -> AttackType {
        let trimmed = name.trim();
        let norm: String = trimmed
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        match norm.as_str() {
            "port_scan" | "portscan" | "scan" | "port_sweep" | "portsweep" | "probe"
            | "probing" | "reconnaissance" | "recon" => AttackType::PortScan,
            "syn_flood" | "synflood" | "syn" | "tcp_syn_flood" | "syn_dos" => AttackType::SynFlood,
            "udp_flood" | "udpflood" | "udp" | "udp_dos" => AttackType::UdpFlood,
            "ddos" | "d_dos" | "distributed_denial_of_service" => AttackType::Ddos,
            "brute_force" | "bruteforce" | "brute" | "ssh_patator" | "ftp_patator"
            | "password_guessing" => AttackType::BruteForce,
            "data_exfiltration" | "exfiltration" | "exfil" | "data_exfil" => {
                AttackType::DataExfiltration
            }
            _ => AttackType::Other(trimmed.to_string()),
        }
    }

    /// The canonical name (`port_scan`, ...); `Other` gives its own text.
    pub fn name(&self) -> &str {
        match self {
            AttackType::PortScan => "port_scan",
            AttackType::SynFlood => "syn_flood",
            AttackType::UdpFlood => "udp_flood",
            AttackType::Ddos => "ddos",
            AttackType::BruteForce => "brute_force",
            AttackType::DataExfiltration => "data_exfiltration",
            AttackType::Other(s) => s,
        }
    }

    /// True for the packet-rate attacks: `syn_flood`, `udp_flood`, `ddos`.
    pub fn is_volumetric(&self) -> bool {
        matches!(
            self,
            AttackType::SynFlood | AttackType::UdpFlood | AttackType::Ddos
        )
    }
}

impl From<String> for AttackType {
    fn from(s: String) -> Self {
        AttackType::parse(&s)
    }
}

impl From<AttackType> for String {
    fn from(t: AttackType) -> Self {
        t.name().to_string()
    }
}

impl fmt::Display for AttackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AttackType {
    type Err = std::convert::Infallible;
    /// Same as [`AttackType::parse`]; never fails.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(AttackType::parse(s))
    }
}

/// One side of an episode: a single address, or `*` (spoofed or many sources, or the
/// victims of a sweep across hosts). Serde uses the same text as the CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HostSpec {
    /// Any address (written `*`).
    Any,
    /// Exactly this address.
    Addr(IpAddr),
}

impl HostSpec {
    /// True when `ip` is covered by this spec.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match self {
            HostSpec::Any => true,
            HostSpec::Addr(a) => *a == ip,
        }
    }
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostSpec::Any => f.write_str("*"),
            HostSpec::Addr(a) => write!(f, "{a}"),
        }
    }
}

impl TryFrom<String> for HostSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HostSpec> for String {
    fn from(h: HostSpec) -> Self {
        h.to_string()
    }
}

impl FromStr for HostSpec {
    type Err = String;
    /// Accepts `*`, `any` (any case) or an IPv4/IPv6 address, surrounding whitespace allowed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "*" || s.eq_ignore_ascii_case("any") {
            return Ok(HostSpec::Any);
        }
        s.parse::<IpAddr>()
            .map(HostSpec::Addr)
            .map_err(|_| format!("`{s}` is not an IP address or `*`"))
    }
}

/// One labelled attack: who attacked whom, when (epoch seconds, fractional), and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// What kind of attack.
    pub attack_type: AttackType,
    /// The attacking address, or `Any` for spoofed/many sources.
    pub attacker: HostSpec,
    /// The attacked address, or `Any` for a sweep across hosts.
    pub victim: HostSpec,
    /// First attack packet, epoch seconds.
    pub start_ts: f64,
    /// Last attack packet, epoch seconds (≥ `start_ts`).
    pub end_ts: f64,
    /// Free text: the scenario and its key parameters.
    pub detail: String,
}

impl Episode {
    /// True when `ts` (epoch seconds) lies within `[start_ts, end_ts]`.
    pub fn contains_ts(&self, ts: f64) -> bool {
        ts >= self.start_ts && ts <= self.end_ts
    }

    /// True when a packet from `src` to `dst` at `ts` belongs to this episode.
    pub fn covers(&self, src: IpAddr, dst: IpAddr, ts: f64) -> bool {
        self.contains_ts(ts) && self.attacker.matches(src) && self.victim.matches(dst)
    }
}

/// Why a labels file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The file could not be opened, read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file name as given.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header line lacks a required column.
    #[error("{file}:{line}: header has no `{column}` column (need {REQUIRED_LIST})")]
    MissingColumn {
        /// The file name as given.
        file: String,
        /// 1-based line number of the header.
        line: usize,
        /// The missing column name.
        column: &'static str,
    },
    /// A value could not be parsed.
    #[error("{file}:{line}: field `{field}`: {message}")]
    Field {
        /// The file name as given.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The column (or `record` for the line as a whole).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The header written by [`write_episodes`].
pub const HEADER: &str = "attack_type,attacker_ip,victim_ip,start_ts,end_ts,detail";
const REQUIRED: [&str; 5] = [
    "attack_type",
    "attacker_ip",
    "victim_ip",
    "start_ts",
    "end_ts",
];
const REQUIRED_LIST: &str = "attack_type, attacker_ip, victim_ip, start_ts, end_ts";

/// Reads a `labels.csv` file (see [`parse_episodes`] for the accepted layout).
pub fn read_episodes(path: impl AsRef<Path>) -> Result<Vec<Episode>, LabelsError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LabelsError::Io {
        file: name.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_episodes(&text, &name)
}

/// Parses labels CSV text; `name` is used in error messages.
///
/// The first line that is neither blank nor a `#` comment is the header; columns are
/// found by name (case-insensitive), extra ones are ignored and `detail` is optional.
/// Fields may be double-quoted (`""` escapes a quote). If a row has more fields than
/// the header and `detail` is the last column, the surplus is joined back into `detail`
/// with `,` (an unquoted comma in free text; whitespace around it is not kept). Empty input gives no episodes.
pub fn parse_episodes(text: &str, name: &str) -> Result<Vec<Episode>, LabelsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut columns: Option<Columns> = None;
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_fields(line).map_err(|message| LabelsError::Field {
            file: name.to_string(),
            line: line_no,
            field: "record".to_string(),
            message,
        })?;
        match &columns {
            None => columns = Some(Columns::from_header(&fields, name, line_no)?),
            Some(cols) => out.push(cols.episode(fields, name, line_no)?),
        }
    }
    Ok(out)
}

/// Writes episodes as `labels.csv` (header [`HEADER`]); timestamps are written in the
/// shortest form that reads back to the same `f64`, fields are quoted when needed and
/// line breaks inside `detail` become spaces.
pub fn write_episodes(path: impl AsRef<Path>, episodes: &[Episode]) -> Result<(), LabelsError> {
    let path = path.as_ref();
    std::fs::write(path, format_episodes(episodes)).map_err(|source| LabelsError::Io {
        file: path.display().to_string(),
        source,
    })
}

/// The CSV text [`write_episodes`] writes.
pub fn format_episodes(episodes: &[Episode]) -> String {
    let mut s = String::with_capacity(64 + episodes.len() * 96);
    s.push_str(HEADER);
    s.push('\n');
    for e in episodes {
        let fields = [
            quote(e.attack_type.name()),
            e.attacker.to_string(),
            e.victim.to_string(),
            format!("{}", e.start_ts),
            format!("{}", e.end_ts),
            quote(&e.detail.replace(['\r', '\n'], " ")),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

fn quote(field: &str) -> String {
    let needs = field.contains([',', '"'])
        || field.starts_with(char::is_whitespace)
        || field.ends_with(char::is_whitespace)
        || field.starts_with('#');
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Splits one CSV line into trimmed fields; quoted fields keep their inner whitespace.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        // One field: optional whitespace, then either a quoted or a bare value.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        value.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            if !closed {
                return Err(format!(
                    "unterminated quoted field (field {})",
                    fields.len() + 1
                ));
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.peek() {
                None | Some(',') => {}
                Some(c) => {
                    return Err(format!(
                        "unexpected `{c}` after closing quote (field {})",
                        fields.len() + 1
                    ))
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim_end().to_string();
        }
        fields.push(value);
        match chars.next() {
            Some(',') => continue,
            _ => return Ok(fields),
        }
    }
}

/// Column positions found in the header.
struct Columns {
    required: [usize; 5],
    detail: Option<usize>,
    width: usize,
}

impl Columns {
    fn from_header(fields: &[String], file: &str, line: usize) -> Result<Columns, LabelsError> {
        let find = |name: &str| {
            fields
                .iter()
                .position(|f| f.trim().eq_ignore_ascii_case(name))
        };
        let mut required = [0usize; 5];
        for (slot, column) in required.iter_mut().zip(REQUIRED) {
            *slot = find(column).ok_or_else(|| LabelsError::MissingColumn {
                file: file.to_string(),
                line,
                column,
            })?;
        }
        Ok(Columns {
            required,
            detail: find("detail"),
            width: fields.len(),
        })
    }

    fn episode(
        &self,
        mut fields: Vec<String>,
        file: &str,
        line: usize,
    ) -> Result<Episode, LabelsError> {
        let err = |field: &str, message: String| LabelsError::Field {
            file: file.to_string(),
            line,
            field: field.to_string(),
            message,
        };
        if fields.len() > self.width {
            match self.detail {
                Some(d) if d + 1 == self.width => {
                    let rest = fields.split_off(d).join(",");
                    fields.push(rest);
                }
                _ => {
                    return Err(err(
                        "record",
                        format!("{} fields but the header has {}", fields.len(), self.width),
                    ))
                }
            }
        }
        let get = |i: usize, column: &str| -> Result<&str, LabelsError> {
            match fields.get(i).map(|s| s.as_str()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(err(column, "missing value".to_string())),
            }
        };
        let [ty, attacker, victim, start, end] = self.required;
        let attack_type = AttackType::parse(get(ty, "attack_type")?);
        let host = |i: usize, column: &str| -> Result<HostSpec, LabelsError> {
            get(i, column)?
                .parse::<HostSpec>()
                .map_err(|m| err(column, m))
        };
        let attacker = host(attacker, "attacker_ip")?;
        let victim = host(victim, "victim_ip")?;
        let time = |i: usize, column: &str| -> Result<f64, LabelsError> {
            let v = get(i, column)?;
            match v.parse::<f64>() {
                Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
                Ok(_) => Err(err(
                    column,
                    format!("`{v}` is not a finite, non-negative time"),
                )),
                Err(_) => Err(err(column, format!("`{v}` is not a number of seconds"))),
            }
        };
        let start_ts = time(start, "start_ts")?;
        let end_ts = time(end, "end_ts")?;
        if end_ts < start_ts {
            return Err(err(
                "end_ts",
                format!("{end_ts} is before start_ts {start_ts}"),
            ));
        }
        let detail = self
            .detail
            .and_then(|d| fields.get(d))
            .cloned()
            .unwrap_or_default();
        Ok(Episode {
            attack_type,
            attacker,
            victim,
            start_ts,
            end_ts,
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Row<'a> = (&'a str, &'a str, &'a str, f64, f64, &'a str);

    fn eps(rows: &[Row<'_>]) -> Vec<Episode> {
        rows.iter()
            .map(|&(t, a, v, s, e, d)| Episode {
                attack_type: AttackType::parse(t),
                attacker: a.parse().unwrap(),
                victim: v.parse().unwrap(),
                start_ts: s,
                end_ts: e,
                detail: d.to_string(),
            })
            .collect()
    }

    fn field_err(text: &str) -> (usize, String, String) {
        match parse_episodes(text, "t.csv") {
            Err(LabelsError::Field {
                file,
                line,
                field,
                message,
            }) if file == "t.csv" => (line, field, message),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_through_a_file() {
        let eps = eps(&[
            (
                "port_scan",
                "203.0.113.7",
                "10.1.2.3",
                1704067206.123456,
                1704067251.5,
                "a, b",
            ),
            (
                "syn_flood",
                "*",
                "10.1.2.10",
                1704067300.0,
                1704067360.000001,
                "say \"hi\"",
            ),
            ("weird, name", "2001:db8::1", "*", 0.25, 0.5, " padded "),
            (
                "data_exfiltration",
                "10.0.0.9",
                "198.51.100.4",
                1.0,
                2.0,
                "#not a comment",
            ),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        write_episodes(&path, &eps).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with(HEADER));
        assert_eq!(read_episodes(&path).unwrap(), eps);
    }

    #[test]
    fn newlines_in_detail_are_flattened() {
        let e = eps(&[("ddos", "10.0.0.1", "10.0.0.2", 1.0, 2.0, "a\nb\r\nc")]);
        assert_eq!(
            parse_episodes(&format_episodes(&e), "x").unwrap()[0].detail,
            "a b  c"
        );
    }

    #[test]
    fn layout_quirks_are_accepted() {
        let text =
            "\u{feff}# by hand\n\n  Victim_IP , extra, ATTACK_TYPE,attacker_ip,end_ts,start_ts\r\n\
                    10.0.0.2, ignored ,PortScan , 10.0.0.1 ,  20.5 , 10\r\n   \n# comment\n\
                    * ,\"q,uoted\", exfil,10.0.0.3,3,1\n";
        let want = eps(&[
            ("port_scan", "10.0.0.1", "10.0.0.2", 10.0, 20.5, ""),
            ("data_exfiltration", "10.0.0.3", "*", 1.0, 3.0, ""),
        ]);
        assert_eq!(parse_episodes(text, "t").unwrap(), want);
        let text = format!("{HEADER}\nddos,1.2.3.4,10.0.0.1,1,2,bots=50, mode=syn\n");
        assert_eq!(
            parse_episodes(&text, "t").unwrap()[0].detail,
            "bots=50,mode=syn"
        );
        assert!(parse_episodes("", "t").unwrap().is_empty());
        assert!(parse_episodes(&format!("# x\n\n{HEADER}\n"), "t")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn aliases_and_names() {
        for (s, t) in [
            ("portscan", AttackType::PortScan),
            ("Port-Scan", AttackType::PortScan),
            ("SYNFLOOD", AttackType::SynFlood),
            ("udp flood", AttackType::UdpFlood),
            ("DDoS", AttackType::Ddos),
            ("bruteforce", AttackType::BruteForce),
            ("SSH-Patator", AttackType::BruteForce),
            ("exfil", AttackType::DataExfiltration),
            (" Botnet ", AttackType::Other("Botnet".into())),
        ] {
            assert_eq!(AttackType::parse(s), t, "{s}");
        }
        for t in AttackType::KNOWN {
            assert_eq!(AttackType::parse(t.name()), t);
            assert_eq!(
                t.is_volumetric(),
                t.name().contains("flood") || t.name() == "ddos"
            );
        }
        assert!(!AttackType::Other("x".into()).is_volumetric());
        assert_eq!(" ANY ".parse::<HostSpec>(), Ok(HostSpec::Any));
        let e = eps(&[("exfil", "10.0.0.9", "*", 1.5, 2.0, "d")]);
        let json = serde_json::to_string(&e[0]).unwrap();
        assert!(json
            .contains(r#""attack_type":"data_exfiltration","attacker":"10.0.0.9","victim":"*""#));
        assert_eq!(serde_json::from_str::<Episode>(&json).unwrap(), e[0]);
    }

    #[test]
    fn missing_column_is_named() {
        let text = "attack_type,attacker_ip,victim_ip,start_ts\nport_scan,1.1.1.1,*,1\n";
        match parse_episodes(text, "t.csv") {
            Err(LabelsError::MissingColumn { file, line, column }) => {
                assert_eq!((file.as_str(), line, column), ("t.csv", 1, "end_ts"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_value_error_names_line_and_field() {
        let cases = [
            (",1.1.1.1,*,1,2", "attack_type", "missing"),
            ("ddos,1.1.1,*,1,2", "attacker_ip", "not an IP"),
            ("ddos,*,,1,2", "victim_ip", "missing"),
            ("ddos,*,*,abc,2", "start_ts", "not a number"),
            ("ddos,*,*,1,NaN", "end_ts", "finite"),
            ("ddos,*,*,-1,2", "start_ts", "non-negative"),
            ("ddos,*,*,3,2", "end_ts", "before"),
            ("ddos,*,*", "start_ts", "missing"),
            ("ddos,*,*,1,2,\"open", "record", "unterminated"),
            ("ddos,*,*,1,2,\"a\"b", "record", "after closing quote"),
        ];
        for (row, field, msg) in cases {
            let (line, f, m) = field_err(&format!("{HEADER}\n{row}\n"));
            assert_eq!((line, f.as_str()), (2, field), "{row}");
            assert!(m.contains(msg), "{row}: {m}");
        }
        let text = "a,attack_type,attacker_ip,victim_ip,start_ts,end_ts\n1,ddos,*,*,1,2,3\n";
        assert_eq!(field_err(text).1, "record");
        let text = format!("{HEADER}\n\n# c\nddos,*,*,x,2\n");
        let shown = parse_episodes(&text, "f.csv").unwrap_err().to_string();
        assert!(shown.starts_with("f.csv:4: field `start_ts`"), "{shown}");
        let err = read_episodes(Path::new("/nonexistent/labels.csv")).unwrap_err();
        assert!(matches!(err, LabelsError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/labels.csv"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[a-z0-9_,\"#*. \\n\\r\\t:-]{0,200}") {
            let _ = parse_episodes(&text, "t");
            let _ = parse_episodes(&format!("{HEADER}\n{text}"), "t");
        }

        #[test]
        fn any_episode_round_trips(
            detail in "[^\r\n]{0,40}",
            other in "[a-z][a-z ,\"]{0,12}[a-z]",
            start in 0.0f64..4e9,
            len in 0.0f64..1e5,
            v4 in any::<u32>(),
        ) {
            let ip = std::net::Ipv4Addr::from(v4).to_string();
            let e = eps(&[(&other, &ip, "*", start, start + len, &detail)]);
            prop_assert_eq!(parse_episodes(&format_episodes(&e), "t").unwrap(), e);
        }
    }
}
