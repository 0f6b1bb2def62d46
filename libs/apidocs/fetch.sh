#!/usr/bin/env bash
# Refreshes the API documentation pages' assets from the npm registry (maintainers only: the
# files are committed, nothing runs this at install or test time). Pinned versions; npm checks
# each tarball against the registry's integrity hash. Then one patch: Redoc's sidebar loads its
# logo from a CDN, which a closed network cannot reach; the image is dropped (Redoc already hides
# it when it fails to load).
set -euo pipefail
SWAGGER_UI=5.35.0
REDOC=2.5.4
here="$(cd "$(dirname "$0")" && pwd)/static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "swagger-ui-dist@$SWAGGER_UI" "redoc@$REDOC" >/dev/null
mkdir s r
tar xzf "swagger-ui-dist-$SWAGGER_UI.tgz" -C s
tar xzf "redoc-$REDOC.tgz" -C r
rm -rf "$here/swagger-ui" "$here/redoc"
mkdir -p "$here/swagger-ui" "$here/redoc"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  cp "s/package/$f" "$here/swagger-ui/$f"
done
for f in redoc.standalone.js redoc.standalone.js.LICENSE.txt; do cp "r/package/bundles/$f" "$here/redoc/$f"; done
cp r/package/LICENSE "$here/redoc/LICENSE"
# The source map comments point at files not shipped: drop them (a browser would ask for them).
sed -i -e '/^\/\/# sourceMappingURL=/d' "$here/swagger-ui/swagger-ui-bundle.js" "$here/redoc/redoc.standalone.js"
sed -i -e '/^\/\*# sourceMappingURL=.*\*\/$/d' "$here/swagger-ui/swagger-ui.css"
logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
grep -qF "$logo" "$here/redoc/redoc.standalone.js" || { echo "Redoc's logo URL moved: review the patch" >&2; exit 1; }
sed -i -e "s#e?n.createElement(\"img\",{alt:\"redocly logo\",onError:()=>t(!1),src:$logo}):null#null#" \
  "$here/redoc/redoc.standalone.js"
if grep -qF "cdn.redoc.ly" "$here/redoc/redoc.standalone.js"; then echo "the logo patch did not apply" >&2; exit 1; fi
echo "swagger-ui-dist $SWAGGER_UI and redoc $REDOC in $here: update the versions in README.md"
