import CFContext

/// Asks the processor for the first two cache lines of `object` (its header and the stored
/// properties that follow), for a use that comes later: the hub's drain fetches the waiters and
/// greenlets it is about to wake this way (see `ReadyQueue.prefetchUpcomingWakeUps()`). A hint
/// only: it reads nothing, so the object need not be alive by the time the lines come.
@inline(__always)
func prefetchFirstLines<Object: AnyObject>(of object: Unmanaged<Object>) {
    let address = object.toOpaque()
    greenloop_prefetch(address)
    greenloop_prefetch(address + 64)
}
