#!/usr/bin/env python3
"""Derives the attack episodes of datasets/public-samples.toml from the captures.

The ground truth (who attacked whom, and how) is PROVENANCE.md's, by file; the times
are read from the packets: first and last packet sent by the attacker (or, for spoofed
floods, received by the victim). Needs tshark. Prints TOML [[episodes]] tables.

    scripts/derive_public_episodes.py ../shared/datasets/public >> datasets/public-samples.toml
"""
import subprocess
import sys

# file, attack_type, attacker ('*' = spoofed/many), victim ('*' = sweep), detail
TRUTH = [
    ("evilfingers-nmap/TCP_SYN_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sS"),
    ("evilfingers-nmap/TCP_CONNECT_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sT"),
    ("evilfingers-nmap/UDP_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sU"),
    ("evilfingers-nmap/FIN_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sF"),
    ("evilfingers-nmap/XMAS_TREE_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sX"),
    ("evilfingers-nmap/NULL_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sN"),
    ("evilfingers-nmap/ACK_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sA"),
    ("evilfingers-nmap/WINDOW_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sW"),
    ("evilfingers-nmap/IP_PROTOCOL_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sO"),
    ("evilfingers-nmap/RPC_SCAN.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sR"),
    ("evilfingers-nmap/version_scan.pcap", "port_scan", "192.168.1.10", "192.168.1.25", "nmap -sV"),
    # The bounce scan reaches the victim from the FTP server it abuses (.10 is not in the capture).
    ("evilfingers-nmap/FTP_BOUNCE_SCAN.pcap", "port_scan", "192.168.1.15", "192.168.1.25", "nmap -b from 192.168.1.10 via this FTP server"),
    # The bounce server does the probing: on the wire it scans 192.168.1.15 itself.
    ("evilfingers-nmap/FTP_BOUNCE_SCAN.pcap", "port_scan", "192.168.1.25", "192.168.1.15", "the FTP server's bounced probes: for nmap -b it opens ~3000 connections to 192.168.1.15, so on the wire it is the scanner"),
    ("evilfingers-xscan/xscan_capture.pcap", "port_scan", "192.168.1.125", "192.168.1.120", "X-Scan vulnerability scan"),
    ("evilfingers-xprobe/xprobe_tcp_scan_filter.pcap", "port_scan", "192.168.1.20", "192.168.1.25", "xprobe2 TCP scan"),
    ("ppa/ftp-crack.pcap", "brute_force", "10.234.125.254", "10.121.70.151", "FTP password brute force"),
    ("ppa/portscan.pcap", "port_scan", "10.100.25.14", "10.100.18.12", "SYN scan"),
    # ppa/dosattack.pcap is left out: sources AND destinations are random, so no host
    # is the attacker or the victim under the labelling rule.
    ("honeynet-fc2010-1/attack-trace.pcap", "exploit", "98.114.205.102", "192.150.11.111", "MS04-011 LSASS exploit, bind shell, FTP download"),
    ("esnet-scanners/nmap_80_all.pcap", "port_scan", "10.87.1.10", "130.211.223.103", "nmap -A -p 80"),
    ("esnet-scanners/nmap_80_vanilla.pcap", "port_scan", "10.87.1.10", "130.211.223.103", "nmap -p 80"),
    ("esnet-scanners/nmap_80_w_service_detection.pcap", "port_scan", "10.87.1.10", "130.211.223.103", "nmap -sV -p 80"),
    ("esnet-scanners/tcp_0_1000_20190821.pcap", "port_scan", "172.31.15.102", "198.124.152.15", "masscan TCP 0-1000"),
    ("esnet-scanners/udp_0_1000_20190821.pcap", "port_scan", "172.31.15.102", "198.124.152.15", "masscan UDP 0-1000"),
    ("stopddos/pkt.TCP.synflood.spoofed.pcap", "syn_flood", "*", "10.10.10.10", "spoofed SYN flood"),
    ("stopddos/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng", "syn_flood", "*", "10.10.10.10", "SYN flood with ECN/CWR"),
    ("stopddos/amp.TCP.reflection.SYNACK.pcap", "ddos", "*", "10.10.10.10", "TCP SYN-ACK reflection"),
    ("stopddos/amp.dns.RRSIG.fragmented.pcap", "ddos", "*", "10.10.10.10", "DNS RRSIG amplification, fragmented"),
    ("stopddos/amp.UDP.snmp.src161.pcapng", "ddos", "*", "10.10.10.10", "SNMP amplification"),
    ("stopddos/amp.UDP.bacnet.IOT.37810.pcapng", "ddos", "*", "10.10.10.1", "BACnet amplification"),
    ("lucid-cicddos2019/CIC-DDoS-2019-SynFlood.pcap", "ddos", "172.16.0.5", "192.168.50.4", "CIC-DDoS2019 SYN flood (many bots behind NAT)"),
    ("lucid-cicddos2019/CIC-DDoS-2019-WebDDoS.pcap", "ddos", "172.16.0.5", "192.168.50.1", "CIC-DDoS2019 WebDDoS (many bots behind NAT)"),
    ("slips/malicious-ssh-bruteforce.pcap", "brute_force", "147.32.80.40", "147.32.80.37", "nmap ssh-brute"),
    ("slips/test12-icmp-portscan.pcap", "port_scan", "192.168.1.109", "*", "ICMP echo sweep of 192.168.1.0/24"),
    ("slips/test-cc-capture-1.pcap", "c2_beaconing", "147.32.80.37", "*", "C&C-like HTTPS beacon every 2 s"),
    ("chrissanders/synscan.pcapng", "port_scan", "172.16.0.8", "64.13.134.52", "SYN scan"),
    ("chrissanders/activeosfingerprinting.pcapng", "port_scan", "172.16.16.128", "*", "nmap -O OS fingerprinting"),
]


def times(path, flt):
    out = subprocess.run(
        ["tshark", "-n", "-r", path, "-Y", flt, "-T", "fields", "-e", "frame.time_epoch"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    ts = sorted(float(x) for x in out)
    return (ts[0], ts[-1], len(ts)) if ts else None


def main():
    root = sys.argv[1]
    for f, kind, attacker, victim, detail in TRUTH:
        path = f"{root}/{f}"
        if attacker == "*":
            t = times(path, f"ip.dst == {victim}")
        else:
            # ICMP errors quote the attacker's header: their outer source is someone else.
            t = times(path, f"ip.src == {attacker} && !(icmp.type == 3 || icmp.type == 11)")
        if t is None:
            print(f"# {f}: no packets matched", file=sys.stderr)
            continue
        print("[[episodes]]")
        print(f'file = "{f}"')
        print(f'attack_type = "{kind}"')
        print(f'attacker = "{attacker}"')
        print(f'victim = "{victim}"')
        print(f"start_ts = {t[0]:.6f}")
        print(f"end_ts = {t[1]:.6f}")
        print(f'detail = "{detail} ({t[2]} packets)"')
        print()


if __name__ == "__main__":
    main()
