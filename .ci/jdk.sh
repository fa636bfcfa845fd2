# Shell functions shared by .ci/run and benchmarks/run (source it; it runs nothing).

# Print the toolchain without pipes into head (SIGPIPE would fail the script under pipefail).
first_line() { local out; out=$("$@" 2>&1) || true; echo "${out%%$'\n'*}"; }

# Finds an installed JDK of the given feature version (JDKn_HOME wins if set) beside the default
# JDK, in the directory that holds it.
find_jdk() {
  local version=$1 var="JDK${1}_HOME" home jdks
  if [ -n "${!var:-}" ] && [ -x "${!var}/bin/java" ]; then echo "${!var}"; return 0; fi
  jdks=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  for home in "$jdks"/*; do
    [ -x "$home/bin/java" ] || continue
    case "$(first_line "$home/bin/java" -version)" in
      *\"$version\"*|*\"$version.*) echo "$home"; return 0 ;;
    esac
  done
  return 1
}
