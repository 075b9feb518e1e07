//! Model Hub (being written).
