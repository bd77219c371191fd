"""Where a single call's outcome lands: ``AsyncResult`` (``Pool.apply_async``,
``map_async``) and a ``concurrent.futures.Future`` (``Executor.submit``).

A sink is told ``start()`` when its call is about to be sent to a worker
(False: it was cancelled, skip it), then exactly one of ``succeed(value)``
or ``fail(exception)``, from the pool's collector thread, as the stdlib's
result handler thread does."""

import threading


class AsyncResult:
    """The result of ``apply_async``, ``map_async`` or ``starmap_async``, as
    ``multiprocessing.pool.AsyncResult``: ``get(timeout)`` returns the value
    or raises the call's exception (``multiprocessing.TimeoutError`` if it
    is not ready in time); ``wait(timeout)``, ``ready()``, ``successful()``.
    ``callback`` and ``error_callback`` run on the pool's collector thread
    and must not block."""

    def __init__(self, callback=None, error_callback=None):
        self._event = threading.Event()
        self._callback = callback
        self._error_callback = error_callback
        self._value = None
        self._error = None

    def ready(self):
        return self._event.is_set()

    def successful(self):
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return self._error is None

    def wait(self, timeout=None):
        self._event.wait(timeout)

    def get(self, timeout=None):
        self.wait(timeout)
        if not self.ready():
            raise _mp_timeout_error()
        if self._error is not None:
            raise self._error
        return self._value

    # The sink protocol

    def start(self):
        return True

    def succeed(self, value):
        self._value = value
        if self._callback is not None:
            self._callback(value)
        self._event.set()

    def fail(self, error):
        self._error = error
        if self._error_callback is not None:
            self._error_callback(error)
        self._event.set()

    def cancel(self):
        self.fail(_mp_timeout_error("cancelled"))


def _mp_timeout_error(*args):
    # Imported when raised, not when procmap is: multiprocessing costs
    # ~10 ms to import, and most scripts never see this exception.
    from multiprocessing import TimeoutError

    return TimeoutError(*args)


class FutureSink:
    """A ``concurrent.futures.Future`` as a sink."""

    __slots__ = ("future",)

    def __init__(self, future):
        self.future = future

    def start(self):
        return self.future.set_running_or_notify_cancel()

    def succeed(self, value):
        self.future.set_result(value)

    def fail(self, error):
        self.future.set_exception(error)

    def cancel(self):
        self.future.cancel()
