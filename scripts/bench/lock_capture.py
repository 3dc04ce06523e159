#!/usr/bin/env python3
"""Where a lock handoff's time goes, from a packet capture of ZooKeeper client traffic.

Usage:
  tcpdump -i lo -s 256 -w lock.pcap 'tcp port PORT'   (while a lock benchmark runs)
  scripts/bench/lock_capture.py lock.pcap PORT

Reads a classic pcap file (Ethernet or Linux cooked framing, IPv4, as tcpdump
writes for the loopback device) and the ZooKeeper frames in it (the first 256
bytes of each segment are enough: only headers are read). Prints:
  - per request type, the server's service time: from the request to its
    reply, both as seen on the wire (median and mean);
  - the client's reaction: from a NodeDeleted notification to the next request
    of that session (a lock waiter waking and reading the children);
  - the holder's turn: from the last reply a session got to its delete
    (holding, then starting the release);
  - one handoff: from one delete request to the next.
A handoff of the predecessor-watch lock is then client reaction + holder's turn
(client side) plus the delete's and the getChildren's service times (server).
Standard library only.
"""
import statistics
import struct
import sys
from collections import defaultdict

# Request types this lock issues (ZooKeeper opcodes).
OPS = {1: "create", 2: "delete", 3: "exists", 4: "getData", 8: "getChildren",
       12: "getChildren2", 15: "create2"}
NODE_DELETED = 2  # WatchedEvent type


def frames(path, port):
    """Yields (time, kind, client_port, xid, op_or_event) per ZooKeeper frame;
    kind is 'req', 'rep' or 'notify'."""
    data = open(path, "rb").read()
    nano = struct.unpack("<I", data[:4])[0] == 0xA1B23C4D
    link = struct.unpack("<I", data[20:24])[0]
    skip = {1: 14, 113: 16}.get(link, 4)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec + frac / (1e9 if nano else 1e6)
        ip = pkt[skip:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack(">HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        size = total - ihl - doff
        payload = tcp[doff:]
        to_server = dport == port
        client = sport if to_server else dport
        i = 0
        while size > 0 and i + 12 <= len(payload) and i < size:
            length, xid = struct.unpack(">ii", payload[i:i + 8])
            if to_server:
                yield t, "req", client, xid, struct.unpack(">i", payload[i + 8:i + 12])[0]
            elif xid == -1 and i + 24 <= len(payload):
                yield t, "notify", client, xid, struct.unpack(">i", payload[i + 20:i + 24])[0]
            else:
                yield t, "rep", client, xid, None
            if length <= 0:
                break
            i += 4 + length


def p50(values):
    return statistics.median(values) if values else float("nan")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    events = sorted(frames(sys.argv[1], int(sys.argv[2])))
    by_session = defaultdict(list)
    for e in events:
        by_session[e[2]].append(e)

    pending, served = {}, []  # served: (request time, reply time, op)
    for t, kind, client, xid, what in events:
        if kind == "req" and xid >= 0:
            pending[(client, xid)] = (t, what)
        elif kind == "rep" and (client, xid) in pending:
            t_req, op = pending.pop((client, xid))
            served.append((t_req, t, op))
    service = defaultdict(list)
    for t_req, t_rep, op in served:
        service[OPS.get(op, str(op))].append((t_rep - t_req) * 1e6)
    print("server: request -> reply, as seen on the wire (us)")
    for name, values in sorted(service.items()):
        print(f"  {name:13s} n={len(values):6d} p50={p50(values):8.1f} mean={statistics.mean(values):8.1f}")

    reaction, next_ops = [], defaultdict(int)
    holding = []
    for evs in by_session.values():
        last_reply = None
        for j, (t, kind, _c, xid, what) in enumerate(evs):
            if kind == "rep":
                last_reply = t
            elif kind == "req" and what == 2 and last_reply is not None:
                holding.append((t - last_reply) * 1e6)
            elif kind == "notify" and what == NODE_DELETED:
                nxt = next((e for e in evs[j + 1:] if e[1] == "req" and e[3] >= 0), None)
                if nxt:
                    reaction.append((nxt[0] - t) * 1e6)
                    next_ops[OPS.get(nxt[4], str(nxt[4]))] += 1
    print(f"client: NodeDeleted -> that session's next request: n={len(reaction)} "
          f"p50={p50(reaction):.1f} us (requests: {dict(next_ops)})")
    print(f"client: last reply -> delete (holding, starting the release): n={len(holding)} "
          f"p50={p50(holding):.1f} us")
    deletes = sorted(t_req for t_req, _t, op in served if op == 2)
    gaps = [(b - a) * 1e6 for a, b in zip(deletes, deletes[1:])]
    print(f"handoff: delete -> next delete: n={len(gaps)} p50={p50(gaps):.1f} us")


if __name__ == "__main__":
    main()
