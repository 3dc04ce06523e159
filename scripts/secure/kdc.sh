#!/usr/bin/env bash
# A throwaway MIT Kerberos KDC on loopback for GSSAPI tests: realm ZKRS.TEST,
# the service principal zookeeper/localhost and a client principal, each
# with a keytab. Everything lives in DIR; nothing system-wide is touched
# (programs find it through KRB5_CONFIG / KRB5_KDC_PROFILE).
#
# Usage: scripts/secure/kdc.sh start DIR [PORT]   (default port ZK_REF_KDC_PORT or 22088)
#        scripts/secure/kdc.sh stop DIR
#        scripts/secure/kdc.sh env DIR             ('export ...' lines for clients)
# Needs krb5-kdc and krb5-admin-server (kdb5_util, kadmin.local, krb5kdc).
set -euo pipefail

REALM=ZKRS.TEST
cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { sed -n '2,11p' "$0"; exit 2; }
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
port=${3:-${ZK_REF_KDC_PORT:-22088}}
export KRB5_CONFIG=$dir/krb5.conf KRB5_KDC_PROFILE=$dir/kdc.conf

start() {
    stop
    rm -rf "$dir"/{principal*,stash,*.keytab,kdc.log,ccache}
    cat >"$KRB5_KDC_PROFILE" <<CONF
[kdcdefaults]
    kdc_ports = $port
    kdc_tcp_ports = $port
[realms]
    $REALM = {
        database_name = $dir/principal
        key_stash_file = $dir/stash
        acl_file = $dir/kadm5.acl
        kdc_ports = $port
        kdc_tcp_ports = $port
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
[logging]
    kdc = FILE:$dir/kdc.log
CONF
    cat >"$KRB5_CONFIG" <<CONF
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
[realms]
    $REALM = {
        kdc = 127.0.0.1:$port
    }
[domain_realm]
    localhost = $REALM
CONF
    : >"$dir/kadm5.acl"
    kdb5_util create -s -r "$REALM" -P "kdc-master-$$" >/dev/null
    kadmin.local -q "addprinc -randkey zookeeper/localhost@$REALM" >/dev/null
    kadmin.local -q "addprinc -randkey zkclient@$REALM" >/dev/null
    kadmin.local -q "ktadd -k $dir/zookeeper.keytab zookeeper/localhost@$REALM" >/dev/null
    kadmin.local -q "ktadd -k $dir/client.keytab zkclient@$REALM" >/dev/null
    krb5kdc -n -P "$dir/kdc.pid" >>"$dir/kdc.out" 2>&1 </dev/null &
    echo $! >"$dir/kdc.pid"
    for _ in $(seq 50); do
        timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "kdc.sh: the KDC did not listen on port $port" >&2
    exit 1
}

stop() {
    local pid
    [[ -r $dir/kdc.pid ]] || return 0
    pid=$(<"$dir/kdc.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q krb5kdc; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/kdc.pid"
}

case $cmd in
    start) start ;;
    stop) stop ;;
    env)
        cat <<ENV
export KRB5_CONFIG=$dir/krb5.conf
export KRB5_CLIENT_KTNAME=$dir/client.keytab
export KRB5CCNAME=FILE:$dir/ccache
export ZK_KRB_REALM=$REALM
export ZK_KRB_SERVER_KEYTAB=$dir/zookeeper.keytab
export ZK_KRB_CLIENT_PRINCIPAL=zkclient@$REALM
ENV
        ;;
    *) echo "kdc.sh: unknown command $cmd" >&2; exit 2 ;;
esac
