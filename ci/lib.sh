# Shared helpers for the ci/ scripts (sourced, not run).
set -euo pipefail

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$CI_DIR/.." && pwd)
CACHE_DIR=${VHOST4J_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vhost4j}
# The kernel matrix: Debian suite names.
KERNEL_MATRIX=${VHOST4J_KERNELS:-"bookworm trixie"}

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

# Prints the java launcher of a JDK 25 or newer: $VHOST4J_JAVA, $JAVA_HOME, or one under /usr/lib/jvm.
find_java25() {
    local j v
    for j in "${VHOST4J_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/*/bin/java; do
        [ -n "$j" ] && [ -x "$j" ] || continue
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$(dirname "$(dirname "$(readlink -f "$j")")")/release" \
            2>/dev/null)
        if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$j"; return 0; fi
    done
    die "no JDK 25 or newer found (set VHOST4J_JAVA or JAVA_HOME, or install one under /usr/lib/jvm)"
}

# The JVM options that run the library as the io.vhost4j module with native access, from target/.
module_java_opts() {
    echo "--enable-native-access=io.vhost4j --module-path $PROJECT_DIR/target/classes:$PROJECT_DIR/target/lib"
}

# Counts of a JUnit XML report folder: prints "tests failures errors skipped" summed over its files.
junit_counts() {
    local t=0 f=0 e=0 s=0 x line
    for x in "$1"/TEST-*.xml; do
        [ -f "$x" ] || continue
        line=$(grep -m1 -o '<testsuite [^>]*>' "$x")
        t=$((t + $(echo "$line" | sed -n 's/.* tests="\([0-9]*\)".*/\1/p')))
        f=$((f + $(echo "$line" | sed -n 's/.* failures="\([0-9]*\)".*/\1/p')))
        e=$((e + $(echo "$line" | sed -n 's/.* errors="\([0-9]*\)".*/\1/p')))
        s=$((s + $(echo "$line" | sed -n 's/.* skipped="\([0-9]*\)".*/\1/p')))
    done
    echo "$t $f $e $s"
}
