import Greenloop
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A free TCP port on 127.0.0.1, for a server the test starts in another process.
func freeLoopbackPort() throws -> UInt16 {
    let probe = try Socket(.ipv4)
    defer { probe.close() }
    try probe.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
    return probe.localAddress?.port ?? 0
}

/// Connects until the server answers, at most `timeout`.
func connectWhenListening(port: UInt16, timeout: Duration = .seconds(10)) throws -> Socket {
    let address = try SocketAddress(ipv4: "127.0.0.1", port: port)
    return try withTimeout(timeout) {
        while true {
            if let socket = try? Socket.connect(to: address, timeout: .seconds(1)) { return socket }
            try sleep(.milliseconds(20))
        }
    }
}

/// A `redis-server` on loopback, started for one test and stopped with it.
final class RedisServerProcess {
    let port: UInt16
    private var process: Subprocess?

    init(port: UInt16? = nil) throws {
        self.port = try port ?? freeLoopbackPort()
        try start()
    }

    deinit { try? stop() }

    func start() throws {
        process = try Subprocess(
            ["redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--loglevel", "warning"],
            pipeInput: false, pipeOutput: false, pipeError: false)
        try connectWhenListening(port: port).close()
    }

    func stop() throws {
        guard let process else { return }
        self.process = nil
        try process.send(.terminate)
        _ = try process.wait(timeout: .seconds(10))
    }
}

/// One HTTP/1.1 GET with `Connection: close`; returns the status line and the body.
func httpGet(port: UInt16, path: String) throws -> (status: String, body: String) {
    let socket = try Socket.connect(to: SocketAddress(ipv4: "127.0.0.1", port: port), timeout: .seconds(10))
    defer { socket.close() }
    socket.timeout = .seconds(20)
    try socket.writeAll(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
    var response: [UInt8] = []
    while case let chunk = try socket.read(), !chunk.isEmpty { response += chunk }
    let separator = Array("\r\n\r\n".utf8)
    guard let end = (0...max(0, response.count - separator.count)).first(where: {
        response[$0..<min(response.count, $0 + separator.count)].elementsEqual(separator)
    }) else { return (String(decoding: response, as: UTF8.self), "") }
    let statusLine = response.prefix { $0 != UInt8(ascii: "\r") }
    return (String(decoding: statusLine, as: UTF8.self), String(decoding: response[(end + separator.count)...], as: UTF8.self))
}
