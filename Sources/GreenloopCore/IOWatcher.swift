#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Calls back when a file descriptor is readable or writable (libev's `ev_io`, libevent's
/// `event_new(fd, EV_READ|EV_WRITE|EV_PERSIST)`).
///
/// The callback gets the events that are ready, a subset of those watched. It stays active until
/// stopped: level-triggered, it fires again each iteration while the descriptor stays ready.
///
/// **The special problem of disappearing descriptors.** The descriptor is checked when the watcher
/// is made, by ``set(_:_:)`` and by every ``start()``: negative, not open, or the loop's own epoll
/// set throw ``LoopError/invalidFileDescriptor(_:_:)`` on both backends, and the loop goes on.
/// Stop the watcher *before* closing its descriptor: a number closed and reused behind an active
/// watcher is not the same file, and the backends may keep watching the old one.
///
/// Cost: start costs one `fcntl` (the check above) and is O(1) otherwise; stop is O(1). libev
/// batches kernel changes until the next wait, libevent's epoll applies them at once (one
/// `epoll_ctl`).
public final class IOWatcher: Watcher {
    // The callback first: next to the state that every wake-up reads too, in the same cache line
    // as a rule.
    private let callback: (IOEvents) throws -> Void
    // Unchecked exclusivity (here and below): see Watcher.state.
    /// The descriptor watched.
    @exclusivity(unchecked) public private(set) var fileDescriptor: FileDescriptor
    /// The events watched.
    @exclusivity(unchecked) public private(set) var events: IOEvents
    @exclusivity(unchecked) private var native: (any NativeIO)?

    init(
        loop: EventLoop, fd: FileDescriptor, events: IOEvents, isCounted: Bool,
        callback: @escaping (IOEvents) throws -> Void
    ) throws(LoopError) {
        try IOWatcher.validate(fd)
        self.fileDescriptor = fd
        self.events = events
        self.callback = callback
        super.init(loop: loop, isCounted: isCounted)
        self.native = loop.native.makeIO(for: self)
    }

    deinit { deactivateIfActive() }

    override var kindName: String { "io watcher" }

    /// See ``Watcher/isPending``.
    public override var isPending: Bool { isActive && (native?.isPending ?? false) }

    /// Watches another descriptor or other events from the next start.
    ///
    /// - Throws: ``LoopError/watcherActive(operation:watcher:)`` while active;
    ///   ``LoopError/invalidFileDescriptor(_:_:)``.
    public func set(_ fd: FileDescriptor, _ events: IOEvents) throws(LoopError) {
        try checkUsable("set(_:_:)")
        guard state != .active else { throw .watcherActive(operation: "set(_:_:)", watcher: kindName) }
        try IOWatcher.validate(fd)
        self.fileDescriptor = fd
        self.events = events
    }

    override func activate() throws(LoopError) {
        // Checked at every start, not only when made: the descriptor may have been closed since,
        // and its number reused, even by the backend's own epoll set. libev would find out only
        // inside its next wait, where it aborts the process; libevent's epoll refuses at once.
        // One `fcntl` makes both say the same, before anything changed.
        try IOWatcher.validate(fileDescriptor)
        if fileDescriptor.rawValue == withEventLoop({ $0.native.backendDescriptor }) {
            throw .invalidFileDescriptor(fileDescriptor.rawValue, .invalidArgument)
        }
        try native?.start(fd: fileDescriptor.rawValue, events: events, priority: priority)
    }

    override func deactivate() { native?.stop() }

    override func releaseResources() { native = nil }

    /// Called by the backend when the descriptor is ready. Not API.
    @_spi(Backend)
    public func _nativeReady(_ ready: IOEvents) {
        withEventLoop { $0.dispatch(from: self) { () throws -> Void in try callback(ready) } }
    }

    /// Called by the backend when it has stopped the watcher because its descriptor became
    /// invalid (libev's `EV_ERROR`). The callback gets both events, so that the next read or
    /// write reports the descriptor's error. Not API.
    @_spi(Backend)
    public func _nativeFailed() {
        didStopByItself()
        eventLoop.dispatch(from: self) { () throws -> Void in try callback([.read, .write]) }
    }

    private static func validate(_ fd: FileDescriptor) throws(LoopError) {
        guard fd.rawValue >= 0 else { throw .invalidFileDescriptor(fd.rawValue, nil) }
        if fcntl(fd.rawValue, F_GETFD) == -1 {
            throw .invalidFileDescriptor(fd.rawValue, Errno(rawValue: errno))
        }
    }
}
