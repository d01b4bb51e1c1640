#!/usr/bin/env python3
# Watches nf_tables changes as the kernel announces them (netlink group NFNLGRP_NFTABLES),
# for the scale benchmark: `nft monitor` lists the whole ruleset into its cache first (a
# minute of CPU at 100k rules) and loses what happens meanwhile; this reads the raw
# notifications and does nothing else.
#
# stdin: one IPv4 address per line to watch for ("+10.96.250.1"), optionally with a name the
# same message must carry ("+10.96.250.1 service-ips": an element of that set), or "-addr".
# stdout: "ready" once subscribed, then "seen <addr>" the first time a committed new rule or set
# element carries that address (a service's ClusterIP in service-ips, an endpoint in a DNAT).
import os
import select
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWRULE = 6
NFT_MSG_NEWSETELEM = 12
WANTED = {(NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM}

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024 * 1024)
sock.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
watched = {}  # 4-byte pattern -> (address text, bytes the message must also contain)
out = sys.stdout
out.write("ready\n")
out.flush()
stdin = sys.stdin.fileno()
buf = b""
while True:
    r, _, _ = select.select([sock, stdin], [], [])
    if stdin in r:
        chunk = os.read(stdin, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode().strip()
            if text.startswith("+"):
                addr, _, context = text[1:].partition(" ")
                watched[socket.inet_aton(addr)] = (addr, context.encode())
            elif text.startswith("-"):
                watched.pop(socket.inet_aton(text[1:].split(" ")[0]), None)
    if sock in r:
        try:
            data = sock.recv(1 << 20)
        except OSError:  # ENOBUFS: notifications were dropped; keep going
            continue
        if not watched:
            continue
        off = 0
        while off + 16 <= len(data):
            length, mtype = struct.unpack_from("=IH", data, off)
            if length < 16:
                break
            if mtype in WANTED:
                msg = data[off:off + length]
                for pat, (addr, context) in list(watched.items()):
                    if pat in msg and context in msg:
                        del watched[pat]
                        out.write("seen %s\n" % addr)
                        out.flush()
            off += (length + 3) & ~3
