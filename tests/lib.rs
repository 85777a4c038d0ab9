//! Nothing here: the integration tests live in `it/` and build as one test binary (`cargo test -p sj-tests`).
