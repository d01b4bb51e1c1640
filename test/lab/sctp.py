#!/usr/bin/env python3
# SCTP for the lab without the kernel's SCTP stack. This kernel has CONFIG_IP_SCTP unset (no
# SCTP sockets) but conntrack and NAT do handle SCTP, which is what kube-proxy programs. So
# the lab speaks the first two packets of an SCTP association over raw IP sockets:
#
#   client: INIT (verification tag 0, our initiate tag)  ->  service address
#   server: INIT-ACK (verification tag = the client's initiate tag) whose State Cookie carries
#           "<server name> <client IP>:<client port>" (the address the server saw)
#
# Both packets carry a correct CRC32c, so conntrack accepts them (nf_conntrack_checksum) and
# NAT rewrites them. Output: one JSON object per line.
#
#   sctp.py server NAME PORT                     (answers until killed; prints "ready")
#   sctp.py client HOST PORT COUNT TIMEOUT_MS    (COUNT associations, one after the other)

import json
import os
import random
import socket
import struct
import sys
import time

IPPROTO_SCTP = 132
INIT, INIT_ACK = 1, 2


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def packet(sport, dport, vtag, chunk_type, body):
    length = 4 + len(body)
    chunk = struct.pack('!BBH', chunk_type, 0, length) + body + b'\0' * ((4 - length % 4) % 4)
    header = struct.pack('!HHII', sport, dport, vtag, 0)
    crc = crc32c(header + chunk)
    # The checksum field holds the CRC32c in little-endian byte order (RFC 4960 appendix B).
    return struct.pack('!HHI', sport, dport, vtag) + struct.pack('<I', crc) + chunk


def init_body(tag):
    # initiate tag, a_rwnd, outbound streams, inbound streams, initial TSN
    return struct.pack('!IIHHI', tag, 65535, 1, 1, tag)


def parse(data):
    """IPv4 packet from a raw socket -> (src ip, sport, dport, vtag, chunk type, chunk body)."""
    ihl = (data[0] & 0x0F) * 4
    src = socket.inet_ntoa(data[12:16])
    sctp = data[ihl:]
    if len(sctp) < 16:
        return None
    sport, dport, vtag = struct.unpack('!HHI', sctp[:8])
    ctype, _flags, clen = struct.unpack('!BBH', sctp[12:16])
    return src, sport, dport, vtag, ctype, sctp[16:12 + clen]


def server(name, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
    print('ready', flush=True)
    my_tag = random.getrandbits(32) | 1
    while True:
        data, _ = s.recvfrom(65535)
        p = parse(data)
        if p is None:
            continue
        src, sport, dport, _vtag, ctype, body = p
        if dport != port or ctype != INIT or len(body) < 16:
            continue
        peer_tag = struct.unpack('!I', body[:4])[0]
        cookie = ('%s %s:%d sctp/%d' % (name, src, sport, port)).encode()
        param = struct.pack('!HH', 7, 4 + len(cookie)) + cookie + b'\0' * ((4 - len(cookie) % 4) % 4)
        s.sendto(packet(port, sport, peer_tag, INIT_ACK, init_body(my_tag) + param), (src, 0))


def client(host, port, count, timeout_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
    for _ in range(count):
        sport = random.randint(20000, 60000)
        tag = random.getrandbits(32) | 1
        t0 = time.monotonic()
        s.sendto(packet(sport, port, 0, INIT, init_body(tag)), (host, 0))
        result = {'ok': False, 'error': 'timeout'}
        deadline = t0 + timeout_ms / 1000.0
        while time.monotonic() < deadline:
            s.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            p = parse(data)
            if p is None:
                continue
            src, rsport, rdport, vtag, ctype, body = p
            if rsport != port or rdport != sport or vtag != tag or ctype != INIT_ACK:
                continue
            cookie = body[16:]
            text = cookie[4:struct.unpack('!H', cookie[2:4])[0]].decode() if len(cookie) >= 4 else ''
            pod, addr, served = text.split(' ')
            cip, cport = addr.rsplit(':', 1)
            result = {'ok': True, 'pod': pod, 'clientIP': cip, 'clientPort': int(cport), 'served': served,
                      'from': '%s:%d' % (src, rsport), 'ms': (time.monotonic() - t0) * 1000}
            break
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    if sys.argv[1] == 'server':
        server(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == 'client':
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit('usage: sctp.py server NAME PORT | client HOST PORT COUNT TIMEOUT_MS')
    os._exit(0)
