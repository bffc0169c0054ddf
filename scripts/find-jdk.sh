# Sourced by ./sluice and ./build: sets SLUICE_JAVA_HOME to a JDK >= 25.
# Order: $SLUICE_JAVA_HOME, $JAVA_HOME, every JDK under /usr/lib/jvm and /opt, then `java` on PATH.
_sluice_jdk_major() {
  local v
  v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1)
  echo "${v%%.*}"
}
_sluice_find_jdk() {
  local c m
  for c in "${SLUICE_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/* /opt/*jdk* /opt/java/*; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    m=$(_sluice_jdk_major "$c")
    if [ -n "$m" ] && [ "$m" -ge 25 ] 2>/dev/null; then echo "$c"; return 0; fi
  done
  if command -v javac >/dev/null 2>&1; then
    c=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    m=$(_sluice_jdk_major "$c")
    if [ -n "$m" ] && [ "$m" -ge 25 ] 2>/dev/null; then echo "$c"; return 0; fi
  fi
  return 1
}
if ! SLUICE_JAVA_HOME=$(_sluice_find_jdk); then
  echo "sluice: no JDK 25 or newer found (looked at \$SLUICE_JAVA_HOME, \$JAVA_HOME, /usr/lib/jvm, /opt, PATH)." >&2
  echo "sluice: install one (e.g. Temurin 25) or point SLUICE_JAVA_HOME at it." >&2
  exit 1
fi
export SLUICE_JAVA_HOME
