import CGreenloopSystem
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A socket whose operations wait through the hub: code reads like blocking code, and while one
/// greenlet waits for data the others run.
///
/// Every socket is non-blocking and close-on-exec. An operation first tries the system call; when
/// it would block, the greenlet waits for readiness (``waitReadable(_:timeout:)``), at most
/// ``timeout``, and tries again. Writes use `MSG_NOSIGNAL`, so a peer that went away is an
/// `EPIPE` error, never a SIGPIPE that kills the process.
///
/// **One reader and one writer at a time.** A second greenlet that reads (or writes) while
/// another already waits to read (or write) gets ``SocketError/concurrentUse(_:)`` instead of
/// interleaved data; reading in one greenlet while writing in another is fine.
///
/// The socket is closed when its last reference goes, or by ``close()``.
public final class Socket {
    /// Where the stream or datagram family of a new socket lives.
    public enum Family: Sendable {
        case ipv4, ipv6, unix

        var rawValue: CInt {
            switch self {
            case .ipv4: return AF_INET
            case .ipv6: return AF_INET6
            case .unix: return AF_UNIX
            }
        }
    }

    /// Stream (TCP, or Unix stream) or datagram (UDP, or Unix datagram).
    public enum Kind: Sendable {
        case stream, datagram

        var rawValue: CInt { self == .stream ? CInt(SOCK_STREAM.rawValue) : CInt(SOCK_DGRAM.rawValue) }
    }

    /// Which direction ``shutdown(_:)`` ends.
    public enum Direction: Sendable {
        case reading, writing, both
    }

    // Stored properties in the order of use by a read or a write, which touch those up to
    // `timeout` as a rule: together in as few cache lines as may be (an echo server with a thousand
    // connections waits more on memory than it computes).
    // Unchecked exclusivity (here and below): one thread, and no access stays open across a
    // switch (see Waiter); the dynamic checks were a twentieth of an echo round trip.
    /// The descriptor; -1 once closed.
    @exclusivity(unchecked) public private(set) var fileDescriptor: CInt
    /// The directions a greenlet is using now (``Use`` bits), so that a second one is refused.
    @exclusivity(unchecked) private var inUse: UInt8 = 0
    /// Whether the last read took less than it asked for: the kernel's buffer was emptied.
    @exclusivity(unchecked) private var receiveBufferDrained = false
    /// Made on the first wait in each direction (the first read, for reads), and reused.
    /// Retained by hand (released by ``close()``), so that a wait reaches its waiter without a
    /// reference count operation.
    @exclusivity(unchecked) private var readReadiness: Unmanaged<ReadinessWaiter>?
    /// Bytes read ahead by ``read(until:maxBytes:)`` and ``readExactly(_:)``.
    @exclusivity(unchecked) private var buffered: [UInt8] = []
    /// How long any one operation may wait; `nil` waits as long as it takes.
    @exclusivity(unchecked) public var timeout: Duration?
    /// The write direction's waiter (see `readReadiness`), touched only when a write must wait.
    @exclusivity(unchecked) private var writeReadiness: Unmanaged<ReadinessWaiter>?
    /// The peer, for a connected or accepted socket.
    @exclusivity(unchecked) public private(set) var peer: SocketAddress?
    /// The thread whose hub the socket's waits use: every operation checks it (a foreign one
    /// traps before it changes anything).
    private let affinity = ThreadAffinity()

    /// A new, unconnected socket.
    ///
    /// - Throws: ``SocketError/systemCall(_:_:address:)`` when `socket(2)` fails (EMFILE…).
    public init(_ family: Family, _ kind: Kind = .stream) throws(SocketError) {
        let fd = Glibc.socket(family.rawValue, kind.rawValue | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .systemCall("socket", Errno(rawValue: errno), address: nil) }
        fileDescriptor = fd
    }

    /// Adopts a connected, non-blocking descriptor (from `accept4`).
    private init(adopting fd: CInt, peer: SocketAddress, timeout: Duration?) {
        fileDescriptor = fd
        self.peer = peer
        self.timeout = timeout
    }

    deinit { close() }

    /// Connects to `address`, waiting at most `timeout` (else the socket's ``timeout``).
    public static func connect(to address: SocketAddress, timeout: Duration? = nil) throws -> Socket {
        let family: Family = address.family == AF_INET ? .ipv4 : address.family == AF_INET6 ? .ipv6 : .unix
        let socket = try Socket(family)
        try socket.connect(to: address, timeout: timeout)
        return socket
    }

