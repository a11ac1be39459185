import Greenlets
import GreenloopCore
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An echo handler: what comes in goes back out, until the client ends its side.
private func echo(_ client: Socket) throws {
    while true {
        let bytes = try client.read()
        if bytes.isEmpty { return }
        try client.writeAll(bytes)
    }
}

/// A payload whose bytes depend on the client and position, so that mixed-up streams show.
private func payload(client: Int, size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ client) }
}

@Suite("sockets and StreamServer", .timeLimit(.minutes(1)))
struct SocketTests {
    @Test("echo: 1,000 concurrent clients, byte-exact, small and large writes, half-close", arguments: allBackends)
    func echoManyClients(backend: Backend) throws {
        try withHub(backend) { hub in
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0), handler: echo)
            try server.start()
            var mismatches = 0
            let clients = try (0..<1_000).map { index in
                try spawn {
                    let socket = try Socket.connect(to: server.address, timeout: .seconds(10))
                    socket.timeout = .seconds(20)
                    let size = index % 100 == 0 ? 256 * 1024 : 1 + index % 700
                    let sent = payload(client: index, size: size)
                    // The reader runs beside the writer, so that large echoes cannot deadlock.
                    let reader = try spawn { () throws -> [UInt8] in
                        var received: [UInt8] = []
                        while true {
                            let bytes = try socket.read()
                            if bytes.isEmpty { return received }
                            received += bytes
                        }
                    }
                    try socket.writeAll(sent)
                    try socket.shutdown(.writing)  // half-close: the server sees end of stream
                    if try reader.value() != sent { mismatches += 1 }
                }
            }
            #expect(try joinAll(clients, timeout: .seconds(50)))
            #expect(clients.allSatisfy { (try? $0.value()) != nil })
            #expect(mismatches == 0)
            #expect(server.acceptedCount == 1_000)
            #expect(try server.stop(timeout: .seconds(5)))
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("readExactly and read(until:) over a stream that arrives in pieces", arguments: allBackends)
    func framing(backend: Backend) throws {
        try withHub(backend) { _ in
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                for piece in ["HEL", "LO\nwor", "ld\n", "1234"] {
                    try client.writeAll(Array(piece.utf8))
                    try sleep(.milliseconds(2))
                }
            }
            try server.start()
            let socket = try Socket.connect(to: server.address)
            socket.timeout = .seconds(5)
            #expect(try socket.read(until: Array("\n".utf8)) == Array("HELLO\n".utf8))
            #expect(try socket.read(until: Array("\n".utf8)) == Array("world\n".utf8))
            #expect(try socket.readExactly(2) == Array("12".utf8))
            #expect(throws: SocketError.unexpectedEndOfStream(expected: 5, received: 2)) { try socket.readExactly(5) }
            try server.stop()
        }
    }

    @Test("read(into:) and raw writes: a reused buffer, read-ahead bytes first, end of stream as 0",
          arguments: allBackends)
    func readIntoBuffer(backend: Backend) throws {
        try withHub(backend) { hub in
            // An echo through the raw calls, with a buffer smaller than what comes in.
            let echoServer = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1000, alignment: 1)
                defer { buffer.deallocate() }
                while case let count = try client.read(into: buffer), count > 0 {
                    try client.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                }
            }
            try echoServer.start()
            let socket = try Socket.connect(to: echoServer.address, timeout: .seconds(5))
            socket.timeout = .seconds(10)
            let sent = payload(client: 7, size: 300 * 1024)
            let reader = try spawn { () throws -> [UInt8] in
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                    if count == 0 { return received }
                    received += buffer[..<count]
                }
            }
            try sleep(.zero)  // the reader waits in read(into:): a second reader is refused
            var spare = [UInt8](repeating: 0, count: 8)
            #expect(throws: SocketError.concurrentUse("read")) {
                try spare.withUnsafeMutableBytes { _ = try socket.read(into: $0) }
            }
            var written = 0
            try sent.withUnsafeBytes { bytes in
                written += try socket.write(UnsafeRawBufferPointer(rebasing: bytes[..<10]))
                try socket.writeAll(UnsafeRawBufferPointer(rebasing: bytes[written...]))
            }
            try socket.shutdown(.writing)
            #expect(written == 10)
            #expect(try reader.value() == sent)
            #expect(try echoServer.stop(timeout: .seconds(5)))

            // Bytes that read(until:) read ahead come first, then the socket, then 0 at the end.
            let pieces = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                for piece in ["HEL", "LO\nworld", "!!"] {
                    try client.writeAll(Array(piece.utf8))
                    try sleep(.milliseconds(2))
                }
            }
            try pieces.start()
            let framed = try Socket.connect(to: pieces.address, timeout: .seconds(5))
            framed.timeout = .seconds(5)
            #expect(try framed.read(until: Array("\n".utf8)) == Array("HELLO\n".utf8))
            var small = [UInt8](repeating: 0, count: 3)
            var large = [UInt8](repeating: 0, count: 64)
            #expect(try small.withUnsafeMutableBytes { try framed.read(into: $0) } == 3)
            #expect(small == Array("wor".utf8))
            #expect(try large.withUnsafeMutableBytes { try framed.read(into: $0) } == 2)
            #expect(large[..<2] == ArraySlice("ld".utf8))
            var empty: [UInt8] = []
            #expect(try empty.withUnsafeMutableBytes { try framed.read(into: $0) } == 0)
            #expect(try large.withUnsafeMutableBytes { try framed.read(into: $0) } == 2)
            #expect(large[..<2] == ArraySlice("!!".utf8))
            #expect(try large.withUnsafeMutableBytes { try framed.read(into: $0) } == 0)
            framed.close()
            #expect(throws: SocketError.closed("read")) {
                try large.withUnsafeMutableBytes { _ = try framed.read(into: $0) }
            }
            try pieces.stop()
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("a negative count to read(maxBytes:) stops the process instead of reaching recv")
    func negativeReadCount() async {
        await #expect(processExitsWith: .failure) {
            let socket = try Socket(.ipv4)
            _ = try socket.read(maxBytes: -1)
        }
    }

    @Test("connect times out when the peer never answers, naming the address", arguments: allBackends)
    func connectTimeout(backend: Backend) throws {
        try withHub(backend) { hub in
            // A listener that never accepts, with room for one queued connection: once that is
            // taken, the kernel drops further SYNs, so the next connect never completes.
            let listener = try Socket(.ipv4)
            try listener.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
            try listener.listen(backlog: 0)
            let address = try #require(listener.localAddress)
            let filler = try Socket.connect(to: address, timeout: .seconds(5))
            #expect(throws: SocketError.timedOut("connect", after: .milliseconds(50), address: address)) {
                _ = try Socket.connect(to: address, timeout: .milliseconds(50))
            }
            #expect(hub.loop.activeWatcherCount == 0)
            filler.close()
        }
    }

    @Test("a read times out with the socket's timeout, naming the peer", arguments: allBackends)
    func readTimeout(backend: Backend) throws {
        try withHub(backend) { _ in
            let silent = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { _ in
                try sleep(.seconds(30))
            }
            try silent.start()
            let socket = try Socket.connect(to: silent.address)
            socket.timeout = .milliseconds(20)
            #expect(throws: SocketError.timedOut("read", after: .milliseconds(20), address: silent.address)) {
                try socket.read()
            }
            #expect(try silent.stop(timeout: .milliseconds(10)) == false)  // the handler had to be killed
        }
    }

    @Test("a socket's timeout counts from each wait: every read pushes it back, a shorter one takes over at once",
          arguments: allBackends)
    func timeoutPerWait(backend: Backend) throws {
        try withHub(backend) { _ in
            let ticker = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                for _ in 0..<10 {
                    try client.writeAll([1])
                    try sleep(.milliseconds(15))
                }
                // Silent until the client asks for one more byte, then silent again.
                _ = try client.read(maxBytes: 1)
                try client.writeAll([2])
                try sleep(.seconds(30))
            }
            try ticker.start()
            let socket = try Socket.connect(to: ticker.address, timeout: .seconds(5))
            defer { socket.close() }
            // Ten reads in about 150 ms, each within 60 ms: no timeout, though the first wait began
            // long before the last one ended.
            socket.timeout = .milliseconds(60)
            for _ in 0..<10 { #expect(try socket.read(maxBytes: 1) == [1]) }
            // Silence: the next read times out 60 ms after it began, not before.
            var started = LoopInstant.monotonicNow()
            #expect(throws: SocketError.timedOut("read", after: .milliseconds(60), address: ticker.address)) {
                try socket.read(maxBytes: 1)
            }
            #expect(started.duration(to: LoopInstant.monotonicNow()) >= .milliseconds(60))
            // A long timeout, then a short one: the short one is not held up by the long one.
            socket.timeout = .seconds(5)
            try socket.writeAll([0])
            #expect(try socket.read(maxBytes: 1) == [2])
            socket.timeout = .milliseconds(30)
            started = LoopInstant.monotonicNow()
            #expect(throws: SocketError.timedOut("read", after: .milliseconds(30), address: ticker.address)) {
                try socket.read(maxBytes: 1)
            }
            let waited = started.duration(to: LoopInstant.monotonicNow())
            #expect(waited >= .milliseconds(30) && waited < .seconds(2))
            #expect(try ticker.stop(timeout: .milliseconds(10)) == false)  // the handler had to be killed
        }
    }

    @Test("a peer that resets mid-stream is a typed error, and writing to it never raises SIGPIPE", arguments: allBackends)
    func peerReset(backend: Backend) throws {
        try withHub(backend) { _ in
            let rude = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                _ = try client.read()
                try client.setResetOnClose()
                client.close()
            }
            try rude.start()
            let socket = try Socket.connect(to: rude.address)
            socket.timeout = .seconds(5)
            try socket.writeAll(Array("hello".utf8))
            #expect {
                // Reading sees the reset; writing after it fails with EPIPE or ECONNRESET.
                _ = try socket.read()
                for _ in 0..<100 { try socket.writeAll([UInt8](repeating: 1, count: 65536)) }
            } throws: { error in
                guard case let SocketError.systemCall(_, errno, address) = error else { return false }
                return (errno == .connectionReset || errno == .brokenPipe) && address == rude.address
            }
            try rude.stop()
        }
    }

    @Test("two greenlets reading one socket at once: the second gets a clear error", arguments: allBackends)
    func concurrentRead(backend: Backend) throws {
        try withHub(backend) { _ in
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { _ in
                try sleep(.seconds(30))
            }
            try server.start()
            let socket = try Socket.connect(to: server.address)
            let first = try spawn { try socket.read() }
            try sleep(.zero)
            #expect(throws: SocketError.concurrentUse("read")) { try socket.read() }
            try first.kill()
            try server.stop(timeout: .zero)
        }
    }

    @Test("closing a socket that other greenlets wait on: each gets a clear error, no watcher is left",
          arguments: allBackends)
    func closeWhileWaiting(backend: Backend) throws {
        try withHub(backend) { hub in
            let listener = try Socket(.ipv4)
            try listener.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
            try listener.listen()
            let socket = try Socket.connect(to: try #require(listener.localAddress), timeout: .seconds(5))
            let peer = try listener.accept()  // never reads, never writes
            let watchersBefore = hub.loop.activeWatcherCount
            let reader = try spawn { try socket.read() }
            // More than loopback buffers hold while the peer reads nothing: the write must wait.
            let writer = try spawn { try socket.writeAll([UInt8](repeating: 7, count: 64 << 20)) }
            // Both run until they wait: nothing else switches before that.
            try sleep(.zero)
            #expect(!reader.isReady && !writer.isReady)
            socket.close()
            #expect(throws: SocketError.closedWhileWaiting("read")) { _ = try reader.value() }
            #expect(throws: SocketError.closedWhileWaiting("write")) { try writer.value() }
            #expect(hub.loop.activeWatcherCount == watchersBefore)
            peer.close()
            listener.close()
        }
    }

    @Test("IPv6 loopback, Unix stream and UDP and Unix datagrams", arguments: allBackends)
    func otherFamilies(backend: Backend) throws {
        try withHub(backend) { _ in
            // IPv6.
            let v6 = try StreamServer(listeningOn: SocketAddress(ipv6: "::1", port: 0), handler: echo)
            try v6.start()
            #expect(v6.address.description.hasPrefix("[::1]:"))
            let v6Client = try Socket.connect(to: v6.address)
            try v6Client.writeAll([1, 2, 3])
            #expect(try v6Client.readExactly(3) == [1, 2, 3])
            try v6.stop()
            // Unix stream.
            let path = "/tmp/greenloop-test-\(getpid())-\(backend.kind).sock"
            unlink(path)
            defer { unlink(path) }
            let unix = try StreamServer(listeningOn: SocketAddress(unixPath: path), handler: echo)
            try unix.start()
            #expect(unix.address.description == "unix:\(path)")
            let unixClient = try Socket.connect(to: unix.address)
            try unixClient.writeAll(Array("unix".utf8))
            #expect(try unixClient.readExactly(4) == Array("unix".utf8))
            try unix.stop()
            // UDP.
            let udpServer = try Socket(.ipv4, .datagram)
            try udpServer.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
            let udpEcho = try spawn {
                let (datagram, sender) = try udpServer.receive()
                try udpServer.send(datagram.reversed(), to: sender)
            }
            let udpClient = try Socket(.ipv4, .datagram)
            try udpClient.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
            try udpClient.send([1, 2, 3], to: udpServer.localAddress!)
            let (reply, from) = try udpClient.receive()
            #expect(reply == [3, 2, 1])
            #expect(from == udpServer.localAddress)
            try udpEcho.join()
            // Unix datagram.
            let datagramPath = path + ".dgram"
            unlink(datagramPath)
            defer { unlink(datagramPath) }
            let receiver = try Socket(.unix, .datagram)
            try receiver.bind(to: SocketAddress(unixPath: datagramPath))
            let sender = try Socket(.unix, .datagram)
            try sender.send(Array("dgram".utf8), to: SocketAddress(unixPath: datagramPath))
            #expect(try receiver.receive().bytes == Array("dgram".utf8))
        }
    }

    @Test("graceful stop: handlers inside the deadline finish, those outside are killed", arguments: allBackends)
    func gracefulStop(backend: Backend) throws {
        try withHub(backend) { hub in
            var finished: [String] = []
            var killed: [String] = []
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                let name = String(decoding: try client.read(), as: UTF8.self)
                do {
                    try sleep(name == "quick" ? .milliseconds(10) : .seconds(30))
                    try client.writeAll(Array("done".utf8))
                    finished.append(name)
                } catch is GreenletExit {
                    killed.append(name)
                    throw GreenletExit()
                }
            }
            try server.start()
            let quick = try Socket.connect(to: server.address)
            let slow = try Socket.connect(to: server.address)
            try quick.writeAll(Array("quick".utf8))
            try slow.writeAll(Array("slow".utf8))
            try sleep(.milliseconds(2))
            #expect(server.activeHandlerCount == 2)
            #expect(try server.stop(timeout: .milliseconds(100)) == false)
            #expect(finished == ["quick"])
            #expect(killed == ["slow"])
            quick.timeout = .seconds(5)
            #expect(try quick.readExactly(4) == Array("done".utf8))
            #expect(throws: SocketError.self) { _ = try Socket.connect(to: server.address, timeout: .seconds(1)) }
            #expect(server.activeHandlerCount == 0)
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }
}
