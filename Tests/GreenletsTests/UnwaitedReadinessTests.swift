import Greenlets
import GreenloopCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Readiness that arrives while no greenlet waits must not cost the next wait its hold on the
/// loop: each test lets the descriptor become ready while its greenlet does something else, takes
/// what was ready without waiting, then waits again with nothing else to keep the loop running.
/// The peer acts from a thread of its own (``RemotePeer``), so the only thing that can keep the
/// loop alive in that last wait is the wait itself; a wait that lost its reference ends in
/// `LoopExit`.
@Suite("waits after readiness that nobody waited for", .timeLimit(.minutes(1)))
struct UnwaitedReadinessTests {
    @Test("Socket.read and accept wait again after data and a connection arrived unwaited", arguments: allBackends)
    func socketReadAndAccept(backend: Backend) throws {
        try withHub(backend) { _ in
            let (listener, port) = try loopbackListener()
            listener.timeout = .seconds(10)
            let peer = RemotePeer()
            defer { peer.finish() }
            let peerSocket = SharedValue(-1)

            // accept: waits for the first connection.
            peer.perform(after: 50) { peerSocket.set(Int(BlockingSocket.connect(port: port))) }
            let connection = try listener.accept()
            connection.timeout = .seconds(10)

            // read: waits for "a".
            peer.perform(after: 50) { BlockingSocket.send(peerSocket.fd, "a") }
            #expect(try connection.read() == Array("a".utf8))

            // "b" and a second connection arrive while this greenlet sleeps.
            let second = SharedValue(-1)
            peer.perform {
                BlockingSocket.send(peerSocket.fd, "b")
                second.set(Int(BlockingSocket.connect(port: port)))
            }
            try sleep(.milliseconds(200))
            #expect(peer.performedCount == 3)
            #expect(try connection.read() == Array("b".utf8))  // ready: no wait
            let secondConnection = try listener.accept()  // ready: no wait

            // Waits again, with nothing but the wait to keep the loop running.
            peer.perform(after: 200) { BlockingSocket.send(peerSocket.fd, "c") }
            #expect(try connection.read() == Array("c".utf8))
            let third = SharedValue(-1)
            peer.perform(after: 200) { third.set(Int(BlockingSocket.connect(port: port))) }
            let thirdConnection = try listener.accept()
            #expect(thirdConnection.peer != nil)
            peer.finish()
            for shared in [peerSocket, second, third] { close(shared.fd) }
            secondConnection.close()
            thirdConnection.close()
        }
    }

    @Test("Socket.writeAll waits again after writability arrived unwaited", arguments: allBackends)
    func socketWrite(backend: Backend) throws {
        try withHub(backend) { _ in
            let (listener, port) = try loopbackListener()
            let peer = RemotePeer()
            defer { peer.finish() }
            let peerSocket = SharedValue(-1)
            peer.perform { peerSocket.set(Int(BlockingSocket.connect(port: port))) }
            let connection = try listener.accept()
            connection.timeout = .seconds(10)
            // More than the kernel buffers on both sides hold, so that the write must wait.
            let chunk = [UInt8](repeating: 7, count: 8 << 20)
            peer.perform(after: 50) { BlockingSocket.drain(peerSocket.fd, count: chunk.count) }
            try connection.writeAll(chunk)
            // Drained: writable while nobody waits.
            try sleep(.milliseconds(200))
            peer.perform(after: 200) { BlockingSocket.drain(peerSocket.fd, count: chunk.count) }
            try connection.writeAll(chunk)
            peer.finish()
            close(peerSocket.fd)
        }
    }

    @Test("waitReadable waits again after readiness arrived unwaited", arguments: allBackends)
    func waitReadableAgain(backend: Backend) throws {
        try withHub(backend) { _ in
            let pipe = try Pipe()
            let writeEnd = pipe.writeEnd.rawValue
            let peer = RemotePeer()
            defer { peer.finish() }
            peer.perform(after: 50) { _ = write(writeEnd, "a", 1) }
            #expect(try waitReadable(pipe.readEnd.rawValue, timeout: .seconds(10)))
            #expect(try pipe.readAvailable() == "a")
            peer.perform { _ = write(writeEnd, "b", 1) }
            try sleep(.milliseconds(200))
            #expect(try pipe.readAvailable() == "b")
            peer.perform(after: 200) { _ = write(writeEnd, "c", 1) }
            #expect(try waitReadable(pipe.readEnd.rawValue))
            #expect(try pipe.readAvailable() == "c")
        }
    }

