//! procmap: the engine.
pub mod task;
pub use task::{JobError, Registry, Task};
pub use procmap_wire as wire;
pub use procmap_wire::RunContext;
