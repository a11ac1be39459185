import CLibevent
@_spi(Backend) import GreenloopCore
import Logging

/// The libevent backend: a ``GreenloopCore/EventLoop`` whose io watchers and timers are
/// libevent 2.1 events.
///
/// Each loop has its own `event_base`, made with `EVENT_BASE_FLAG_IGNORE_ENV` (so `EVENT_NOEPOLL`
/// and friends cannot change the method behind the program's back) and
/// `EVENT_BASE_FLAG_PRECISE_TIMER` (timerfd-based timeouts, so timers fire on time), with five
/// priority queues for the five watcher priorities.
///
/// libevent 2.1 has no idle, prepare, check, child or async events of its own; the shared
/// driver in GreenloopCore provides them on top of io events and the loop's wake-up eventfd, the
/// same way as on libev.
public enum Libevent {
    /// Makes a loop on libevent.
    ///
    /// - Parameters:
    ///   - method: the I/O method, or `nil` for libevent's best on this machine (epoll on Linux).
    ///   - logger: where the loop reports errors thrown by callbacks.
    /// - Throws: ``GreenloopCore/LoopError/backendUnavailable(_:reason:)`` when this machine does
    ///   not provide `method`: never a silent substitute.
    public static func makeLoop(method: IOMethod? = nil, logger: Logger) throws(LoopError) -> EventLoop {
        try EventLoop(native: LibeventNativeLoop(method: method), logger: logger)
    }

    /// libevent's version, as "2.1.12-stable".
    public static var version: String { String(cString: event_get_version()) }

    /// The methods this machine's libevent was built with.
    public static var supportedMethods: [IOMethod] {
        var names: UnsafePointer<UnsafePointer<CChar>?>?
        let count = Int(greenloop_event_supported_methods(&names))
        guard let names else { return [] }
        return (0..<count).compactMap { names[$0].flatMap { IOMethod(rawValue: String(cString: $0)) } }
    }

    /// The `event_base *` of a loop made by ``makeLoop(method:logger:)``, or `nil` for a loop of
    /// another backend. C code may add its own events to it; they then run in the loop's
    /// iterations. Valid until the loop is closed.
    public static func eventBase(of loop: any Loop) -> OpaquePointer? {
        guard let loop = loop as? EventLoop, let native = loop.native as? LibeventNativeLoop,
            !native.isClosed
        else { return nil }
        return native.base
    }
}

extension Libevent {
    /// For the adapter, in a forked child whose hub set `loop` aside and made a new loop: remakes
    /// the kernel state of `loop`'s `event_base` in the child, deletes the events of `loop`'s own
    /// watchers (they belong to the parent's greenlets, which never run in the child), and returns
    /// the base, so that another loop can serve the C events that are left in it. `nil` for a loop
    /// of another backend.
    ///
    /// The order is the one `reinitializeAfterFork()` follows: `event_reinit` first, so that the
    /// deletions change the child's new epoll set and not the one it shares with the parent.
    @_spi(Adapter)
    public static func takeEventBaseAfterFork(of loop: EventLoop) throws(LoopError) -> OpaquePointer? {
        guard let native = loop.native as? LibeventNativeLoop, !native.isClosed else { return nil }
        try native.reinitializeAfterFork()
        guard greenloop_event_base_delete_events(native.base, libeventIOReady, libeventTimerExpired) >= 0 else {
            throw .systemCallFailed("event_base_foreach_event", .noMemory)
        }
        return native.base
    }
}
