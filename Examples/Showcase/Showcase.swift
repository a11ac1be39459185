import ArgumentParser
import CLibevent
import Greenloop
import LibeventServices

#if canImport(Glibc)
import Glibc
#endif

/// One process, one thread, one loop (the backend GREENLOOP_BACKEND names): a greenlet echo
/// server, libevent's evhttp, a bufferevent line server written in plain C, hiredis through its
/// libevent adapter and evdns, all served by that loop at once, each exercised by its own
/// greenlet clients for a few seconds; then a summary.
@main
struct Showcase: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "greenloop-showcase",
        abstract: "Greenlets and existing libevent C code on one loop, in one thread.")

    @Option(help: "How long the clients run.")
    var seconds: Double = 3

    @Option(help: "Clients per service.")
    var clients: Int = 20

    mutating func run() throws {
        let hub = try Hub.current()
        let loop = hub.loop as! EventLoop
        let shared = try SharedEventBase(loop: loop)
        defer { try? shared.close() }
        print("backend: \(loop.backend) (\(loop.method)); shared event_base: \(shared.mechanism), "
              + "libevent method \(String(cString: event_base_get_method(shared.base)))")

        // The servers: one in Swift on greenlets, three in C on the shared base.
        let echo = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
            while case let bytes = try client.read(), !bytes.isEmpty { try client.writeAll(bytes) }
        }
        try echo.start()
        guard let http = HTTPServer(base: shared.base), let lines = LineServer(base: shared.base) else {
            throw ValidationError("libevent could not listen on 127.0.0.1")
        }
        let names = try LoopbackDNSResponder(answers: ["service.greenloop.test": [10, 1, 2, 3]])
        let dnsServer = try spawn { try names.serve() }
        let redisServer = try RedisServerProcess()
        let redis = try RedisConnection(base: shared.base, port: Int(redisServer.port))
        guard let dns = evdns_base_new(shared.base, 0) else { throw ValidationError("evdns_base_new failed") }
        evdns_base_nameserver_ip_add(dns, "127.0.0.1:\(names.port)")
        print("echo :\(echo.address.port ?? 0)  evhttp :\(http.port)  line :\(lines.port)  "
              + "redis :\(redisServer.port)  dns :\(names.port)")

        // The clients, all greenlets on the same loop, until the deadline.
        let deadline = ContinuousClock.now + .seconds(seconds)
        var counts = ["echo round trips": 0, "HTTP requests": 0, "line round trips": 0, "Redis INCRs": 0,
                      "DNS lookups": 0]
        func client(_ name: String, _ setUp: () throws -> (() throws -> Void)) throws -> SpawnedGreenlet<Void> {
            let step = try setUp()
            return try spawn {
                while ContinuousClock.now < deadline {
                    try step()
                    counts[name, default: 0] += 1
                }
            }
        }
        var workers: [SpawnedGreenlet<Void>] = []
        for index in 0..<clients {
            workers.append(try client("echo round trips") {
                let socket = try Socket.connect(to: echo.address, timeout: .seconds(5))
                let message = Array("echo \(index)\n".utf8)
                return {
                    try socket.writeAll(message)
                    guard try socket.readExactly(message.count) == message else { throw ValidationError("echo mismatch") }
                }
            })
            workers.append(try client("HTTP requests") {
                return {
                    let (status, body) = try httpGet(port: UInt16(http.port), path: "/hello")
                    guard status.hasSuffix("200 OK"), body == "hello from evhttp\n" else {
                        throw ValidationError("evhttp answered \(status)")
                    }
                }
            })
            workers.append(try client("line round trips") {
                let socket = try Socket.connect(to: SocketAddress(ipv4: "127.0.0.1", port: UInt16(lines.port)))
                return {
                    try socket.writeAll(Array("hello \(index)\n".utf8))
                    _ = try socket.read(until: [UInt8(ascii: "\n")])
                }
            })
            workers.append(try client("Redis INCRs") {
                return { _ = try redis.command("INCR", "showcase:\(index)") }
            })
            workers.append(try client("DNS lookups") {
                return {
                    guard try resolveIPv4(dns, "service.greenloop.test") == ["10.1.2.3"] else {
                        throw ValidationError("evdns answered wrongly")
                    }
                }
            })
        }
        var failures = 0
        for worker in workers {
            do { try worker.value() } catch {
                failures += 1
                print("client failed: \(error)")
            }
        }

        print("in \(seconds) s, on one thread:")
        for (name, count) in counts.sorted(by: { $0.key < $1.key }) {
            let rate = Int(Double(count) / seconds)
            print("  \(name.padding(18)) \(String(count).leftPadding(8))  (\(rate)/s)")
        }
        print("  evhttp counted \(http.requestsServed) requests, the C line server \(lines.linesAnswered) lines; "
              + "failures: \(failures)")

        evdns_base_free(dns, 1)
        redis.close()
        try dnsServer.kill()
        _ = try echo.stop()
        try redisServer.stop()
        if failures > 0 { throw ExitCode.failure }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    fileprivate func leftPadding(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
