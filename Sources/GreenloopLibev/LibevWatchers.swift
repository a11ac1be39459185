import CLibev
@_spi(Backend) import GreenloopCore

// The C-facing half of libev's io and timer watchers.
//
// Invariants that make the unsafe code below safe:
// - Each `ev_io` / `ev_timer` lives in the tail allocation of its native object (a
//   `ManagedBuffer` whose header is the loop): one allocation instead of two, and a stable address
//   for as long as the object lives, since a class instance never moves. It goes with the object,
//   after deinit has stopped it (or after its loop was destroyed, when libev no longer looks at
//   it).
// - The header (the loop) is read through `withUnsafeMutablePointerToHeader`: it is set once, by
//   `create`, and never written again, and `header` itself, a stored property of a class, costs
//   a dynamic exclusivity check per read (a tenth of a timer's start and stop).
// - Its `data` holds an unretained pointer to the Swift watcher that owns this native object;
//   the Swift watcher stops the native one before it goes away, so libev can only call back
//   while the Swift watcher is alive. The callbacks extend its lifetime across the call, so a
//   callback may drop the last other reference to its own watcher.

/// A native object of type `Native` for `owner`'s loop, its C watcher in its tail initialised by
/// `initialise`.
private func makeNative<Native: ManagedBuffer<LibevNativeLoop, CWatcher>, CWatcher>(
    _ owner: LibevNativeLoop, _ initialise: (UnsafeMutablePointer<CWatcher>) -> Void
) -> Native {
    let made = unsafeDowncast(Native.create(minimumCapacity: 1) { _ in owner }, to: Native.self)
    made.withUnsafeMutablePointerToElements(initialise)
    return made
}

final class LibevIO: ManagedBuffer<LibevNativeLoop, ev_io>, NativeIO {
    private var owner: LibevNativeLoop { withUnsafeMutablePointerToHeader { $0.pointee } }
    private var raw: UnsafeMutablePointer<ev_io> { withUnsafeMutablePointerToElements { $0 } }

    static func make(owner: LibevNativeLoop, watcher: IOWatcher) -> LibevIO {
        makeNative(owner) { greenloop_ev_io_init($0, libevIOReady, Unmanaged.passUnretained(watcher).toOpaque()) }
    }

    deinit { stop() }

    func start(fd: CInt, events: IOEvents, priority: Int) throws(LoopError) {
        var mask: CInt = 0
        if events.contains(.read) { mask |= greenloop_ev_read }
        if events.contains(.write) { mask |= greenloop_ev_write }
        greenloop_ev_watcher_set_priority(raw, CInt(priority))
        greenloop_ev_io_set(raw, fd, mask)
        greenloop_ev_io_start(owner.loop, raw)
    }

    func stop() {
        guard !owner.isClosed else { return }
        greenloop_ev_io_stop(owner.loop, raw)
    }

    var isPending: Bool { !owner.isClosed && greenloop_ev_watcher_is_pending(raw) != 0 }
}

final class LibevTimer: ManagedBuffer<LibevNativeLoop, ev_timer>, NativeTimer {
    private var owner: LibevNativeLoop { withUnsafeMutablePointerToHeader { $0.pointee } }
    private var raw: UnsafeMutablePointer<ev_timer> { withUnsafeMutablePointerToElements { $0 } }

    static func make(owner: LibevNativeLoop, watcher: TimerWatcher) -> LibevTimer {
        makeNative(owner) { greenloop_ev_timer_init($0, libevTimerExpired, Unmanaged.passUnretained(watcher).toOpaque()) }
    }

    deinit { stop() }

    func start(afterNanoseconds nanoseconds: UInt64, priority: Int) {
        greenloop_ev_watcher_set_priority(raw, CInt(priority))
        greenloop_ev_timer_set(raw, Double(nanoseconds) / 1e9)
        greenloop_ev_timer_start(owner.loop, raw)
    }

    func stop() {
        guard !owner.isClosed else { return }
        greenloop_ev_timer_stop(owner.loop, raw)
    }

    var isPending: Bool { !owner.isClosed && greenloop_ev_watcher_is_pending(raw) != 0 }
}

/// libev's io callback. A top-level function: C function pointers cannot capture context.
private func libevIOReady(_ loop: OpaquePointer?, _ raw: UnsafeMutablePointer<ev_io>?, _ revents: CInt) {
    guard let raw, let data = raw.pointee.data else { return }
    let watcher = Unmanaged<IOWatcher>.fromOpaque(data).takeUnretainedValue()
    var ready: IOEvents = []
    if revents & greenloop_ev_read != 0 { ready.insert(.read) }
    if revents & greenloop_ev_write != 0 { ready.insert(.write) }
    withExtendedLifetime(watcher) {
        if revents & greenloop_ev_error != 0 {
            // libev has stopped the watcher (its descriptor was closed behind it).
            watcher._nativeFailed()
        } else {
            watcher._nativeReady(ready)
        }
    }
}

private func libevTimerExpired(_ loop: OpaquePointer?, _ raw: UnsafeMutablePointer<ev_timer>?, _ revents: CInt) {
    guard let raw, let data = raw.pointee.data else { return }
    let watcher = Unmanaged<TimerWatcher>.fromOpaque(data).takeUnretainedValue()
    withExtendedLifetime(watcher) { watcher._nativeExpired() }
}
