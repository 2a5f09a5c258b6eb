# Shared helpers for the ci/ scripts (sourced, not run).
set -euo pipefail

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$CI_DIR/.." && pwd)
CACHE_DIR=${VHOST4J_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vhost4j}
# The kernel matrix: Debian suite names.
KERNEL_MATRIX=${VHOST4J_KERNELS:-"bookworm trixie trixie-backports"}

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2; exit 2; }

# Installs Debian packages whose commands are missing: ensure_tools cmd:package ...
ensure_tools() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        die "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
    fi
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null; }; then
        die "could not install ${missing[*]} with apt-get: install them by hand"
    fi
}

# Prints the java launcher of a JDK 25 or newer, found as ./mvnw finds it (.mvn/jdk25.sh).
# shellcheck source=../.mvn/jdk25.sh
source "$PROJECT_DIR/.mvn/jdk25.sh"
find_java25() {
    local home
    home=$(vhost4j_jdk25_home)
    [ -n "$home" ] || die "no JDK 25 or newer found (set VHOST4J_JAVA_HOME or JAVA_HOME, or install one under /usr/lib/jvm)"
    echo "$home/bin/java"
}

# The vhostctl distribution the build made (vhostctl/target/vhostctl-*-linux-x86_64.tar.gz), and its launcher.
dist_archive() { ls "$PROJECT_DIR"/vhostctl/target/vhostctl-*-linux-x86_64.tar.gz 2>/dev/null | head -n1; }
VHOSTCTL=$PROJECT_DIR/vhostctl/target/vhostctl

# Counts of JUnit XML report folders: prints "tests failures errors skipped" summed over their files.
junit_counts() {
    local t=0 f=0 e=0 s=0 x line dir
    for dir in "$@"; do for x in "$dir"/TEST-*.xml; do
        [ -f "$x" ] || continue
        line=$(grep -m1 -o '<testsuite [^>]*>' "$x")
        t=$((t + $(echo "$line" | sed -n 's/.* tests="\([0-9]*\)".*/\1/p')))
        f=$((f + $(echo "$line" | sed -n 's/.* failures="\([0-9]*\)".*/\1/p')))
        e=$((e + $(echo "$line" | sed -n 's/.* errors="\([0-9]*\)".*/\1/p')))
        s=$((s + $(echo "$line" | sed -n 's/.* skipped="\([0-9]*\)".*/\1/p')))
    done; done
    echo "$t $f $e $s"
}
