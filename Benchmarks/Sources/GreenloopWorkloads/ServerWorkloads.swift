import CBaselines
import Greenloop

#if canImport(Glibc)
import Glibc
#endif

/// The greenlet echo server: a StreamServer on the calling thread's hub, a greenlet per
/// connection that reads into a buffer of its own and writes it back, as the C servers do with
/// theirs (`read()`, which returns a new array each time, adds an allocation and a copy per
/// round trip). Runs until the process is killed.
func serveEcho(port: UInt16, reusePort: Bool = false) throws {
    let server = try StreamServer(
        listeningOn: SocketAddress(ipv4: "127.0.0.1", port: port), reusePort: reusePort
    ) { client in
        try client.setNoDelay(true)
        // The load generator resets its connections when it ends: that ends a handler quietly.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while case let count = try client.read(into: buffer), count > 0 {
                try client.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        } catch is SocketError {}
    }
    try server.serveForever()
}

/// One hub per thread, each with its own StreamServer on the same port (SO_REUSEPORT).
func serveEchoOnThreads(port: UInt16, threads: Int) throws {
    var workers: [pthread_t] = []
    for _ in 0..<threads {
        var thread = pthread_t()
        let made = pthread_create(&thread, nil, { argument in
            let port = UInt16(Int(bitPattern: argument))
            do { try serveEcho(port: port, reusePort: true) } catch { print("echo thread: \(error)") }
            return nil
        }, UnsafeMutableRawPointer(bitPattern: Int(port)))
        guard made == 0 else { throw LoopError.systemCallFailed("pthread_create", .init(rawValue: made)) }
        workers.append(thread)
    }
    for worker in workers { pthread_join(worker, nil) }
}

/// The evhttp server on a SharedEventBase of the hub's loop (through the adapter on libev).
func serveHTTPThroughAdapter(port: Int) throws {
    let hub = try Hub.current()
    let shared = try SharedEventBase(loop: hub.loop as! EventLoop)
    guard greenloop_bench_http_start(shared.base, CInt(port)) == 0 else {
        throw LoopError.systemCallFailed("evhttp_bind_socket", .init(rawValue: errno))
    }
    try Event().wait()
}
