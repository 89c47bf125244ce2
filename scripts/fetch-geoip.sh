#!/usr/bin/env bash
# Fetches a real, freely redistributable GeoIP country database into DEST_DIR, for the test that
# checks GeoDb against data we did not write ourselves (collector/src/geo.rs, real_database).
#
# The data is ip-location-db's geo-whois-asn-country (CC BY 4.0 NRO data, packaged under CC0) from
# the npm registry, because it needs no account or licence key, unlike MaxMind's GeoLite2. The
# package holds an IPv4 file, an IPv6 file and a combined one; we take the two separate files,
# which also exercises GeoDb's several-files path (the IPv4 file is an IPv4-only tree).
#
# Usage:   scripts/fetch-geoip.sh DEST_DIR
# Output:  progress on stderr; the last line of stdout is the absolute paths written,
#          colon-separated, ready for:
#            export FOOTFALL_REAL_GEOIP=$(scripts/fetch-geoip.sh DEST_DIR | tail -1)
# Env:     FOOTFALL_GEOIP_VERSION  npm version or tag of the package (default: latest)
#
# Files already in DEST_DIR are reused, not downloaded again. Never commit them.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DEST_DIR" >&2
    exit 2
fi

package="@ip-location-db/geo-whois-asn-country-mmdb"
version="${FOOTFALL_GEOIP_VERSION:-latest}"
files=(geo-whois-asn-country-ipv4.mmdb geo-whois-asn-country-ipv6.mmdb)

mkdir -p "$1"
dest="$(cd "$1" && pwd)"

missing=0
for f in "${files[@]}"; do
    [[ -s "$dest/$f" ]] || missing=1
done

if [[ $missing -eq 0 ]]; then
    echo "fetch-geoip: already in $dest, not downloading" >&2
else
    command -v npm >/dev/null || { echo "fetch-geoip: npm is needed (apt-get install npm)" >&2; exit 1; }
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    echo "fetch-geoip: npm pack $package@$version" >&2
    (cd "$tmp" && npm pack --loglevel=error "$package@$version" >/dev/null)
    tarball=("$tmp"/*.tgz)
    tar -xzf "${tarball[0]}" -C "$tmp"
    for f in "${files[@]}"; do
        if [[ ! -s "$tmp/package/$f" ]]; then
            echo "fetch-geoip: $package@$version has no $f; it holds:" >&2
            ls -l "$tmp/package" >&2
            exit 1
        fi
        # Copy then rename, so that an interrupted run never leaves a truncated file to be reused.
        cp "$tmp/package/$f" "$dest/.$f.part"
        mv "$dest/.$f.part" "$dest/$f"
        echo "fetch-geoip: wrote $dest/$f ($(stat -c %s "$dest/$f") bytes)" >&2
    done
fi

paths=()
for f in "${files[@]}"; do
    paths+=("$dest/$f")
done
(IFS=:; echo "${paths[*]}")
