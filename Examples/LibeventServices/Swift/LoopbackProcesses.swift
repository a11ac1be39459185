import Greenloop

#if canImport(Glibc)
import Glibc
#endif

/// A free TCP port on 127.0.0.1, for a server the test starts in another process.
public func freeLoopbackPort() throws -> UInt16 {
    let probe = try Socket(.ipv4)
    defer { probe.close() }
    try probe.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
    return probe.localAddress?.port ?? 0
}

/// Connects until the server answers, at most `timeout`.
public func connectWhenListening(port: UInt16, timeout: Duration = .seconds(10)) throws -> Socket {
    let address = try SocketAddress(ipv4: "127.0.0.1", port: port)
    return try withTimeout(timeout) {
        while true {
            if let socket = try? Socket.connect(to: address, timeout: .seconds(1)) { return socket }
            try sleep(.milliseconds(20))
        }
    }
}

/// A `redis-server` on loopback, started by the program and stopped with this object.
public final class RedisServerProcess {
    /// Its port on 127.0.0.1.
    public let port: UInt16
    private var process: Subprocess?

    /// Starts one on `port` (a free one by default) and waits until it accepts connections.
    public init(port: UInt16? = nil) throws {
        self.port = try port ?? freeLoopbackPort()
        try start()
    }

    deinit { try? stop() }

    /// Starts it again after ``stop()``, on the same port.
    public func start() throws {
        // Through sh, to send redis-server's own log to /dev/null.
        process = try Subprocess(
            ["sh", "-c", "exec redis-server --port \(port) --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1"],
            pipeInput: false, pipeOutput: false, pipeError: false)
        try connectWhenListening(port: port).close()
    }

    /// Stops it with SIGTERM and waits for it to exit.
    public func stop() throws {
        guard let process else { return }
        self.process = nil
        try process.send(.terminate)
        _ = try process.wait(timeout: .seconds(10))
    }
}
