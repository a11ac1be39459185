import CLibevent
@_spi(Backend) import GreenloopCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

// The C-facing half of libevent's io and timer watchers.
//
// Invariants that make the unsafe code below safe:
// - Each `struct event` is allocated here (event_get_struct_event_size() bytes), so its address
//   is stable, and freed only in deinit, after event_del (or after its base was freed, when
//   libevent no longer looks at it and event_del would touch freed memory).
// - Its callback argument is an unretained pointer to the Swift watcher that owns this native
//   object; the Swift watcher deletes the event before it goes away, so libevent can only call
//   back while the Swift watcher is alive. The callbacks extend its lifetime across the call.

/// The size libevent itself reports, not the header's: the library in use decides.
private func allocateEvent() -> UnsafeMutablePointer<event> {
    let size = max(event_get_struct_event_size(), MemoryLayout<event>.size)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<event>.alignment)
    return raw.bindMemory(to: event.self, capacity: 1)
}

private func deallocateEvent(_ event: UnsafeMutablePointer<event>) {
    UnsafeMutableRawPointer(event).deallocate()
}

final class LibeventIO: NativeIO {
    private let owner: LibeventNativeLoop
    private let event: UnsafeMutablePointer<event>
    private let context: UnsafeMutableRawPointer
    // Unchecked exclusivity: the loop's thread only (see Watcher).
    @exclusivity(unchecked) private var isAdded = false

    init(owner: LibeventNativeLoop, watcher: IOWatcher) {
        self.owner = owner
        self.event = allocateEvent()
        self.context = Unmanaged.passUnretained(watcher).toOpaque()
    }

    deinit {
        stop()
        deallocateEvent(event)
    }

    func start(fd: CInt, events: IOEvents, priority: Int) throws(LoopError) {
        var mask: Int16 = 0
        if events.contains(.read) { mask |= greenloop_libevent_ev_read }
        if events.contains(.write) { mask |= greenloop_libevent_ev_write }
        // Assigned at each start: the descriptor and events may have changed since the last one.
        _ = greenloop_event_assign_io(event, owner.base, fd, mask, libeventIOReady, context)
        _ = event_priority_set(event, LibeventNativeLoop.queue(for: priority))
        guard greenloop_event_add_ns(event, -1) == 0 else {
            throw .invalidFileDescriptor(fd, Errno(rawValue: errno))
        }
        isAdded = true
    }

    func stop() {
        guard isAdded, !owner.isClosed else { return }
        isAdded = false
        _ = event_del(event)
    }

    var isPending: Bool { isAdded && !owner.isClosed && greenloop_event_is_pending_callback(event) != 0 }
}

final class LibeventTimer: NativeTimer {
    private let owner: LibeventNativeLoop
    private let event: UnsafeMutablePointer<event>
    @exclusivity(unchecked) private var isAssigned = false
    private let context: UnsafeMutableRawPointer

    init(owner: LibeventNativeLoop, watcher: TimerWatcher) {
        self.owner = owner
        self.event = allocateEvent()
        self.context = Unmanaged.passUnretained(watcher).toOpaque()
    }

    deinit {
        stop()
        deallocateEvent(event)
    }

    func start(afterNanoseconds nanoseconds: UInt64, priority: Int) {
        if !isAssigned {
            _ = greenloop_event_assign_timer(event, owner.base, libeventTimerExpired, context)
            isAssigned = true
        }
        _ = event_priority_set(event, LibeventNativeLoop.queue(for: priority))
        _ = greenloop_event_add_ns(event, Int64(clamping: nanoseconds))
    }

    func stop() {
        guard isAssigned, !owner.isClosed else { return }
        _ = event_del(event)
    }

    var isPending: Bool { isAssigned && !owner.isClosed && greenloop_event_is_pending_callback(event) != 0 }
}

/// libevent's io callback. A top-level function: C function pointers cannot capture context.
func libeventIOReady(_ fd: CInt, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let watcher = Unmanaged<IOWatcher>.fromOpaque(context).takeUnretainedValue()
    var ready: IOEvents = []
    if what & greenloop_libevent_ev_read != 0 { ready.insert(.read) }
    if what & greenloop_libevent_ev_write != 0 { ready.insert(.write) }
    withExtendedLifetime(watcher) { watcher._nativeReady(ready) }
}

func libeventTimerExpired(_ fd: CInt, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let watcher = Unmanaged<TimerWatcher>.fromOpaque(context).takeUnretainedValue()
    withExtendedLifetime(watcher) { watcher._nativeExpired() }
}