    /// Connects to `address`, waiting at most `timeout` (else the socket's ``timeout``).
    ///
    /// - Throws: ``SocketError/timedOut(_:after:address:)``; ``SocketError/systemCall(_:_:address:)``
    ///   (ECONNREFUSED…).
    public func connect(to address: SocketAddress, timeout: Duration? = nil) throws {
        let fd = try openDescriptor("connect")
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 {
            guard errno == EINPROGRESS || errno == EAGAIN else {
                throw SocketError.systemCall("connect", Errno(rawValue: errno), address: address)
            }
            let limit = timeout ?? self.timeout
            guard try waitWritable(fd, timeout: limit) else {
                throw SocketError.timedOut("connect", after: limit ?? .zero, address: address)
            }
            var failure: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            guard failure == 0 else {
                throw SocketError.systemCall("connect", Errno(rawValue: failure), address: address)
            }
        }
        peer = address
    }

    /// Binds to `address` (port 0: any free port; see ``localAddress``).
    public func bind(to address: SocketAddress) throws {
        let fd = try openDescriptor("bind")
        guard address.withSockaddr({ Glibc.bind(fd, $0, $1) }) == 0 else {
            throw SocketError.systemCall("bind", Errno(rawValue: errno), address: address)
        }
    }

    /// Starts accepting connections, with at most `backlog` waiting.
    public func listen(backlog: CInt = 1024) throws {
        let fd = try openDescriptor("listen")
        guard Glibc.listen(fd, backlog) == 0 else {
            throw SocketError.systemCall("listen", Errno(rawValue: errno), address: localAddress)
        }
    }

