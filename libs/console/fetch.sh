#!/usr/bin/env bash
# Refreshes the console's vendored assets from the npm registry (maintainers only: the files are
# committed, nothing runs this at install or test time). Pinned versions; npm checks each tarball
# against the registry's integrity hash. axe-core is for the browser tests only.
set -euo pipefail
HTMX=2.0.11
CHARTJS=4.6.1
AXE=4.14.1
here="$(cd "$(dirname "$0")" && pwd)"
static="$here/static/vendor"
tests="$here/../../tests/browser/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "htmx.org@$HTMX" "chart.js@$CHARTJS" "axe-core@$AXE" >/dev/null
mkdir h c a
tar xzf "htmx.org-$HTMX.tgz" -C h
tar xzf "chart.js-$CHARTJS.tgz" -C c
tar xzf "axe-core-$AXE.tgz" -C a
rm -rf "$static" "$tests"
mkdir -p "$static/htmx" "$static/chartjs" "$tests/axe-core"
cp h/package/dist/htmx.min.js h/package/LICENSE "$static/htmx/"
cp c/package/dist/chart.umd.min.js c/package/LICENSE.md "$static/chartjs/"
cp a/package/axe.min.js a/package/LICENSE "$tests/axe-core/"
# The source-map comments point at files not shipped: drop them (a browser would ask for them).
sed -i -e '/^\/\/# sourceMappingURL=/d' "$static/htmx/htmx.min.js" "$static/chartjs/chart.umd.min.js"
echo "htmx.org $HTMX, chart.js $CHARTJS, axe-core $AXE: update the versions in README.md"
