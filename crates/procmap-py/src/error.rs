//! `procmap.PoolError`, in a module of its own: the run raises it and the
//! module registers it, and neither should import the other for it.

pyo3::create_exception!(
    procmap,
    PoolError,
    pyo3::exceptions::PyRuntimeError,
    "The pool itself could not run: workers failed to start, or a journal could not be written. \
     A failing item is never a PoolError; it is that item's result."
);
