"""Runs one scenario against a server and prints normalized lines (zxids
relative to the scenario's start, session ids as names, times dropped), so
that the output for real ZooKeeper and for zk-testserver can be diffed:
  python3 scenario.py HOST:PORT > out.txt"""
import sys
sys.path.insert(0, __file__.rsplit('/', 1)[0])
from zkraw import *

A = sys.argv[1]
base = [None]
names = {}

# ZooKeeper 3.8 sends notifications with zxid -1, 3.9 with the txn's zxid;
# NOTIFY_ZXID=0 prints both as 'n' so the two compare equal.
import os
NOTIFY = os.environ.get('NOTIFY_ZXID', '0') == '1'

def nz(v):
    return z(v) if NOTIFY else 'n'

def z(v):
    if v in (-1, 0): return v
    return 'z+%d' % (v - base[0])

def sid(v):
    return names.get(v, hex(v) if v else '0')

def stat(r):
    d = r.stat()
    return 'czxid=%s mzxid=%s pzxid=%s v=%d cv=%d av=%d owner=%s dlen=%d nch=%d' % (
        z(d['czxid']), z(d['mzxid']), z(d['pzxid']), d['version'], d['cversion'], d['aversion'],
        sid(d['owner']), d['dlen'], d['nch'])

def show(label, c, op, body, parse=None):
    zx, e, r, ev = c.call(op, body)
    if base[0] is None: base[0] = zx
    evs = ' '.join('ev(%d,%s,%s)' % (t, p, nz(q)) for t, _, p, q in ev)
    out = parse(r) if (parse and e == 0) else ''
    print(label, 'zxid=%s err=%d %s %s' % (z(zx), e, out, evs))

def drain(label, c):
    c.sock.settimeout(0.3)
    evs = []
    try:
        while True:
            x, zx, e, r = c.reply()
            if x == -1: evs.append('ev(%d,%s,%s)' % (r.i32(), (r.i32(), r.s())[1], nz(zx)))
            else: evs.append('reply(%d,%d)' % (x, e))
    except Exception:
        pass
    c.sock.settimeout(5)
    print(label, 'events:', ' '.join(evs))

a = Conn(A); names[a.sid] = 'A'
b = Conn(A); names[b.sid] = 'B'
G = lambda p, w=0: s(p) + bytes([w])
show('A create /w', a, 15, create_body('/w', b'x'), lambda r: (r.s(), stat(r))[1])
show('B exists /w watch', b, 3, G('/w', 1), stat)
show('B getData /w watch', b, 4, G('/w', 1))
show('B getChildren2 /w watch', b, 12, G('/w', 1), lambda r: '')
show('B exists /w/c watch', b, 3, G('/w/c', 1))
show('A create /w/c', a, 15, create_body('/w/c'), lambda r: (r.s(), stat(r))[1])
drain('B', b)
show('A set /w', a, 5, s('/w') + buf(b'yy') + i32(-1), stat)
drain('B', b)
show('B getChildren /w watch', b, 8, G('/w', 1))
show('B getData /w watch', b, 4, G('/w', 1))
show('A delete /w/c', a, 2, s('/w/c') + i32(-1))
drain('B', b)
show('A delete /w', a, 2, s('/w') + i32(-1))
drain('B', b)
# persistent and recursive
show('B addWatch /p persistent', b, 106, s('/p') + i32(0))
show('B addWatch / recursive', b, 106, s('/') + i32(1))
show('A create /p', a, 1, create_body('/p'))
drain('B', b)
show('A create /p/q', a, 1, create_body('/p/q'))
drain('B', b)
show('A set /p/q', a, 5, s('/p/q') + buf(b'') + i32(-1), stat)
drain('B', b)
show('A setACL /p', a, 7, s('/p') + acl_open() + i32(-1), stat)
drain('B', b)
show('A delete /p/q', a, 2, s('/p/q') + i32(-1))
drain('B', b)
show('B removeWatches / recursive', b, 18, s('/') + i32(5))
show('B removeWatches /p any', b, 18, s('/p') + i32(3))
# ACL: a node readable only by digest u:p; does B (no auth) get events?
digest = ACL_U = i32(1) + i32(31) + s('digest') + s('u:ZHTcJKGkAlv5kfOq1HCk1yBtFE0=')
show('B addWatch / recursive again', b, 106, s('/') + i32(1))
show('B getChildren / watch', b, 8, G('/', 1), lambda r: '')
show('A create /secret (digest acl)', a, 1, create_body('/secret', acl=digest))
drain('B', b)
show('A getData /secret', a, 4, G('/secret'))
# sequential inside multi, cversion after multi
def op(t, body): return i32(t) + b'\0' + i32(-1) + body
END = i32(-1) + b'\1' + i32(-1)
show('A multi seq', a, 14, op(1, create_body('/m')) + op(15, create_body('/m/s-', flags=2)) + op(1, create_body('/m/s-', flags=2)) + op(13, s('/m') + i32(0)) + END, lambda r: r.rest().hex())
show('A getData /m', a, 4, G('/m'), lambda r: (r.buf(), stat(r))[1])
show('A multi fail at 2', a, 14, op(2, s('/m/s-0000000000') + i32(-1)) + op(13, s('/m') + i32(5)) + op(5, s('/m') + buf(b'') + i32(-1)) + END, lambda r: r.rest().hex())
show('A getChildren2 /m', a, 12, G('/m'), lambda r: (r.i32(), r.s(), r.s(), stat(r))[3])
# ephemerals and close session effect on parent
show('A create /m/e ephemeral', a, 15, create_body('/m/e', flags=1), lambda r: (r.s(), stat(r))[1])
show('A getEphemerals /m', a, 103, s('/m'), lambda r: r.rest().hex())
show('A getEphemerals ""', a, 103, s(''), lambda r: r.rest().hex())
show('A close', a, -11, b'')
show('B getChildren2 /m', b, 12, G('/m'), lambda r: (r.i32(), r.s(), r.s(), stat(r))[3])
drain('B', b)
# SetWatches from a fresh connection with relativeZxid = base
c = Conn(A); names[c.sid] = 'C'
c.send(i32(-8) + i32(101) + i64(base[0]) + vec([s('/m'), s('/gone')]) + vec([s('/m'), s('/nx')]) + vec([s('/m')]))
drain('C setWatches', c)
show('B set /m', b, 5, s('/m') + buf(b'q') + i32(-1), stat)
drain('C', c)
