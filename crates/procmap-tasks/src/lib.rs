//! The tasks every `supervisor-worker` knows.
//!
//! [`builtin`] returns a [`Registry`] with all of them; a custom worker binary
//! starts from it and registers its own tasks on top:
//!
//! ```
//! let registry = procmap_tasks::builtin();
//! assert!(registry.get("cube").is_some());
//! ```
//!
//! - [`Cube`]: seed 003's `x**3`, with an optional sleep.
//! - [`Noop`]: does nothing, for measuring the pool's own overhead.
//! - [`Fault`]: misbehaves on purpose (panic, abort, segfault, exit, hang,
//!   oom, slow), to test and demonstrate crash isolation.

mod cube;
mod fault;

pub use cube::{Cube, Noop};
pub use fault::Fault;
use procmap::Registry;

/// A registry with every built-in task.
pub fn builtin() -> Registry {
    let mut registry = Registry::new();
    registry.register(Cube).register(Noop).register(Fault);
    procmap_images::register(&mut registry);
    registry
}
