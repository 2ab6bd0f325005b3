#!/usr/bin/env python3
"""Benign background traffic for the attack lab (scripts/lab/lab.py): one process per
client host, run inside that host's network namespace until --seconds have passed.

Stdlib only. Every activity is something ordinary hosts do on a LAN: web pages and their
assets, DNS lookups, large downloads, SSH sessions, ping, a bulk transfer, and the odd
connection to a service that is down (benign failures, so that "RST received" alone is
not an attack). Waits are exponential, so clients are bursty and idle in between.
"""

import argparse
import random
import socket
import struct
import subprocess
import time
import urllib.request


def http_get(url, timeout=5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
    except Exception:
        pass


def dns_query(server, name, rng, timeout=1.0):
    """One A query over UDP (a browser's lookup), answered by the lab's dnsmasq."""
    qid = rng.randrange(65536)
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = header + qname + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(packet, (server, 53))
        s.recvfrom(2048)
    except OSError:
        pass
    finally:
        s.close()


def tcp_try(host, port, timeout=1.0):
    """A connection attempt that may be refused: a client whose service is down."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except OSError:
        pass
    finally:
        s.close()


def run(cmd, timeout):
    try:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, OSError):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--web", required=True, help="web/ssh/dns server address")
    ap.add_argument("--bulk", required=True, help="bulk server address (big files, iperf3)")
    ap.add_argument("--ssh-key", required=True)
    ap.add_argument("--activity", type=float, default=1.0,
                    help="mean activities per second (a busy client ~2, a quiet one 0.2)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    names = [f"{w}.lab.test" for w in ("www", "api", "cdn", "mail", "static", "auth",
                                       "img", "news", "git", "docs")]
    deadline = time.time() + a.seconds
    activities = [
        ("page", 40), ("dns", 20), ("download", 6), ("ssh", 4), ("ping", 4),
        ("iperf", 2), ("refused", 3), ("api_poll", 10), ("monitor", 3), ("scp", 2),
    ]
    total = sum(w for _, w in activities)
    while time.time() < deadline:
        time.sleep(min(rng.expovariate(a.activity), max(0.0, deadline - time.time())))
        if time.time() >= deadline:
            break
        pick = rng.uniform(0, total)
        for kind, w in activities:
            pick -= w
            if pick <= 0:
                break
        if kind == "page":
            # A page, then its assets over a few parallel connections, like a browser.
            for n in rng.sample(names, rng.randint(1, 3)):
                dns_query(a.web, n, rng)
            http_get(f"http://{a.web}/index.html")
            for _ in range(rng.randint(2, 12)):
                http_get(f"http://{a.web}/asset{rng.randint(0, 40)}.js")
        elif kind == "dns":
            for _ in range(rng.randint(1, 6)):
                dns_query(a.web, rng.choice(names), rng)
        elif kind == "download":
            size = rng.choice(["1m", "4m", "16m"])
            http_get(f"http://{a.bulk}/blob{size}.bin", timeout=20)
        elif kind == "ssh":
            run(["ssh", "-i", a.ssh_key, "-o", "StrictHostKeyChecking=no",
                 "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                 "-o", "ConnectTimeout=3", f"root@{a.web}",
                 f"ls /usr/bin > /dev/null; sleep {rng.uniform(0.2, 3):.1f}"], 15)
        elif kind == "ping":
            run(["ping", "-c", str(rng.randint(1, 4)), "-i", "0.5", "-W", "1", a.bulk], 5)
        elif kind == "iperf":
            run(["iperf3", "-c", a.bulk, "-t", str(rng.randint(1, 3)),
                 "-b", rng.choice(["10M", "20M", "50M"])], 10)
        elif kind == "refused":
            tcp_try(a.bulk, rng.choice([25, 110, 143, 3306, 5432, 8443]))
        elif kind == "monitor":
            # A monitoring agent checking its services (Nagios-style): a few ports, one
            # connection each, some of them down. Benign, and shaped like a tiny scan.
            for port in rng.sample([22, 53, 80, 443, 8080, 3306, 5432, 25], rng.randint(3, 6)):
                tcp_try(a.web, port)
        elif kind == "scp":
            # A backup pushed over SSH: a bulk upload.
            mb = rng.choice([1, 4, 8])
            run(["sh", "-c", f"head -c {mb}M /dev/zero | ssh -i {a.ssh_key} "
                 "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                 f"-o BatchMode=yes -o ConnectTimeout=3 root@{a.web} 'cat > /dev/null'"], 30)
        elif kind == "api_poll":
            for _ in range(rng.randint(1, 5)):
                http_get(f"http://{a.web}/api/status?n={rng.randint(0, 999)}")
                time.sleep(rng.uniform(0.05, 0.4))


if __name__ == "__main__":
    main()
