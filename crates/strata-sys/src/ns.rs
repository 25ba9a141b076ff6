//! Namespaces (being written)
