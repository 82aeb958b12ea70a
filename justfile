# Counterfoil tasks. `just --list` shows them.

# The main job: the HTTP service over ./counterfoil-data (demo loads sample data first).
run *ARGS:
    cargo run --release -- serve {{ARGS}}

# Every test of the workspace (the same command CI runs).
test:
    cargo test --workspace

# Format check and clippy with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# The benchmarks recorded in docs/benchmarks.md.
bench *ARGS:
    cargo run --release -p counterfoil-bench -- {{ARGS}}

# What CI runs.
ci:
    bash .ci/run