    @Test("waitWritable and connect wait after writability arrived unwaited", arguments: allBackends)
    func waitWritableAndConnect(backend: Backend) throws {
        try withHub(backend) { _ in
            let pipe = try Pipe()
            let readEnd = pipe.readEnd.rawValue
            // Fill the pipe: the next wait for writability must wait for the peer to drain it.
            let chunk = [UInt8](repeating: 1, count: 65536)
            var filled = fill(pipe.writeEnd.rawValue, with: chunk)
            let peer = RemotePeer()
            defer { peer.finish() }
            let drain = { @Sendable (bytes: Int) in
                var buffer = [UInt8](repeating: 0, count: 65536)
                var left = bytes
                while left > 0 {
                    let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, min($0.count, left)) }
                    if n <= 0 { usleep(1_000); continue }
                    left -= n
                }
            }
            let once = filled
            peer.perform(after: 50) { drain(once) }
            #expect(try waitWritable(pipe.writeEnd.rawValue, timeout: .seconds(10)))
            try sleep(.milliseconds(100))  // writable while nobody waits
            // Fill again; the peer drains later; nothing but the wait keeps the loop running.
            filled = fill(pipe.writeEnd.rawValue, with: chunk)
            let again = filled
            peer.perform(after: 200) { drain(again) }
            #expect(try waitWritable(pipe.writeEnd.rawValue))

            // connect: a listener that accepts only later, from the peer's thread.
            let listener = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = bind(listener, $0, length)
                    _ = getsockname(listener, $0, &length)
                }
            }
            listen(listener, 8)
            defer { close(listener) }
            let port = UInt16(bigEndian: address.sin_port)
            let socket = try Socket.connect(to: SocketAddress(ipv4: "127.0.0.1", port: port), timeout: .seconds(10))
            #expect(socket.peer != nil)
        }
    }

    @Test("a subprocess's output pipe is read again after output arrived unwaited", arguments: allBackends)
    func pipeReadAgain(backend: Backend) throws {
        try withHub(backend) { _ in
            let child = try Subprocess(
                ["/bin/sh", "-c", "echo a; sleep 0.05; echo b; sleep 0.3; echo c"], pipeInput: false, pipeError: false)
            let output = try #require(child.standardOutput)
            output.timeout = .seconds(10)
            #expect(try output.read() == Array("a\n".utf8))  // waits
            try sleep(.milliseconds(200))  // "b" arrives while nobody waits
            #expect(try output.read() == Array("b\n".utf8))
            #expect(try output.read() == Array("c\n".utf8))  // waits again
            #expect(try output.read().isEmpty)
            #expect(try child.wait(timeout: .seconds(10)) == .exited(code: 0))
        }
    }

    @Test("a StreamServer keeps serving when idle after its Pool was full", arguments: allBackends)
    func serverIdleAfterFullPool(backend: Backend) throws {
        try withHub(backend) { _ in
            let lateClientServed = Event()
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0), pool: Pool(size: 1)) {
                client in
                while true {
                    let bytes = try client.read()
                    if bytes.isEmpty { return }
                    try client.writeAll(bytes)
                    if bytes == Array("x".utf8) { lateClientServed.set() }
                }
            }
            let served = SharedValue(0)
            let peer = RemotePeer()
            defer { peer.finish() }
            // Three clients at once against a pool of one: the acceptor waits for a slot while a
            // connection arrives, then everyone leaves and the server idles; then a new client.
            let port = server.address.port!
            peer.perform { serveInTurn(port: port, messages: ["0", "1", "2"], served: served) }
            peer.perform(after: 300) { serveInTurn(port: port, messages: ["x"], served: served) }
            // Stopped by what the server itself does, so that nothing but the server keeps the
            // loop running while it idles (a sleeping greenlet here would hide a lost reference).
            let stopper = try spawn {
                try lateClientServed.wait()
                try server.stop()
            }
            try server.serveForever()
            peer.finish()
            #expect(served.value == 4)
            #expect(stopper.isReady)
        }
    }
}

/// On a ``RemotePeer``'s thread: connects one client per message, all at once, then has each
/// echoed in turn and closes it; counts the echoes that came back right.
func serveInTurn(port: UInt16, messages: [String], served: SharedValue) {
    let clients = messages.map { _ in BlockingSocket.connect(port: port) }
    for (fd, message) in zip(clients, messages) {
        BlockingSocket.send(fd, message)
        if BlockingSocket.receive(fd, count: message.utf8.count) == Array(message.utf8) {
            served.add(1)
        }
        close(fd)
    }
}

/// A listening TCP socket on a free loopback port, and the port.
private func loopbackListener() throws -> (Socket, UInt16) {
    let listener = try Socket(.ipv4)
    try listener.bind(to: SocketAddress(ipv4: "127.0.0.1", port: 0))
    try listener.listen()
    return (listener, listener.localAddress!.port!)
}

/// Writes `chunk` to the non-blocking `fd` until it would block; returns the bytes written.
private func fill(_ fd: CInt, with chunk: [UInt8]) -> Int {
    var filled = 0
    while true {
        let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return filled }
        filled += n
    }
}
