export PATH='/root/.cargo/bin:/root/.cargo/bin:/root/.pyenv/plugins/pyenv-virtualenv/shims:/root/.pyenv/shims:/root/.pyenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' HOME=/root LANG=C.UTF-8 CI='' VHOST4J_IN_GUEST=1 VHOST4J_ACCEL_USED=tcg
export VHOSTCTL_JAVA_OPTS='-XX:-TieredCompilation -XX:+UseSerialGC'
cd /work/main
exec true
