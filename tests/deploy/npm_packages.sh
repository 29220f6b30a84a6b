# Sourced by the deploy checks. npm_packages WHAT: makes tests/deploy/node_modules match
# package-lock.json (npm ci, only when the lock file changed since the last install). npm ci needs
# the npm registry: when it cannot be reached this prints one line saying so and naming WHAT (the
# checks that then cannot run) and returns 1 at once, instead of waiting out npm's retries.
npm_packages() {
  local what=$1 dir
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  local stamp="$dir/node_modules/.tapstack-lock" registry
  cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null && return 0
  registry=$(npm config get registry 2>/dev/null)
  if ! timeout 20 npm ping --fetch-retries=0 --fetch-timeout=15000 --loglevel=silent >/dev/null 2>&1; then
    echo "FAIL npm registry $registry cannot be reached (npm ci of tests/deploy/package-lock.json needs it); not checked: $what"
    return 1
  fi
  if ! (cd "$dir" && timeout 600 npm ci --no-audit --no-fund --loglevel=error --fetch-retries=1); then
    echo "FAIL npm ci in $dir; not checked: $what"
    return 1
  fi
  cp "$dir/package-lock.json" "$stamp"
}
