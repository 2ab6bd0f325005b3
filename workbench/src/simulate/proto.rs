//! Application-protocol pieces with real wire formats: DNS lookups (through the LAN
//! resolver, which forwards cache misses upstream), NTP exchanges, ICMP echo, HTTP text,
//! SSH and FTP banners and the SSH key-exchange message sizes.

use std::net::Ipv4Addr;

use rand::Rng;

use super::dialog::{Msg, Side};
use super::frame::{Ep, Payload, Pkt};
use super::net::{HostId, Os};
use super::sim::{between, pick, Cx, SimRng, MS, SEC};

/// Names clients resolve.
pub(crate) const DOMAINS: [&str; 32] = [
    "www.google.com",
    "fonts.gstatic.com",
    "api.github.com",
    "github.githubassets.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "www.youtube.com",
    "i.ytimg.com",
    "cdn.jsdelivr.net",
    "ajax.googleapis.com",
    "slack.com",
    "wss-primary.slack.com",
    "zoom.us",
    "www.wikipedia.org",
    "upload.wikimedia.org",
    "s3.amazonaws.com",
    "dl.google.com",
    "update.googleapis.com",
    "ocsp.digicert.com",
    "ctldl.windowsupdate.com",
    "settings-win.data.microsoft.com",
    "www.bing.com",
    "static.cloudflareinsights.com",
    "cdn.cloudflare.net",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "crates.io",
    "static.crates.io",
    "news.ycombinator.com",
    "www.reddit.com",
];

/// Services LAN devices browse for over mDNS.
const MDNS_SERVICES: [&str; 5] = [
    "_googlecast._tcp.local",
    "_airplay._tcp.local",
    "_spotify-connect._tcp.local",
    "_ipp._tcp.local",
    "_companion-link._tcp.local",
];

/// Paths for plain-HTTP requests.
const PATHS: [&str; 8] = [
    "/",
    "/index.html",
    "/api/v1/status",
    "/static/app.js",
    "/images/logo.png",
    "/login",
    "/favicon.ico",
    "/update/check",
];

const USER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "curl/8.5.0",
    "Microsoft-CryptoAPI/10.0",
];

pub(crate) const SSH_SERVER_BANNERS: [&str; 4] = [
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n",
    "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
    "SSH-2.0-OpenSSH_7.4\r\n",
    "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n",
];

pub(crate) const SSH_USER_CLIENTS: [&str; 4] = [
    "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n",
    "SSH-2.0-PuTTY_Release_0.81\r\n",
    "SSH-2.0-OpenSSH_for_Windows_9.5\r\n",
    "SSH-2.0-OpenSSH_9.7\r\n",
];

pub(crate) const SSH_TOOL_CLIENTS: [&str; 4] = [
    "SSH-2.0-libssh_0.9.6\r\n",
    "SSH-2.0-libssh2_1.10.0\r\n",
    "SSH-2.0-paramiko_3.4.0\r\n",
    "SSH-2.0-Go\r\n",
];

pub(crate) const FTP_BANNERS: [&str; 3] = [
    "220 (vsFTPd 3.0.5)\r\n",
    "220 ProFTPD Server (Debian) [::ffff:127.0.0.1]\r\n",
    "220 Microsoft FTP Service\r\n",
];

/// The SSH version exchange and key exchange up to the service accept: the sizes
/// OpenSSH produces (curve25519 or a post-quantum hybrid kex).
pub(crate) fn ssh_open(rng: &mut SimRng, server_banner: &str, client_banner: &str) -> Vec<Msg> {
    let pq = rng.random_bool(0.4);
    vec![
        Msg::text(Side::Server, server_banner, between(rng, 200_000, 3 * MS)),
        Msg::text(Side::Client, client_banner, between(rng, 100_000, 2 * MS)),
        Msg::data(
            Side::Client,
            between(rng, 1100, 1600) as u32,
            between(rng, 10_000, 500_000),
        ),
        Msg::data(
            Side::Server,
            between(rng, 1000, 1200) as u32,
            between(rng, 100_000, 2 * MS),
        ),
        Msg::data(
            Side::Client,
            if pq { between(rng, 1200, 1250) } else { 48 } as u32,
            between(rng, 200_000, 3 * MS),
        ),
        Msg::data(
            Side::Server,
            if pq {
                between(rng, 1500, 1700)
            } else {
                between(rng, 500, 1100)
            } as u32,
            between(rng, MS, 6 * MS),
        ),
        Msg::data(
            Side::Client,
            between(rng, 60, 90) as u32,
            between(rng, 300_000, 4 * MS),
        ),
        Msg::data(Side::Server, 52, between(rng, 100_000, MS)),
    ]
}

