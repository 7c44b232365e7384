# Sourced by ./kvserve and ./build: sets KVSERVE_JAVA_HOME to a JDK >= 25.
# Order: JAVA_HOME if it is >= 25, then the newest /usr/lib/jvm/* that is >= 25.
kvserve_java_major() {
  local v
  v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1)
  echo "${v%%.*}"
}
kvserve_find_jdk() {
  local cand major
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    major=$(kvserve_java_major "$JAVA_HOME")
    if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then KVSERVE_JAVA_HOME="$JAVA_HOME"; return 0; fi
  fi
  for cand in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    cand="${cand%/}"
    [ -x "$cand/bin/java" ] && [ -x "$cand/bin/javac" ] || continue
    major=$(kvserve_java_major "$cand")
    if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then KVSERVE_JAVA_HOME="$cand"; return 0; fi
  done
  echo "kvserve: no JDK 25 or newer found (JAVA_HOME='${JAVA_HOME:-}' and /usr/lib/jvm/* checked)." >&2
  echo "kvserve: install one (for example Temurin 25 into /usr/lib/jvm) or point JAVA_HOME at it." >&2
  return 1
}
