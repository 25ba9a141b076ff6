//! docker cp: see mod docs (being written)