/// A plain-HTTP request for `host`.
pub(crate) fn http_request(rng: &mut SimRng, host: &str) -> Vec<u8> {
    let path = pick(rng, &PATHS).copied().unwrap_or("/");
    let ua = pick(rng, &USER_AGENTS).copied().unwrap_or("curl/8.5.0");
    let query = if rng.random_bool(0.3) {
        format!("?id={}", rng.random::<u32>())
    } else {
        String::new()
    };
    format!(
        "GET {path}{query} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes()
}

/// An HTTP response header and the whole message length (header plus the body its
/// Content-Length announces), close to `total`.
pub(crate) fn http_response(total: u32, status: &str) -> (Vec<u8>, u32) {
    let head = |body: u32| {
        format!("HTTP/1.1 {status}\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\nContent-Length: {body}\r\n\r\n")
    };
    let mut body = total.saturating_sub(120);
    for _ in 0..4 {
        let len = head(body).len() as u32;
        if len + body == total {
            break;
        }
        body = total.saturating_sub(len);
    }
    let h = head(body);
    let whole = h.len() as u32 + body;
    (h.into_bytes(), whole)
}

fn dns_name(buf: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        buf.push(label.len() as u8);
        buf.extend_from_slice(label.as_bytes());
    }
    buf.push(0);
}

/// A DNS query (recursion desired, optionally with an EDNS OPT record).
pub(crate) fn dns_query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    dns_name(&mut b, name);
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&[0, 1]);
    if edns {
        b.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    b
}

/// The answer to `dns_query(id, name, qtype, false)`: `n` records (0 and `nx` gives
/// NXDOMAIN).
pub(crate) fn dns_answer(
    rng: &mut SimRng,
    id: u16,
    name: &str,
    qtype: u16,
    n: u8,
    nx: bool,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(&id.to_be_bytes());
    let rcode = if nx { 3 } else { 0 };
    let an = if nx { 0 } else { n };
    b.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1, 0, an, 0, 0, 0, 0]);
    dns_name(&mut b, name);
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&[0, 1]);
    let ttl: u32 = rng.random_range(30..3600);
    for _ in 0..an {
        b.extend_from_slice(&[0xc0, 0x0c]);
        b.extend_from_slice(&qtype.to_be_bytes());
        b.extend_from_slice(&[0, 1]);
        b.extend_from_slice(&ttl.to_be_bytes());
        let len: u16 = if qtype == 28 { 16 } else { 4 };
        b.extend_from_slice(&len.to_be_bytes());
        for _ in 0..len {
            b.push(rng.random());
        }
    }
    b
}

