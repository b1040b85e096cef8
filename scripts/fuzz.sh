#!/usr/bin/env bash
# Runs every Fuzz* target in the module for $FUZZTIME each (go test runs one fuzz
# target per invocation). Seed corpora live in each package's testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FUZZTIME:=5s}"
status=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
	pkg=$(dirname "$file")
	echo "fuzz $pkg $name ($FUZZTIME)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/cairn-fuzz.out 2>&1; then
		cat /tmp/cairn-fuzz.out
		status=1
	fi
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | sed -E 's/^([^:]*):[0-9]+:/\1:/' | sort)
exit $status
