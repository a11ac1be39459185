import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A server that runs a handler in its own greenlet for every connection (gevent's
/// `StreamServer`): each connection's code is a plain sequential function.
///
/// ```swift
/// let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 8000)) { client in
///     while true {
///         let bytes = try client.read()
///         if bytes.isEmpty { return }
///         try client.writeAll(bytes)
///     }
/// }
/// try server.start()
/// ```
///
/// **Concurrency.** Handlers run in a ``Group``, or in the ``Pool`` given, which caps how many run
/// at once: while it is full, the server stops accepting (connections wait in the backlog).
///
/// **Running out of descriptors.** When `accept` fails with EMFILE or ENFILE the server keeps
/// serving the connections it has and tries again after a pause that doubles from 5 ms to 1 s,
/// so that it accepts again soon after descriptors are freed.
///
/// **Stopping.** ``stop(timeout:)`` stops accepting at once, gives the handlers until the deadline
/// to finish, then kills those still running (each unwinds; its client socket is closed).
/// ``serveForever()`` returns only once that is done, so a program whose main greenlet serves
/// forever and whose signal handler calls `stop` ends with every request under way answered (or
/// killed at the deadline), never cut at the signal.
public final class StreamServer {
    /// The listening socket.
    public let listener: Socket
    /// The address the server listens on (with the port the kernel chose for port 0).
    public let address: SocketAddress
    private let handlers: Group
    private let handler: (Socket) throws -> Void
    private var acceptor: SpawnedGreenlet<Void>?
    /// Set when a ``stop(timeout:)`` has finished: handlers done or killed.
    private let stopped = Event()
    /// Whether a ``stop(timeout:)`` has begun; a second call waits for the first.
    private var isStopping = false
    /// What the first ``stop(timeout:)`` returned.
    private var everyHandlerFinished = true
    private let affinity = ThreadAffinity()
    /// Connections accepted since the server started.
    public private(set) var acceptedCount = 0
    /// How many times `accept` ran out of descriptors.
    public private(set) var descriptorExhaustionCount = 0

    /// Binds and listens; call ``start()`` to accept.
    ///
    /// - Parameters:
    ///   - reusePort: SO_REUSEPORT, so that one server per thread (one hub per thread) can share
    ///     the port.
    ///   - pool: caps the handlers that run at once; unlimited without one.
    public init(
        listeningOn address: SocketAddress, backlog: CInt = 1024, reusePort: Bool = false, pool: Pool? = nil,
        handler: @escaping (Socket) throws -> Void
    ) throws {
        let family: Socket.Family = address.family == AF_INET ? .ipv4 : address.family == AF_INET6 ? .ipv6 : .unix
        listener = try Socket(family)
        if family != .unix { try listener.setReuseAddress(true) }
        if reusePort { try listener.setReusePort(true) }
        try listener.bind(to: address)
        try listener.listen(backlog: backlog)
        self.address = listener.localAddress ?? address
        self.handlers = pool ?? Group()
        self.handler = handler
    }

    /// Whether the server accepts connections.
    public var isServing: Bool { acceptor.map { !$0.isReady } ?? false }

    /// Handlers running now.
    public var activeHandlerCount: Int { handlers.count }

    /// Starts accepting, in a greenlet of its own.
    public func start() throws {
        try affinity.check("StreamServer.start()")
        guard acceptor == nil else { return }
        acceptor = try spawn { [unowned self] in try self.acceptLoop() }
    }

    /// Starts (if needed) and waits until the server has stopped: until a ``stop(timeout:)`` has
    /// finished (its handlers ended or were killed), not merely stopped accepting.
    ///
    /// - Throws: the error that ended accepting, if it was not a stop (the handlers go on then);
    ///   what is thrown into the waiting greenlet.
    public func serveForever() throws {
        try affinity.check("StreamServer.serveForever()")
        try start()
        guard let acceptor else { return }
        try acceptor.join()
        if let error = acceptor.error, !(error is GreenletExit) { throw error }
        try stopped.wait()
    }

    /// Stops accepting, waits at most `timeout` for the handlers, then kills the rest. A second
    /// call, while the first runs or after it, waits for the first and returns what it returned.
    ///
    /// - Returns: whether every handler finished within the timeout.
    @discardableResult
    public func stop(timeout: Duration = .seconds(1)) throws -> Bool {
        try affinity.check("StreamServer.stop(timeout:)")
        guard !isStopping else {
            try stopped.wait()
            return everyHandlerFinished
        }
        isStopping = true
        // Whatever ends this call (a kill of the greenlet that stops the server, say), waiters
        // in serveForever() are released: nothing else would release them.
        defer { stopped.set() }
        if let acceptor, !acceptor.isReady { try acceptor.kill() }
        listener.close()
        let finished = try handlers.join(timeout: timeout)
        if !finished { try handlers.killAll(timeout: .seconds(1)) }
        everyHandlerFinished = finished
        return finished
    }

    private func acceptLoop() throws {
        var pause = Duration.milliseconds(5)
        while true {
            let client: Socket
            do {
                client = try listener.accept()
            } catch SocketError.systemCall(_, let errno, _) where errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem {
                descriptorExhaustionCount += 1
                try sleep(pause)
                pause = min(pause * 2, .seconds(1))
                continue
            }
            pause = .milliseconds(5)
            acceptedCount += 1
            try handlers.spawn { [handler] in
                defer { client.close() }
                try handler(client)
            }
        }
    }
}