/// A DNS lookup by `client` starting at `t`; returns when the answer is seen. A and
/// (for Linux/macOS, often) AAAA in parallel; cache misses go to the upstream resolver.
pub(crate) fn dns_lookup(cx: &mut Cx<'_>, client: HostId, t: u64) -> u64 {
    let resolver = cx.net.resolver;
    let upstream = cx.net.upstream_dns;
    let name = pick(cx.rng, &DOMAINS).copied().unwrap_or("example.com");
    let os = cx.net.hosts[client].os;
    let df = os != Os::Windows;
    let sport: u16 = cx.rng.random_range(1024..=65535);
    let both = os != Os::Windows && cx.rng.random_bool(0.5);
    let miss = cx.rng.random_bool(0.35);
    let nx = cx.rng.random_bool(0.03);
    let mut done = t;
    for (k, qtype) in [1u16, 28]
        .into_iter()
        .enumerate()
        .take(if both { 2 } else { 1 })
    {
        let tq = t + k as u64 * between(cx.rng, 20_000, 200_000);
        let id: u16 = cx.rng.random();
        let q = Pkt::udp(
            Ep::Host(client),
            Ep::Host(resolver),
            sport,
            53,
            bytes(dns_query(id, name, qtype, false)),
        )
        .with_df(df);
        cx.send_at(tq, q);
        let mut ta = tq + cx.net.resp(resolver, cx.rng) + between(cx.rng, 20_000, 400_000);
        if miss {
            let tu = tq + cx.net.hosts[resolver].half_rtt + between(cx.rng, 30_000, 200_000);
            let uid: u16 = cx.rng.random();
            let usport: u16 = cx.rng.random_range(1024..=65535);
            let uq = Pkt::udp(
                Ep::Host(resolver),
                Ep::Host(upstream),
                usport,
                53,
                bytes(dns_query(uid, name, qtype, true)),
            );
            cx.send_at(tu, uq.with_df(true));
            let tua = tu + cx.net.resp(upstream, cx.rng) + between(cx.rng, 0, 30 * MS);
            let n = cx.rng.random_range(1..=4);
            let ans = dns_answer(cx.rng, uid, name, qtype, n, nx);
            cx.send_at(
                tua,
                Pkt::udp(
                    Ep::Host(upstream),
                    Ep::Host(resolver),
                    53,
                    usport,
                    bytes(ans),
                ),
            );
            ta = tua + between(cx.rng, 30_000, 300_000) + cx.net.hosts[resolver].half_rtt;
        }
        let n = cx.rng.random_range(1..=4);
        let ans = dns_answer(cx.rng, id, name, qtype, n, nx);
        cx.send_at(
            ta,
            Pkt::udp(Ep::Host(resolver), Ep::Host(client), 53, sport, bytes(ans)).with_df(true),
        );
        done = done.max(ta);
    }
    done
}

/// A 48-byte NTPv4 client (mode 3) or server (mode 4) packet stamped `ts`.
pub(crate) fn ntp_packet(client: bool, ts: u64, origin: [u8; 8], rng: &mut SimRng) -> Vec<u8> {
    let mut b = vec![0u8; 48];
    let secs = ts / SEC + 2_208_988_800;
    let frac = ((ts % SEC) << 32) / SEC;
    let stamp = ((secs << 32) | frac).to_be_bytes();
    if client {
        b[0] = 0x23;
        b[2] = 6;
        b[3] = 0xe9;
        b[40..48].copy_from_slice(&stamp);
    } else {
        b[0] = 0x24;
        b[1] = 2;
        b[2] = 6;
        b[3] = 0xe7;
        b[4..12].copy_from_slice(&rng.random::<u64>().to_be_bytes()[..8]);
        b[4] = 0;
        b[5] = 0;
        b[12..16].copy_from_slice(&rng.random::<u32>().to_be_bytes());
        b[16..24].copy_from_slice(&stamp);
        b[24..32].copy_from_slice(&origin);
        b[32..40].copy_from_slice(&stamp);
        b[40..48].copy_from_slice(&stamp);
    }
    b
}

/// One NTP client/server exchange.
pub(crate) fn ntp_sync(cx: &mut Cx<'_>, client: HostId, server: HostId, t: u64) {
    let sport = if cx.rng.random_bool(0.5) {
        123
    } else {
        cx.rng.random_range(32768..=60999)
    };
    let q = ntp_packet(true, t, [0; 8], cx.rng);
    let mut origin = [0u8; 8];
    origin.copy_from_slice(&q[40..48]);
    cx.send_at(
        t,
        Pkt::udp(Ep::Host(client), Ep::Host(server), sport, 123, bytes(q)).with_df(true),
    );
    let ta = t + cx.net.resp(server, cx.rng);
    let a = ntp_packet(false, ta, origin, cx.rng);
    cx.send_at(
        ta,
        Pkt::udp(Ep::Host(server), Ep::Host(client), 123, sport, bytes(a)),
    );
}

