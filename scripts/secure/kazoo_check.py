#!/usr/bin/env python3
"""Another language's client against zk-testserver's secure ports: kazoo
over TLS (client certificate, x509 ACLs) and with SASL DIGEST-MD5
(pure-sasl), in plaintext and over TLS.

Usage: kazoo_check.py --plain HOST:PORT --tls HOST:PORT --pki DIR
                      --sasl-user NAME --sasl-password-file FILE
DIR holds ca.pem, client.pem, client.key (zk-testserver --tls-generate).
Prints one line per check and 'N passed, N failed'; exits 1 on a failure.
"""
import argparse
import os
import sys
import time
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, ConnectionClosedError, NoAuthError
from kazoo.security import make_acl

CLIENT_DN = "CN=zk-rs client,O=zk-rs"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--plain", required=True)
    p.add_argument("--tls", required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--sasl-user", required=True)
    p.add_argument("--sasl-password-file", required=True)
    a = p.parse_args()
    with open(a.sasl_password_file) as f:
        password = f.read().strip()
    pki = lambda name: os.path.join(a.pki, name)
    tls = dict(use_ssl=True, ca=pki("ca.pem"), certfile=pki("client.pem"),
               keyfile=pki("client.key"), verify_certs=True)
    sasl = dict(sasl_options={"mechanism": "DIGEST-MD5", "username": a.sasl_user,
                              "password": password})
    root = "/kazoo-secure-" + uuid.uuid4().hex[:12]
    results = []

    def check(name, fn):
        try:
            fn()
            results.append(True)
            print(f"kazoo: {name} -> ok")
        except Exception as e:  # report every failure, keep going
            results.append(False)
            print(f"kazoo: {name} FAILED: {type(e).__name__}: {e}")

    def client(hosts, **kw):
        c = KazooClient(hosts=hosts, timeout=5.0, **kw)
        c.start(timeout=10)
        return c

    def tls_round_trip():
        c = client(a.tls, **tls)
        try:
            c.ensure_path(root)
            c.create(root + "/tls", b"over tls")
            assert c.get(root + "/tls")[0] == b"over tls"
            c.set(root + "/tls", b"changed")
            assert c.get(root + "/tls")[0] == b"changed"
            c.delete(root + "/tls")
        finally:
            c.stop()
            c.close()

    def x509_acl():
        c = client(a.tls, **tls)
        anon = client(a.plain)
        try:
            c.ensure_path(root)
            acl = make_acl("x509", CLIENT_DN, all=True)
            c.create(root + "/x509", b"cert only", acl=[acl])
            assert c.get(root + "/x509")[0] == b"cert only"
            try:
                anon.get(root + "/x509")
                raise AssertionError("a client without the certificate read the node")
            except NoAuthError:
                pass
        finally:
            for k in (c, anon):
                k.stop()
                k.close()

    def sasl_acl(hosts, extra, node):
        def run():
            c = client(hosts, **extra, **sasl)
            anon = client(a.plain)
            try:
                c.ensure_path(root)
                acl = make_acl("sasl", a.sasl_user, all=True)
                c.create(root + node, b"sasl only", acl=[acl])
                assert c.get(root + node)[0] == b"sasl only"
                try:
                    anon.get(root + node)
                    raise AssertionError("an unauthenticated client read the node")
                except NoAuthError:
                    pass
            finally:
                for k in (c, anon):
                    k.stop()
                    k.close()
        return run

    def wrong_password():
        # As against real ZooKeeper: kazoo reports CONNECTED after the
        # handshake, then the server's AUTH_FAILED closes the client.
        bad = dict(sasl_options={"mechanism": "DIGEST-MD5", "username": a.sasl_user,
                                 "password": "not-the-password"})
        c = KazooClient(hosts=a.plain, timeout=3.0, connection_retry={"max_tries": 0}, **bad)
        try:
            try:
                c.start(timeout=5)
            except AuthFailedError:
                pass
            deadline = time.monotonic() + 5
            while c.client_state != "CLOSED" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert c.client_state == "CLOSED", f"client state {c.client_state}"
            try:
                c.get("/")
                raise AssertionError("a request succeeded with a wrong password")
            except (ConnectionClosedError, AuthFailedError):
                pass
        finally:
            c.stop()
            c.close()

    check("TLS with a client certificate: create/get/set/delete", tls_round_trip)
    check("x509 ACL names the client certificate", x509_acl)
    check("SASL DIGEST-MD5 on the plaintext port, sasl ACL", sasl_acl(a.plain, {}, "/sasl"))
    check("SASL DIGEST-MD5 over TLS, sasl ACL", sasl_acl(a.tls, tls, "/sasl-tls"))
    check("a wrong SASL password does not connect", wrong_password)
    passed, failed = results.count(True), results.count(False)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
