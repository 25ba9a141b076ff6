//! cp glue (being written)
