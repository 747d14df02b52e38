#!/usr/bin/env bash
# The Kafka Streams comparison app of `make bench` (bench/streams/, docs/benchmarks.md): builds
# its jar once with Maven (Maven Central: kafka-streams, avro, rocksdbjni) into the download
# cache and prints the jar's path. The cache entry is keyed by a hash of the app's sources
# (pom.xml and src/), so an edit builds again and an unchanged checkout never does.
#   infra/streams-jar.sh            -> ~/.cache/kairos/streams-bench-<hash>/kairos-streams-bench.jar
# The build runs in a temporary copy, so the checkout gets no target/ directory. Progress and
# Maven's output go to stderr / $KAIROS_STACK_LOGS/build-streams.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAIROS_CACHE:-$HOME/.cache/kairos}
LOGS=${KAIROS_STACK_LOGS:-$ROOT/logs/stack}
SRC=$ROOT/bench/streams

die() { echo "streams-jar: $*" >&2; exit 1; }
[[ -f $SRC/pom.xml ]] || die "no $SRC/pom.xml"
hash=$(cd "$SRC" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
dir=$CACHE/streams-bench-$hash
jar=$dir/kairos-streams-bench.jar
if [[ ! -f $dir/.complete ]]; then
  mkdir -p "$CACHE" "$LOGS"
  # One build at a time (two bench runs at once would both build into the same entry).
  if command -v flock >/dev/null; then exec 9>"$dir.lock" && flock 9; fi
  if [[ ! -f $dir/.complete ]]; then
    command -v mvn >/dev/null || die "mvn not found; the bench builds its Kafka Streams app with Maven"
    command -v java >/dev/null || die "java not found; the bench runs its Kafka Streams app on Java 17 or later"
    echo "streams-jar: building the Kafka Streams comparison app (Maven, once per source change) into $dir" >&2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cp -r "$SRC/pom.xml" "$SRC/src" "$work/"
    mvn -B -q -f "$work/pom.xml" package -DskipTests >"$LOGS/build-streams.log" 2>&1 \
      || die "could not build bench/streams with Maven; see $LOGS/build-streams.log"
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$work/target/kairos-streams-bench.jar" "$jar"
    touch "$dir/.complete"
  fi
fi
echo "$jar"
