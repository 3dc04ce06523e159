#!/usr/bin/env bash
# Real Apache Curator for the interop suite, without Maven: Debian's
# packages (bookworm: Curator 5.4, installed with apt-get) and Curator 5.7.1
# from Debian's next suite, trixie (downloaded with apt-get from the same
# archive into a private directory and unpacked with dpkg -x, never
# installed). The Java programs under scripts/interop/java/ are compiled with
# plain javac against the jars.
#
#   scripts/interop/curator.sh install            apt-get the Curator 5.4 packages, a JDK and kazoo
#                                                 (python3-kazoo) if missing
#   scripts/interop/curator.sh fetch 5.7.1        download + unpack trixie's Curator 5.7.1 jars
#   scripts/interop/curator.sh classpath VERSION  print the runtime classpath (5.4 | 5.7.1)
#   scripts/interop/curator.sh build VERSION      javac the interop programs; prints the classpath
#                                                 including the compiled classes
#   scripts/interop/curator.sh versions           the versions CI runs (5.4 5.7.1)
#
# State (downloads, classes) goes to $ZK_INTEROP_STATE_DIR
# [<repo>/.zk-reference/interop], which is gitignored.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
STATE_DIR=${ZK_INTEROP_STATE_DIR:-$REPO_ROOT/.zk-reference/interop}
JAR_DIR=${ZK_REF_JAR_DIR:-/usr/share/java}
TRIXIE_MIRROR=${ZK_INTEROP_TRIXIE_MIRROR:-http://deb.debian.org/debian}
TRIXIE_VERSION=5.7.1
PACKAGES=(libcurator-client-java libcurator-framework-java libcurator-recipes-java libcurator-discovery-java)

log() { printf 'curator: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
    if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

# The jars besides Curator's own, all from bookworm (Debian's package
# dependencies: zookeeper, guava, jackson, slf4j, netty).
support_jars() {
    local j
    for j in zookeeper zookeeper-jute guava slf4j-api slf4j-nop jackson-core jackson-databind \
        jackson-annotations netty-handler netty-transport netty-common netty-buffer netty-codec \
        netty-resolver netty-transport-native-epoll netty-transport-native-unix-common; do
        [[ -f $JAR_DIR/$j.jar ]] || die "missing $JAR_DIR/$j.jar (run: scripts/interop/curator.sh install)"
        printf '%s\n' "$JAR_DIR/$j.jar"
    done
}

curator_dir() {
    case $1 in
    5.4) echo "$JAR_DIR" ;;
    "$TRIXIE_VERSION") echo "$STATE_DIR/curator-$TRIXIE_VERSION/usr/share/java" ;;
    *) die "unknown Curator version '$1' (5.4 | $TRIXIE_VERSION)" ;;
    esac
}

cmd_classpath() {
    local version=${1:?version} dir j cp=()
    dir=$(curator_dir "$version")
    for j in curator-client curator-framework curator-recipes curator-x-discovery; do
        [[ -f $dir/$j.jar ]] || die "missing $dir/$j.jar (run: scripts/interop/curator.sh $(
            [[ $version == 5.4 ]] && echo install || echo "fetch $version"))"
        cp+=("$dir/$j.jar")
    done
    mapfile -t -O "${#cp[@]}" cp < <(support_jars)
    local IFS=:
    echo "${cp[*]}"
}

cmd_install() {
    local pkgs=() p
    for p in "${PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
    done
    command -v javac >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
    # kazoo, for the kazoo scenarios (kazoo_twins.py).
    python3 -c 'import kazoo' >/dev/null 2>&1 || pkgs+=(python3-kazoo)
    if ((${#pkgs[@]} == 0)); then
        log "already installed: ${PACKAGES[*]} ($(dpkg-query -W -f '${Version}' libcurator-framework-java))"
        return 0
    fi
    log "installing ${pkgs[*]} with apt-get"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
}

# apt-get with a private sources list naming trixie and private state, so the
# machine's own apt configuration is neither used nor changed.
trixie_apt() {
    local dir=$STATE_DIR/trixie-apt
    apt-get -q -o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=- \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::status=/var/lib/dpkg/status \
        -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root "$@"
}

cmd_fetch() {
    local version=${1:-$TRIXIE_VERSION}
    [[ $version == "$TRIXIE_VERSION" ]] || die "fetch: only $TRIXIE_VERSION comes from trixie"
    local target=$STATE_DIR/curator-$version dir=$STATE_DIR/trixie-apt deb
    if [[ -f $target/usr/share/java/curator-recipes-$version.jar ]]; then
        log "Curator $version already unpacked in $target"
        return 0
    fi
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $TRIXIE_MIRROR trixie main" >"$dir/sources.list"
    log "apt-get update (trixie, private lists in $dir)"
    trixie_apt update >/dev/null
    (cd "$dir/debs" && trixie_apt download "${PACKAGES[@]/%/=$version+ds-1}")
    rm -rf "$target.tmp"
    mkdir -p "$target.tmp"
    for deb in "$dir"/debs/*_"$version"+ds-1_all.deb; do
        dpkg -x "$deb" "$target.tmp"
    done
    rm -rf "$target"
    mv "$target.tmp" "$target"
    log "Curator $version unpacked in $target"
}

cmd_build() {
    local version=${1:?version} cp out
    cp=$(cmd_classpath "$version")
    out=$STATE_DIR/classes-$version
    rm -rf "$out"
    mkdir -p "$out"
    javac --release 17 -Xlint:all,-path -Werror -d "$out" -cp "$cp" "$SCRIPT_DIR"/java/zkrs/interop/*.java >&2
    echo "$out:$cp"
}

case ${1:-help} in
install) cmd_install ;;
fetch) shift; cmd_fetch "$@" ;;
classpath) shift; cmd_classpath "$@" ;;
build) shift; cmd_build "$@" ;;
versions) echo "5.4 $TRIXIE_VERSION" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
esac
