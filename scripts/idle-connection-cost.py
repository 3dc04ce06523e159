#!/usr/bin/env python3
"""Memory an idle client connection costs a zk-testserver process.

Starts `zk-testserver` (path in argv[1], default target/release/zk-testserver),
opens N connections (default 2000) that complete a handshake and then stay
idle, and prints the growth of the server's resident set size per connection
(VmRSS from /proc, Linux only). The session timeout is the largest the server
allows, so no connection expires while it is measured.

    python3 scripts/idle-connection-cost.py target/debug/zk-testserver 2000
"""
import os, resource, socket, struct, subprocess, sys, time

def rss_kb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS')

def handshake(addr):
    s = socket.create_connection(addr)
    body = struct.pack('>iqiq', 0, 0, 40000, 0) + struct.pack('>i', 16) + b'\0' * 16 + b'\0'
    s.sendall(struct.pack('>i', len(body)) + body)
    n = struct.unpack('>i', s.recv(4, socket.MSG_WAITALL))[0]
    s.recv(n, socket.MSG_WAITALL)
    return s

def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else 'target/release/zk-testserver'
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * n + 100)), hard))
    proc = subprocess.Popen([binary, '--tick-ms', '2000', '--max-client-cnxns', '0'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        host, port = proc.stdout.readline().strip().split(',')[0].rsplit(':', 1)
        addr = (host, int(port))
        # Warm up: one connection's allocations (runtime, channels) come once.
        warm = [handshake(addr) for _ in range(50)]
        time.sleep(0.5)
        before = rss_kb(proc.pid)
        conns = [handshake(addr) for _ in range(n)]
        time.sleep(1.0)
        after = rss_kb(proc.pid)
        per = (after - before) * 1024 / n
        print(f'{n} idle connections: RSS {before} KiB -> {after} KiB, '
              f'{per / 1024:.1f} KiB per connection')
        for s in conns + warm:
            s.close()
    finally:
        proc.terminate()
        proc.wait()

if __name__ == '__main__':
    main()
