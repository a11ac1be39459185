import Greenlets
import GreenloopCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("StreamServer under stress", .serialized, .timeLimit(.minutes(1)))
struct ServerResilienceTests {
    /// In a process of its own: the descriptor limit is lowered so that `accept` runs out, while
    /// a forked child (with its limit raised again) opens 30 connections at once and has each one
    /// echoed in turn.
    @Test("EMFILE at accept: the server keeps serving what it has, accepts again once it can, and serves on after idling", arguments: allBackends)
    func descriptorExhaustion(backend: Backend) async {
        await #expect(processExitsWith: .success) { [name = backend.description as String] in
            try withHub(try Backend(parsing: name)) { _ in
                let lateClientServed = Event()
                let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                    while true {
                        let bytes = try client.read()
                        if bytes.isEmpty { return }
                        try client.writeAll(bytes)
                        if bytes == [76] { lateClientServed.set() }
                    }
                }
                try server.start()
                let port = server.address.port!
                var original = rlimit()
                getrlimit(CInt(RLIMIT_NOFILE.rawValue), &original)
                let pid = fork()
                if pid == 0 { _exit(connectAndEcho(port: port, connections: 30, raiseLimitTo: original.rlim_max)) }
                // Room for a handful of connections beyond what is open now.
                var lowered = original
                lowered.rlim_cur = rlim_t(openDescriptorCount() + 6)
                setrlimit(CInt(RLIMIT_NOFILE.rawValue), &lowered)
                var status: CInt = 0
                var waited = 0
                while waitpid(pid, &status, WNOHANG) == 0 && waited < 2_000 {
                    try sleep(.milliseconds(10))
                    waited += 1
                }
                setrlimit(CInt(RLIMIT_NOFILE.rawValue), &original)
                #expect(status == 0, "the client process reported a failure (status \(status))")
                #expect(server.descriptorExhaustionCount > 0)
                #expect(server.acceptedCount == 30)

                // Then idle, with nothing but the server to keep the loop running, then a new
                // client: the server exited here once (LoopExit) after an EMFILE episode.
                let late = fork()
                if late == 0 { _exit(connectAndEcho(port: port, connections: 1, raiseLimitTo: original.rlim_max, byte: 76, after: 300)) }
                let stopper = try spawn {
                    try lateClientServed.wait()
                    try server.stop()
                }
                try server.serveForever()
                #expect(stopper.isReady)
                #expect(server.acceptedCount == 31)
                var lateStatus: CInt = -1
                waitpid(late, &lateStatus, 0)
                #expect(lateStatus == 0, "the late client reported a failure (status \(lateStatus))")
            }
        }
    }

    @Test("SIGTERM through a handler greenlet stops a busy server; nothing acknowledged is lost", arguments: allBackends)
    func signalShutdown(backend: Backend) throws {
        let signal = Signal.realTime(9)  // this suite's own
        try withHub(backend) { _ in
            var echoedBytes = 0
            let server = try StreamServer(listeningOn: SocketAddress(ipv4: "127.0.0.1", port: 0)) { client in
                while true {
                    let bytes = try client.read()
                    if bytes.isEmpty { return }
                    try client.writeAll(bytes)
                    echoedBytes += bytes.count
                }
            }
            try server.start()
            let stopped = Event()
            let handler = try SignalHandler(signal) {
                try server.stop(timeout: .milliseconds(50))
                stopped.set()
            }
            var receivedBytes = 0
            let clients = try (0..<20).map { index in
                try spawn {
                    let socket = try Socket.connect(to: server.address)
                    socket.timeout = .seconds(5)
                    let message = [UInt8](repeating: UInt8(index), count: 100)
                    do {
                        while true {
                            try socket.writeAll(message)
                            let reply = try socket.readExactly(message.count)
                            #expect(reply == message)
                            receivedBytes += reply.count
                        }
                    } catch is SocketError {
                        // The server went away: end of stream or reset.
                    }
                }
            }
            try sleep(.milliseconds(30))
            #expect(receivedBytes > 0)
            kill(getpid(), signal.rawValue)
            #expect(try stopped.wait(timeout: .seconds(10)))
            #expect(try joinAll(clients, timeout: .seconds(10)))
            #expect(!server.isServing)
            // Every byte the server finished echoing reached its client.
            #expect(receivedBytes >= echoedBytes - 100 * 20)
            #expect(receivedBytes > 0 && echoedBytes > 0)
            try handler.cancel()
        }
    }
}

private func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return 64 }
    defer { closedir(directory) }
    var count = 0
    while readdir(directory) != nil { count += 1 }
    return count - 2  // . and ..
}

/// The forked client: plain blocking sockets, no hub. Returns the exit status.
private func connectAndEcho(
    port: UInt16, connections: Int, raiseLimitTo hardLimit: rlim_t, byte: UInt8 = 42, after milliseconds: UInt32 = 0
) -> CInt {
    var limit = rlimit(rlim_cur: hardLimit, rlim_max: hardLimit)
    setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
    if milliseconds > 0 { usleep(milliseconds * 1_000) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var descriptors: [CInt] = []
    for _ in 0..<connections {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return 2 }
        descriptors.append(fd)
    }
    for fd in descriptors {
        var sent = byte
        guard write(fd, &sent, 1) == 1 else { return 3 }
        var reply: UInt8 = 0
        guard read(fd, &reply, 1) == 1, reply == byte else { return 4 }
        close(fd)
    }
    return 0
}
