"""Minimal raw-jute ZooKeeper client, used as an oracle to compare zk-testserver
with real ZooKeeper byte for byte.  Usage: python3 zkraw.py HOST:PORT [scenario]"""
import socket, struct, sys, time

def i32(v): return struct.pack('>i', v)
def i64(v): return struct.pack('>q', v)
def buf(b): return i32(-1) if b is None else i32(len(b)) + b
def s(x): return buf(x.encode())
def acl_open(): return i32(1) + i32(31) + s('world') + s('anyone')
def vec(items): return i32(len(items)) + b''.join(items)

class R:
    def __init__(self, b): self.b, self.o = b, 0
    def i32(self):
        v = struct.unpack_from('>i', self.b, self.o)[0]; self.o += 4; return v
    def i64(self):
        v = struct.unpack_from('>q', self.b, self.o)[0]; self.o += 8; return v
    def bool(self):
        v = self.b[self.o] != 0; self.o += 1; return v
    def buf(self):
        n = self.i32()
        if n < 0: return None
        v = self.b[self.o:self.o+n]; self.o += n; return v
    def s(self):
        v = self.buf(); return None if v is None else v.decode()
    def stat(self):
        return dict(czxid=self.i64(), mzxid=self.i64(), ctime=self.i64(), mtime=self.i64(),
                    version=self.i32(), cversion=self.i32(), aversion=self.i32(),
                    owner=self.i64(), dlen=self.i32(), nch=self.i32(), pzxid=self.i64())
    def rest(self): return self.b[self.o:]

class Conn:
    def __init__(self, addr, timeout=30000, sid=0, pw=b'\0'*16, last_zxid=0, handshake=True):
        host, port = addr.split(':')
        self.sock = socket.create_connection((host, int(port)))
        self.sock.settimeout(5)
        self.xid = 0
        if handshake:
            self.send(i32(0) + i64(last_zxid) + i32(timeout) + i64(sid) + buf(pw) + b'\0')
            r = R(self.recv())
            self.proto, self.timeout, self.sid, self.pw = r.i32(), r.i32(), r.i64(), r.buf()
            self.ro = r.bool() if r.o < len(r.b) else None
    def send(self, body): self.sock.sendall(i32(len(body)) + body)
    def recvn(self, n):
        d = b''
        while len(d) < n:
            c = self.sock.recv(n - len(d))
            if not c: raise EOFError('closed')
            d += c
        return d
    def recv(self):
        n = struct.unpack('>i', self.recvn(4))[0]
        return self.recvn(n)
    def req(self, op, body=b'', xid=None):
        if xid is None:
            self.xid += 1; xid = self.xid
        self.send(i32(xid) + i32(op) + body)
        return xid
    def reply(self):
        """Returns (xid, zxid, err, R-of-body); notifications are returned too."""
        r = R(self.recv())
        return r.i32(), r.i64(), r.i32(), r
    def call(self, op, body=b''):
        xid = self.req(op, body)
        events = []
        while True:
            x, z, e, r = self.reply()
            if x == -1:
                events.append((r.i32(), r.i32(), r.s(), z)); continue
            return z, e, r, events
    def closed(self):
        try:
            d = self.sock.recv(1)
            return d == b''
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

def four(addr, word):
    host, port = addr.split(':')
    c = socket.create_connection((host, int(port)))
    c.sendall(word.encode())
    out = b''
    while True:
        d = c.recv(65536)
        if not d: break
        out += d
    return out.decode(errors='replace')

def create_body(path, data=b'', flags=0, acl=None):
    return s(path) + buf(data) + (acl if acl is not None else acl_open()) + i32(flags)

if __name__ == '__main__':
    addr = sys.argv[1]
    c = Conn(addr)
    print('session', hex(c.sid), c.timeout, c.pw.hex())
