import CLibevent
import Greenloop
import GreenloopTestSupport
import LibeventAdapter
import LibeventServices
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real C libraries on the shared event_base, beside greenlets on the same loop and thread.
@Suite("C libraries on the shared loop", .timeLimit(.minutes(2)))
struct CLibrariesTests {
    @Test("evhttp serves curl while a greenlet echo server serves its clients", arguments: allBackends)
    func evhttpBesideGreenlets(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let http = try #require(HTTPServer(base: shared.base))
            let echo = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                while case let bytes = try client.read(), !bytes.isEmpty { try client.writeAll(bytes) }
            }
            try echo.start()
            defer { _ = try? echo.stop() }
            let echoClients = try (0..<10).map { index in
                try spawn { () -> Int in
                    let socket = try Socket.connect(to: echo.address, timeout: .seconds(5))
                    defer { socket.close() }
                    var roundTrips = 0
                    for _ in 0..<100 {
                        let message = Array("client \(index)\n".utf8)
                        try socket.writeAll(message)
                        guard try socket.readExactly(message.count) == message else { break }
                        roundTrips += 1
                    }
                    return roundTrips
                }
            }
            let curls = try (0..<5).map { _ in
                try spawn {
                    try Subprocess.run(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:\(http.port)/hello"],
                                       timeout: .seconds(20))
                }
            }
            for curl in curls {
                let result = try curl.value()
                #expect(result.status == .exited(code: 0), "curl: \(String(decoding: result.error, as: UTF8.self))")
                #expect(String(decoding: result.output, as: UTF8.self) == "hello from evhttp\n")
            }
            for client in echoClients { #expect(try client.value() == 100) }
            #expect(http.requestsServed == 5)
        }
    }

    @Test("1,000 concurrent connections to evhttp while greenlets run", arguments: allBackends)
    func thousandConnections(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let http = try #require(HTTPServer(base: shared.base))
            var ticks = 0
            var done = false
            let ticker = try spawn {
                while !done {
                    ticks += 1
                    try sleep(.milliseconds(1))
                }
            }
            let clients = try (0..<1000).map { _ in try spawn { try httpGet(port: UInt16(http.port), path: "/hello") } }
            for client in clients {
                let (status, body) = try client.value()
                #expect(status == "HTTP/1.1 200 OK")
                #expect(body == "hello from evhttp\n")
            }
            done = true
            try ticker.join()
            #expect(http.requestsServed == 1000)
            #expect(ticks > 5, "the ticking greenlet ran while evhttp served")
        }
    }

    @Test("the C line server (bufferevents) answers greenlet clients", arguments: allBackends)
    func lineServer(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let server = try #require(LineServer(base: shared.base))
            let clients = try (0..<20).map { index in
                try spawn { () -> [String] in
                    let socket = try Socket.connect(to: SocketAddress(ipv4: "127.0.0.1", port: UInt16(server.port)))
                    defer { socket.close() }
                    socket.timeout = .seconds(10)
                    var answers: [String] = []
                    for line in 1...3 {
                        try socket.writeAll(Array("c\(index) l\(line)\n".utf8))
                        let answer = try socket.read(until: [UInt8(ascii: "\n")])
                        answers.append(String(decoding: answer, as: UTF8.self))
                    }
                    return answers
                }
            }
            for (index, client) in clients.enumerated() {
                #expect(try client.value() == (1...3).map { "\($0) c\(index) l\($0)\n" })
            }
            #expect(server.linesAnswered == 60)
            try withTimeout(.seconds(5)) {
                while server.openConnections > 0 { try sleep(.milliseconds(1)) }
            }
        }
    }

    @Test("evdns resolves through the shared base against a greenlet DNS server", arguments: allBackends)
    func evdnsResolves(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let responder = try LoopbackDNSResponder(answers: ["service.greenloop.test": [10, 1, 2, 3]])
            let serving = try spawn { try responder.serve() }
            defer { try? serving.kill() }
            let dns = try #require(evdns_base_new(shared.base, 0))
            defer { evdns_base_free(dns, 1) }
            #expect(evdns_base_nameserver_ip_add(dns, "127.0.0.1:\(responder.port)") == 0)
            #expect(try resolveIPv4(dns, "service.greenloop.test") == ["10.1.2.3"])
            #expect(throws: DNSLookupError.self) { try resolveIPv4(dns, "missing.greenloop.test") }
        }
    }

    @Test("hiredis: SET, GET and pipelines; a restart is a clear error, then a new connection works",
          arguments: allBackends)
    func hiredis(backend: Backend) throws {
        try withSharedBase(backend) { hub, shared in
            let server = try RedisServerProcess()
            var ticks = 0
            let ticker = try spawn {
                while true {
                    ticks += 1
                    try sleep(.milliseconds(1))
                }
            }
            defer { try? ticker.kill() }
            let redis = try RedisConnection(base: shared.base, port: Int(server.port))
            #expect(try redis.command("SET", "greeting", "hello") == .string("OK"))
            #expect(try redis.command("GET", "greeting") == .string("hello"))
            #expect(try redis.command("GET", "missing") == .null)
            #expect(throws: RedisError.self) { try redis.command("INCR", "greeting") }
            let replies = try redis.pipeline((0..<100).map { _ in ["INCR", "counter"] })
            #expect(replies == (1...100).map { .integer(Int64($0)) })
            #expect(ticks > 0, "greenlets ran between the replies")

            try server.stop()
            #expect(throws: RedisError.self) { try redis.command("GET", "greeting") }
            #expect(!redis.isOpen)
            try server.start()
            let again = try RedisConnection(base: shared.base, port: Int(server.port))
            #expect(try again.command("PING") == .string("PONG"))
            again.close()
            try withTimeout(.seconds(5)) { while again.isOpen { try sleep(.milliseconds(1)) } }
        }
    }
}