    /// Waits for a connection and returns it (non-blocking, close-on-exec, with this socket's
    /// timeout).
    public func accept() throws -> Socket {
        try exclusively(.reading, "accept") { fd in
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = try io("accept", fd, readable: true) {
                length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                return Int(withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { greenloop_accept(fd, $0, &length) }
                })
            }
            return Socket(adopting: CInt(client), peer: SocketAddress(storage: storage, length: length), timeout: timeout)
        }
    }

    /// Reads what is available, at most `maxBytes` (not negative: that traps), waiting for at
    /// least one byte.
    ///
    /// - Returns: the bytes; empty at end of stream.
    public func read(maxBytes: Int = 65536) throws -> [UInt8] {
        require(maxBytes >= 0, "read(maxBytes:) needs a count of at least 0, not \(maxBytes)")
        let fd = fileDescriptor
        guard fd >= 0 && buffered.isEmpty && maxBytes <= ReceiveScratch.size else {
            return try readSlowly(maxBytes: maxBytes)
        }
        return try readThroughScratch(fd, maxBytes: maxBytes)
    }

    /// ``read(maxBytes:)`` from the bytes read ahead, or of more than the hub's scratch buffer
    /// holds, or on a closed socket.
    @inline(never)
    private func readSlowly(maxBytes: Int) throws -> [UInt8] {
        guard buffered.isEmpty else {
            let count = min(maxBytes, buffered.count)
            defer { buffered.removeFirst(count) }
            return Array(buffered.prefix(count))
        }
        return try exclusivelyRead(maxBytes: maxBytes)
    }

    /// Reads what is available into `buffer`, at most `buffer.count` bytes, waiting for at least
    /// one: the read for a buffer that is reused from read to read, which allocates nothing
    /// (swift-system's `FileDescriptor.read(into:)`; gevent's `recv_into`).
    ///
    /// - Returns: how many bytes were read; 0 at end of stream, or for an empty buffer.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffered.isEmpty && !buffer.isEmpty else { return try readBuffered(into: buffer) }
        return try exclusivelyRead(into: buffer)
    }

    /// ``read(into:)`` from the bytes read ahead, or into an empty buffer. Out of line: the
    /// common path reads from the socket.
    @inline(never)
    private func readBuffered(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if buffered.isEmpty {
            _ = try openDescriptor("read")
            return 0
        }
        let count = min(buffer.count, buffered.count)
        buffered.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
        buffered.removeFirst(count)
        return count
    }

    /// Reads exactly `count` bytes.
    ///
    /// - Throws: ``SocketError/unexpectedEndOfStream(expected:received:)`` when the stream ends
    ///   first (the bytes read so far are kept for the next read).
    public func readExactly(_ count: Int) throws -> [UInt8] {
        while buffered.count < count {
            let more = try exclusivelyRead()
            if more.isEmpty { throw SocketError.unexpectedEndOfStream(expected: count, received: buffered.count) }
            buffered += more
        }
        defer { buffered.removeFirst(count) }
        return Array(buffered.prefix(count))
    }

    /// Reads up to and including `delimiter` (a line, say), at most `maxBytes`.
    ///
    /// - Returns: the bytes with the delimiter; what is left at end of stream (possibly empty),
    ///   without one; or `maxBytes` bytes without one when no delimiter came that soon.
    public func read(until delimiter: [UInt8], maxBytes: Int = 65536) throws -> [UInt8] {
        require(!delimiter.isEmpty, "the delimiter must not be empty")
        var searched = 0
        while true {
            if let end = firstIndex(of: delimiter, from: max(0, searched - delimiter.count + 1)), end + delimiter.count <= maxBytes {
                defer { buffered.removeFirst(end + delimiter.count) }
                return Array(buffered.prefix(end + delimiter.count))
            }
            if buffered.count >= maxBytes {
                defer { buffered.removeFirst(maxBytes) }
                return Array(buffered.prefix(maxBytes))
            }
            searched = buffered.count
            let more = try exclusivelyRead()
            if more.isEmpty {
                defer { buffered.removeAll() }
                return buffered
            }
            buffered += more
        }
    }

    /// Writes some of `bytes`, waiting until at least one can be written.
    ///
    /// - Returns: how many were written.
    @discardableResult
    public func write(_ bytes: [UInt8]) throws -> Int {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes some of `bytes`, waiting until at least one can be written.
    ///
    /// - Returns: how many were written.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        try exclusively(.writing, "write") { fd in try writeSome(bytes, fd) }
    }

    /// Writes all of `bytes`, waiting as often as needed.
    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    /// Writes all of `bytes`, waiting as often as needed.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        let fd = try beginUse(.writing, "write")
        defer { endUse(.writing) }
        var written = 0
        while written < bytes.count {
            written += try writeSome(UnsafeRawBufferPointer(rebasing: bytes[written...]), fd)
        }
    }

    /// Sends one datagram to `address` (UDP, Unix datagram).
    public func send(_ datagram: [UInt8], to address: SocketAddress) throws {
        try exclusively(.writing, "send") { fd in
            _ = try io("send", fd, readable: false, address: address) {
                datagram.withUnsafeBytes { bytes in
                    address.withSockaddr { Glibc.sendto(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL), $0, $1) }
                }
            }
        }
    }

    /// Receives one datagram, at most `maxBytes` of it, and who sent it.
    public func receive(maxBytes: Int = 65536) throws -> (bytes: [UInt8], from: SocketAddress) {
        try exclusively(.reading, "receive") { fd in
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let bytes = try [UInt8](unsafeUninitializedCapacity: maxBytes) { buffer, count in
                count = try io("receive", fd, readable: true) {
                    length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    return withUnsafeMutablePointer(to: &storage) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            Glibc.recvfrom(fd, buffer.baseAddress, maxBytes, 0, $0, &length)
                        }
                    }
                }
            }
            return (bytes, SocketAddress(storage: storage, length: length))
        }
    }

    /// Ends one or both directions; the peer reads end of stream after a `.writing` shutdown.
    public func shutdown(_ direction: Direction) throws {
        let fd = try openDescriptor("shutdown")
        let how: CInt = direction == .reading ? CInt(SHUT_RD) : direction == .writing ? CInt(SHUT_WR) : CInt(SHUT_RDWR)
        guard Glibc.shutdown(fd, how) == 0 else {
            throw SocketError.systemCall("shutdown", Errno(rawValue: errno), address: peer)
        }
    }

    /// Closes the socket now. A greenlet waiting to read or write on it (another greenlet) gets
    /// ``SocketError/closedWhileWaiting(_:)`` from the hub's next iteration. Calling it again does
    /// nothing.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        affinity.require("Socket.close()")
        // Watchers first: a descriptor must not be closed under an active watcher. A waiter with
        // a greenlet in it stays alive until that wait has ended (cancelWait's scheduled call
        // holds it).
        for (readiness, operation) in [(readReadiness, "read"), (writeReadiness, "write")] {
            guard let readiness else { continue }
            readiness._withUnsafeGuaranteedRef { readiness in
                readiness.cancelWait(throwing: SocketError.closedWhileWaiting(operation))
                readiness.close()
            }
            readiness.release()
        }
        readReadiness = nil
        writeReadiness = nil
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { fileDescriptor < 0 }

    /// The address the socket is bound to (the port the kernel chose, after binding to port 0).
    public var localAddress: SocketAddress? {
        guard fileDescriptor >= 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fileDescriptor, $0, &length) }
        }
        return rc == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    // MARK: Options

    /// SO_REUSEADDR: bind to a port that connections in TIME_WAIT still use.
    public func setReuseAddress(_ on: Bool) throws { try setOption(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0, "SO_REUSEADDR") }
    /// SO_REUSEPORT: several sockets (one per thread) bound to one port share its connections.
    public func setReusePort(_ on: Bool) throws { try setOption(SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0, "SO_REUSEPORT") }
    /// TCP_NODELAY: send small writes at once instead of coalescing them (Nagle).
    public func setNoDelay(_ on: Bool) throws { try setOption(CInt(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0, "TCP_NODELAY") }
    /// SO_KEEPALIVE: probe idle connections.
    public func setKeepAlive(_ on: Bool) throws { try setOption(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0, "SO_KEEPALIVE") }
    /// SO_SNDBUF, in bytes (the kernel doubles it).
    public func setSendBufferSize(_ bytes: Int) throws { try setOption(SOL_SOCKET, SO_SNDBUF, CInt(bytes), "SO_SNDBUF") }
    /// SO_RCVBUF, in bytes (the kernel doubles it).
    public func setReceiveBufferSize(_ bytes: Int) throws { try setOption(SOL_SOCKET, SO_RCVBUF, CInt(bytes), "SO_RCVBUF") }
    /// SO_LINGER with a zero timeout: ``close()`` sends a reset instead of a graceful end.
    public func setResetOnClose() throws {
        let fd = try openDescriptor("setsockopt")
        var value = linger(l_onoff: 1, l_linger: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size)) == 0 else {
            throw SocketError.systemCall("setsockopt(SO_LINGER)", Errno(rawValue: errno), address: peer)
        }
    }

    // MARK: Internals

    private func setOption(_ level: CInt, _ name: CInt, _ value: CInt, _ label: String) throws {
        let fd = try openDescriptor("setsockopt")
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
            throw SocketError.systemCall("setsockopt(\(label))", Errno(rawValue: errno), address: peer)
        }
    }

    private func openDescriptor(_ operation: String) throws(SocketError) -> CInt {
        affinity.require("Socket.\(operation)")
        guard fileDescriptor >= 0 else { throw .closed(operation) }
        return fileDescriptor
    }

    /// A direction of use: reading (read, accept, receive) or writing (write, send).
    private enum Use: UInt8 {
        case reading = 1, writing = 2
    }

    /// Runs `body` as the one greenlet using the socket in direction `use`. (A bit mask, not a
    /// key path to a flag: a key path access cost as much as the rest of a small read.)
    private func exclusively<T>(_ use: Use, _ operation: String, _ body: (CInt) throws -> T) throws -> T {
        let fd = try beginUse(use, operation)
        defer { endUse(use) }
        return try body(fd)
    }

    /// Marks the socket as used in direction `use` by the calling greenlet, which must call
    /// ``endUse(_:)`` when done; returns the descriptor. The hot paths (read, write) call these
    /// two instead of ``exclusively(_:_:_:)``, whose closure captured and retained the socket.
    @inline(__always)
    private func beginUse(_ use: Use, _ operation: String) throws -> CInt {
        affinity.require("Socket.\(operation)")
        let fd = fileDescriptor
        guard fd >= 0 && inUse & use.rawValue == 0 else { try refuseUse(use, operation) }
        inUse |= use.rawValue
        return fd
    }

    // The failures of the hot paths throw from functions of their own: building an error where
    // it is thrown keeps room for it in the thrower's frame, on every waiting greenlet's stack.

    @inline(never)
    private func refuseUse(_ use: Use, _ operation: String) throws -> Never {
        _ = try openDescriptor(operation)
        throw SocketError.concurrentUse(operation)
    }

    @inline(never)
    private func fail(_ outcome: CooperativeCallOutcome, _ operation: String, address: SocketAddress?) throws -> Never {
        throw error(of: outcome, operation, address: address)
    }

    @inline(__always)
    private func endUse(_ use: Use) {
        inUse &= ~use.rawValue
    }

    private func exclusivelyRead(maxBytes: Int = 65536) throws -> [UInt8] {
        if maxBytes <= ReceiveScratch.size {
            return try readThroughScratch(try openDescriptor("read"), maxBytes: maxBytes)
        }
        // Uninitialised storage: zero-filling 64 KiB per read was 18% of an echo server's CPU.
        return try [UInt8](unsafeUninitializedCapacity: maxBytes) { buffer, count in
            count = try exclusivelyRead(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// One `recv` of at most `maxBytes` (no more than ``ReceiveScratch/size``) into the hub's
    /// scratch buffer, copied out into an array of the size read.
    @inline(__always)
    private func readThroughScratch(_ fd: CInt, maxBytes: Int) throws -> [UInt8] {
        let scratch = try readiness(fd, readable: true)._withUnsafeGuaranteedRef { $0.receiveBuffer }
        let count = try exclusivelyRead(into: UnsafeMutableRawBufferPointer(start: scratch, count: maxBytes))
        return Array(UnsafeRawBufferPointer(start: scratch, count: count))
    }

    /// One `recv` into `buffer` (not empty) as the socket's one reader, waiting as needed.
    /// Inlined: a frame less on the reading greenlet's stack.
    @inline(__always)
    private func exclusivelyRead(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let fd = try beginUse(.reading, "read")
        defer { endUse(.reading) }
        if receiveBufferDrained {
            // The last read left nothing behind, so a recv now would most likely answer
            // EAGAIN: wait for readiness first, as an event-driven server would, and save
            // that system call (a third of a ping-pong's calls).
            receiveBufferDrained = false
            // Unretained across the wait: a greenlet that closes the socket meanwhile ends the
            // wait first (see ReadinessWaiter, "Lifetime").
            let ready = try readiness(fd, readable: true)._withUnsafeGuaranteedRef { try $0.wait(timeout: timeout) }
            guard ready else { try fail(.timedOut, "read", address: nil) }
        }
        let count = try io("read", fd, readable: true) { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
        receiveBufferDrained = count > 0 && count < buffer.count
        return count
    }

    @inline(__always)
    private func writeSome(_ bytes: UnsafeRawBufferPointer, _ fd: CInt) throws -> Int {
        try io("write", fd, readable: false) { Glibc.send(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL)) }
    }

    /// ``cooperativeCall(_:readable:timeout:wait:_:)`` with this socket's readiness waiters,
    /// timeout and errors.
    @inline(__always)
    private func io(
        _ operation: String, _ fd: CInt, readable: Bool, address: SocketAddress? = nil, _ call: () -> Int
    ) throws -> Int {
        // The caller keeps the socket alive; a closure that captured `self` retained it.
        let unretained = Unmanaged.passUnretained(self)
        let outcome = try cooperativeCall(fd, readable: readable, timeout: timeout, wait: { limit in
            try unretained._withUnsafeGuaranteedRef { socket in
                try socket.readiness(fd, readable: readable)._withUnsafeGuaranteedRef { try $0.wait(timeout: limit) }
            }
        }, call)
        guard case .completed(let result) = outcome else { try fail(outcome, operation, address: address) }
        return result
    }

    /// The error for a failed ``cooperativeCall(_:readable:timeout:wait:_:)``. Out of line, so
    /// that the hot paths keep no room on their stack for an error.
    @inline(never)
    private func error(of outcome: CooperativeCallOutcome, _ operation: String, address: SocketAddress?) -> SocketError {
        switch outcome {
        case .timedOut, .completed:  // never called with .completed
            return .timedOut(operation, after: timeout ?? .zero, address: address ?? peer)
        case .failed(let code):
            return .systemCall(operation, Errno(rawValue: code), address: address ?? peer ?? localAddress)
        }
    }

    /// The waiter for one direction, made on first use; the socket keeps it alive until
    /// ``close()``.
    @inline(__always)
    private func readiness(_ fd: CInt, readable: Bool) throws -> Unmanaged<ReadinessWaiter> {
        if let made = readable ? readReadiness : writeReadiness { return made }
        return try makeReadiness(fd, readable: readable)
    }

    @inline(never)
    private func makeReadiness(_ fd: CInt, readable: Bool) throws -> Unmanaged<ReadinessWaiter> {
        let made = Unmanaged.passRetained(try ReadinessWaiter(fd: fd, readable ? .read : .write))
        if readable { readReadiness = made } else { writeReadiness = made }
        return made
    }

    private func firstIndex(of delimiter: [UInt8], from start: Int) -> Int? {
        guard buffered.count >= delimiter.count else { return nil }
        var index = start
        while index + delimiter.count <= buffered.count {
            if buffered[index] == delimiter[0] && buffered[index..<index + delimiter.count].elementsEqual(delimiter) {
                return index
            }
            index += 1
        }
        return nil
    }
}
