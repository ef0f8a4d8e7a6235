#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20), one after the other, each from a fresh copy
# of its seeds (fuzz/seeds/TARGET/). Exits 1 when a target finds a crash (a panic, a timeout of
# more than 10 s on one input, more than 2 GiB of memory), after printing the artifact to
# reproduce it with. .ci/run calls it; README "Fuzzing" says how to fuzz for longer.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Installs cargo-fuzz when it is missing. Only stable Rust exists here, and cargo-fuzz passes
# unstable flags (-Zsanitizer, -Cpasses=sancov-module): RUSTC_BOOTSTRAP=1 allows them.
# No sanitizer (-s none): trapline's code is safe Rust, so the fuzzers hunt panics, hangs and
# huge allocations, which need none, and the build is much cheaper without one.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-20}
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

# FUZZ_PROFILE=dev (default): unoptimised, cheap to build — CI's smoke run (see the profile's
# comment in Cargo.toml). FUZZ_PROFILE=release: optimised, for runs of minutes or hours.
profile=${FUZZ_PROFILE:-dev}
case "$profile" in
    dev) build=(-s none --dev) ;;
    release) build=(-s none) ;; # cargo-fuzz's default: optimised, debug assertions on
    *) echo "fuzz: FUZZ_PROFILE must be dev or release" >&2; exit 2 ;;
esac
echo "fuzz: building the targets ($profile)"
cargo fuzz build "${build[@]}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
bin=target/x86_64-unknown-linux-gnu/$([ "$profile" = dev ] && echo debug || echo release)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

passed=0
failed=0
for target in "${targets[@]}"; do
    corpus="$logs/corpus-$target"
    mkdir -p "$corpus" "artifacts/$target"
    cp seeds/"$target"/* "$corpus"/
    log="$logs/$target.log"
    if "$bin/$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -artifact_prefix="artifacts/$target/" -print_final_stats=1 \
        >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz: $target ok: $runs inputs in ${seconds}s, $(ls "$corpus" | wc -l) in corpus"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz: $target FAILED"
        { grep -v -E '^#[0-9]+|^INFO:' "$log" || true; } | tail -40
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "fuzz: artifact fuzz/$artifact (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${build[*]} $target $artifact)"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
