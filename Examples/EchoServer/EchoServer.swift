// greenloop-echo: a TCP echo server where every connection is a plain sequential function.
//
//     greenloop-echo --port 8007                 # one hub; Ctrl-C stops it gracefully
//     greenloop-echo --port 8007 --threads 2     # one hub per thread, sharing the port (SO_REUSEPORT)
//     greenloop-echo --demo                      # serves its own concurrent clients, then reports
//
// GREENLOOP_BACKEND chooses the loop's backend, as everywhere.

import ArgumentParser
import Greenloop
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

@main
struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "greenloop-echo",
        abstract: "A TCP echo server with a greenlet per connection.")

    @Option(help: "The address to listen on (numeric IPv4 or IPv6).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port: UInt16 = 8007

    @Option(help: "Threads, each with its own hub and server on the shared port.")
    var threads = 1

    @Option(help: "The most connections served at once per thread (0: no limit); more wait in the backlog.")
    var pool = 0

    @Flag(help: "Serve concurrent clients of our own for a few seconds, then report and exit.")
    var demo = false

    @Option(help: "With --demo: concurrent clients.")
    var clients = 100

    @Option(help: "With --demo: seconds of traffic.")
    var seconds = 3

    mutating func run() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be 1 or more") }
        guard pool >= 0 else { throw ValidationError("--pool must be 0 (no limit) or more") }
        if demo {
            try runDemo()
        } else {
            try serve()
        }
    }

    /// Serves until SIGINT or SIGTERM; then every thread stops accepting and lets its handlers
    /// finish (one second at most), and only then does the process exit: `serveForever` returns
    /// once its server's stop has finished, and the main thread joins the others.
    func serve() throws {
        let address = try SocketAddress(host: host, port: port)
        // How the main thread stops the others: through each hub's remote, the one way into a
        // hub from another thread.
        let stoppers = Mutex<[@Sendable () -> Void]>([])
        let ready = Atomic<Int>(0)
        let workers = (1..<threads).map { index in
            Thread.start {
                do {
                    let server = try StreamServer(
                        listeningOn: address, reusePort: true, pool: pool > 0 ? Pool(size: pool) : nil, handler: echo)
                    let remote = try Hub.current().remote
                    let bound = HubBound(server)
                    stoppers.withLock { $0.append { try? remote.spawn { try bound.value.stop() } } }
                    ready.add(1, ordering: .sequentiallyConsistent)
                    try server.serveForever()
                    try Hub.current().destroy()
                } catch is GreenletExit {
                } catch {
                    print("thread \(index): \(error)")
                }
            }
        }
        let server = try StreamServer(
            listeningOn: address, reusePort: threads > 1, pool: pool > 0 ? Pool(size: pool) : nil, handler: echo)
        while ready.load(ordering: .sequentiallyConsistent) < threads - 1 { try sleep(.milliseconds(1)) }
        print("greenloop-echo on \(server.address), \(threads) thread(s), backend \(try Hub.current().loop.backend)")
        fflush(nil)  // now, for a program that reads the address from a pipe
        let shutdown = { (name: String) in
            print("\(name): stopping gracefully")
            stoppers.withLock { $0.forEach { $0() } }
            try server.stop()
        }
        let interrupt = try SignalHandler(.interrupt) { try shutdown("SIGINT") }
        let terminate = try SignalHandler(.terminate) { try shutdown("SIGTERM") }
        do {
            try server.serveForever()
        } catch is GreenletExit {}
        try interrupt.cancel()
        try terminate.cancel()
        workers.forEach { $0.join() }
        print("served \(server.acceptedCount) connection(s) on this thread; bye")
    }

    /// One process, one loop: the server and `clients` client greenlets exchanging 64-byte
    /// messages for `seconds` seconds.
    func runDemo() throws {
        let hub = try Hub.current()
        let server = try StreamServer(listeningOn: SocketAddress(host: host, port: 0), handler: echo)
        try server.start()
        print("echo server on \(server.address), backend \(hub.loop.backend) (\(hub.loop.method))")
        print("\(clients) client greenlets, 64-byte ping-pong for \(seconds) s …")
        var roundTrips = 0
        var latencies: [UInt64] = []
        var stop = false
        let message = [UInt8](repeating: 0x2a, count: 64)
        let group = Group()
        for _ in 0..<clients {
            try group.spawn {
                let socket = try Socket.connect(to: server.address, timeout: .seconds(5))
                try socket.setNoDelay(true)
                socket.timeout = .seconds(5)
                while !stop {
                    let start = LoopInstant.monotonicNow()
                    try socket.writeAll(message)
                    guard try socket.readExactly(message.count) == message else {
                        throw SocketError.invalidAddress("echo mismatch")
                    }
                    latencies.append(LoopInstant.monotonicNow().nanoseconds - start.nanoseconds)
                    roundTrips += 1
                }
            }
        }
        try sleep(.seconds(Int64(seconds)))
        stop = true
        try group.join(timeout: .seconds(5))
        let finished = try server.stop(timeout: .seconds(1))
        latencies.sort()
        let percentile = { (p: Double) -> String in
            guard !latencies.isEmpty else { return "-" }
            let ns = latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
            return String(Double(ns / 100) / 10) + " µs"
        }
        print("connections accepted: \(server.acceptedCount)")
        print("round trips:          \(roundTrips) (\(roundTrips / max(seconds, 1)) per second, client and server on one thread)")
        print("latency p50 / p99:    \(percentile(0.5)) / \(percentile(0.99))")
        print("graceful stop:        \(finished ? "every handler finished" : "some handlers were killed")")
        try hub.destroy()
    }
}

/// The whole protocol: what comes in goes back out, until the client ends its side.
///
/// A client that resets the connection, or goes before reading its echo, has only left: that is
/// no error to report (a server under churn would log one per connection).
func echo(_ client: Socket) throws {
    do {
        try client.setNoDelay(true)
        while true {
            let bytes = try client.read()
            if bytes.isEmpty { return }
            try client.writeAll(bytes)
        }
    } catch SocketError.systemCall(_, let errno, _) where errno == .connectionReset || errno == .brokenPipe {
        return
    }
}

/// A joinable thread running a closure.
final class Thread: @unchecked Sendable {
    // @unchecked: `thread` is written once, before anything reads it, by the creating thread.
    private var thread = pthread_t()

    static func start(_ body: @escaping @Sendable () -> Void) -> Thread {
        final class Box: @unchecked Sendable {
            // @unchecked: handed once to the new thread.
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let handle = Thread()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&handle.thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        return handle
    }

    func join() { pthread_join(thread, nil) }
}