/// `count` ICMP echo requests one second apart and their replies (Linux or Windows ping).
pub(crate) fn ping(cx: &mut Cx<'_>, src: HostId, dst: HostId, t: u64, count: u16) {
    let windows = cx.net.hosts[src].os == Os::Windows;
    let id: u16 = if windows { 1 } else { cx.rng.random() };
    let seq0: u16 = if windows {
        cx.rng.random_range(1..2000)
    } else {
        1
    };
    for k in 0..count {
        let tk = t + u64::from(k) * (SEC + between(cx.rng, 0, 2 * MS));
        let payload: Vec<u8> = if windows {
            b"abcdefghijklmnopqrstuvwabcdefghi".to_vec()
        } else {
            let mut p = Vec::with_capacity(56);
            p.extend_from_slice(&(tk / SEC).to_le_bytes());
            p.extend_from_slice(&((tk % SEC) / 1000).to_le_bytes());
            p.extend((0x10u8..0x38).take(40));
            p
        };
        let seq = seq0.wrapping_add(k);
        let mut rest = [0u8; 4];
        rest[..2].copy_from_slice(&id.to_be_bytes());
        rest[2..].copy_from_slice(&seq.to_be_bytes());
        let req = Pkt::icmp(
            Ep::Host(src),
            Ep::Host(dst),
            8,
            0,
            rest,
            bytes(payload.clone()),
        )
        .with_df(!windows);
        cx.send_at(tk, req);
        if cx.net.hosts[dst].firewall && cx.net.hosts[dst].os == Os::Windows {
            continue;
        }
        let ta = tk + cx.net.resp(dst, cx.rng);
        cx.send_at(
            ta,
            Pkt::icmp(Ep::Host(dst), Ep::Host(src), 0, 0, rest, bytes(payload)).with_df(!windows),
        );
    }
}

/// Service discovery every LAN has: mDNS and LLMNR queries, SSDP M-SEARCH to
/// multicast groups, NetBIOS name queries to the LAN broadcast address.
pub(crate) fn lan_chatter(cx: &mut Cx<'_>, host: HostId, t: u64) {
    let h = &cx.net.hosts[host];
    let (os, prefix) = (h.os, cx.net.prefix);
    let windows = os == Os::Windows;
    let choice = cx.rng.random_range(0..if windows { 4 } else { 2 });
    let (dst, sport, dport, ttl0, payload) = match choice {
        0 => {
            let svc = pick(cx.rng, &MDNS_SERVICES)
                .copied()
                .unwrap_or("_services._dns-sd._udp.local");
            (
                Ipv4Addr::new(224, 0, 0, 251),
                5353,
                5353,
                255,
                dns_query(0, svc, 12, false),
            )
        }
        1 => {
            let text = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: urn:dial-multiscreen-org:service:dial:1\r\n\r\n";
            let sport = cx.rng.random_range(49152..=65535);
            (
                Ipv4Addr::new(239, 255, 255, 250),
                sport,
                1900,
                if windows { 2 } else { 4 },
                text.as_bytes().to_vec(),
            )
        }
        2 => {
            let name = pick(cx.rng, &["wpad", "fileserver", "printer", "nas"])
                .copied()
                .unwrap_or("wpad");
            let sport = cx.rng.random_range(49152..=65535);
            (
                Ipv4Addr::new(224, 0, 0, 252),
                sport,
                5355,
                1,
                dns_query(cx.rng.random(), name, 1, false),
            )
        }
        _ => {
            // NetBIOS name query (first-level encoded name, broadcast flag).
            let mut b = Vec::with_capacity(50);
            b.extend_from_slice(&cx.rng.random::<u16>().to_be_bytes());
            b.extend_from_slice(&[0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20]);
            let name = format!("{:<15}", "WPAD");
            for c in name.bytes().chain([0u8]) {
                b.push(b'A' + (c >> 4));
                b.push(b'A' + (c & 0x0f));
            }
            b.extend_from_slice(&[0, 0, 0x20, 0, 1]);
            (
                Ipv4Addr::new(prefix[0], prefix[1], prefix[2], 255),
                137,
                137,
                128,
                b,
            )
        }
    };
    let pkt = Pkt::udp(
        Ep::Host(host),
        Ep::Spoof(dst, ttl0),
        sport,
        dport,
        bytes(payload),
    );
    cx.send_at(t, pkt.with_ttl(ttl0));
}

/// Owned bytes as a payload.
pub(crate) fn bytes(b: Vec<u8>) -> Payload {
    Payload::Bytes(b.into_boxed_slice())
}
