//! Image tasks (placeholder: being written).
