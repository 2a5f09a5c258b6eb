# Finds a JDK 25 or newer; sourced (POSIX sh) by ./mvnw, so that Maven itself runs on it, and by ci/lib.sh.
# vhost4j_jdk25_home prints its home: $VHOST4J_JAVA_HOME, else $JAVA_HOME, else the newest under /usr/lib/jvm
# (or /usr/java, /opt/java), when its release file says JAVA_VERSION 25 or newer. Prints nothing otherwise.
vhost4j_jdk_version() { # $1: a JDK home; prints its feature version, or nothing
    [ -x "$1/bin/java" ] && [ -f "$1/release" ] || return 0
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release"
}
vhost4j_jdk25_home() {
    _vhost4j_best= _vhost4j_best_v=0
    for _vhost4j_h in "${VHOST4J_JAVA_HOME:-}" "${JAVA_HOME:-}"; do
        [ -n "$_vhost4j_h" ] || continue
        _vhost4j_v=$(vhost4j_jdk_version "$_vhost4j_h")
        if [ -n "$_vhost4j_v" ] && [ "$_vhost4j_v" -ge 25 ]; then echo "$_vhost4j_h"; return 0; fi
    done
    for _vhost4j_h in /usr/lib/jvm/* /usr/java/* /opt/java/*; do
        _vhost4j_v=$(vhost4j_jdk_version "$_vhost4j_h")
        if [ -n "$_vhost4j_v" ] && [ "$_vhost4j_v" -ge 25 ] && [ "$_vhost4j_v" -gt "$_vhost4j_best_v" ]; then
            _vhost4j_best=$_vhost4j_h _vhost4j_best_v=$_vhost4j_v
        fi
    done
    [ -n "$_vhost4j_best" ] && echo "$_vhost4j_best"
    return 0
}
