//! Model runtime (being written).
