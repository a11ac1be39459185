import CLibevent
@_spi(Backend) import GreenloopCore

/// The `struct event_base *` behind a libevent ``GreenloopCore/EventLoop``.
final class LibeventNativeLoop: NativeLoop {
    /// Priorities -2…2 map to libevent's queues 4…0 (libevent runs lower numbers first).
    static let priorityQueues: CInt = 5

    // Unchecked exclusivity: the loop's thread only, and read by every watcher's start and stop.
    /// `struct event_base *`; valid until ``close()``.
    @exclusivity(unchecked) private(set) var base: OpaquePointer
    let method: IOMethod
    @exclusivity(unchecked) private(set) var isClosed = false

    var kind: BackendKind { .libevent }

    init(method requested: IOMethod?) throws(LoopError) {
        let backend = (try? Backend(kind: .libevent, method: requested)) ?? .libevent
        if let requested, !Libevent.supportedMethods.contains(requested) {
            throw .backendUnavailable(
                backend,
                reason: "this libevent does not support \(requested); it supports "
                    + Libevent.supportedMethods.map(\.rawValue).joined(separator: ", "))
        }
        guard let base = greenloop_event_base_new(requested?.rawValue, LibeventNativeLoop.priorityQueues) else {
            throw .backendUnavailable(
                backend, reason: "event_base_new failed (the kernel refused \(requested?.rawValue ?? "every method"))")
        }
        let name = String(cString: event_base_get_method(base))
        guard let method = IOMethod(rawValue: name) else {
            event_base_free(base)
            throw .backendUnavailable(backend, reason: "libevent chose an unknown method (\(name))")
        }
        self.base = base
        self.method = method
    }

    deinit { close() }

    static func queue(for priority: Int) -> CInt { CInt(Watcher.maximumPriority - priority) }

    func makeIO(for watcher: IOWatcher) -> any NativeIO { LibeventIO(owner: self, watcher: watcher) }

    func makeTimer(for watcher: TimerWatcher) -> any NativeTimer { LibeventTimer(owner: self, watcher: watcher) }

    func poll(blocking: Bool) {
        let flags = greenloop_libevent_evloop_once | (blocking ? 0 : greenloop_libevent_evloop_nonblock)
        _ = event_base_loop(base, flags)
    }

    var pendingCount: Int {
        isClosed ? 0 : Int(event_base_get_num_events(base, UInt32(EVENT_BASE_COUNT_ACTIVE)))
    }

    /// The epoll set, found once by a probe (libevent 2.1 has no call that returns it); -1 for
    /// the other methods, which have none. libevent's epoll would refuse it by itself (EINVAL
    /// from `epoll_ctl` in `event_add`): told here too, the check is the same on both backends.
    var backendDescriptor: CInt {
        if let knownBackendDescriptor { return knownBackendDescriptor }
        let found = isClosed || method != .epoll ? -1 : greenloop_event_base_epoll_fd(base)
        knownBackendDescriptor = found
        return found
    }
    /// ``backendDescriptor`` once probed; forgotten by a fork, after which libevent makes a new
    /// set.
    @exclusivity(unchecked) private var knownBackendDescriptor: CInt?

    func updateTime() { _ = event_base_update_cache_time(base) }

    func reinitializeAfterFork() throws(LoopError) {
        knownBackendDescriptor = nil
        guard event_reinit(base) == 0 else {
            throw .systemCallFailed("event_reinit", .ioError)
        }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        event_base_free(base)
    }
}
