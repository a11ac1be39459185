import Greenloop
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("fork", .timeLimit(.minutes(1)))
struct ForkTests {
    /// Runs in its own process (an exit test), so that `fork()` copies a process with no other
    /// test's threads in it.
    @Test("the child reinitialises its loop and runs timers, io and async there; the parent is unaffected", arguments: allBackends)
    func forkedChild(backend: Backend) async {
        await #expect(processExitsWith: .success) { [name = backend.description as String] in
            let loop = try makeLoop(Backend(parsing: name))
            // Active before the fork, in both processes afterwards.
            var ticks = 0
            let ticker = try loop.makeTimer(after: .milliseconds(1), repeat: .milliseconds(1)) { ticks += 1 }
            try ticker.start()
            var woken = 0
            let async = try loop.makeAsyncWatcher { woken += 1 }
            try async.start()
            #expect(try loop.run(until: { ticks >= 2 }))

            let pid = fork()
            if pid == 0 {
                let ok = (try? childSide(loop, ticks: { ticks }, woken: { woken }, async: async)) ?? false
                _exit(ok ? 0 : 1)
            }
            #expect(pid > 0)
            // The parent goes on as before, with its own wake-up descriptor.
            let before = ticks
            #expect(try loop.run(until: { ticks >= before + 5 }))
            async.sender.send()
            #expect(try loop.run(until: { woken == 1 }))
            var status: CInt = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect(status == 0, "the child reported a failure (status \(status))")
            try ticker.stop()
            try async.stop()
            try loop.close()
        }
    }
}

/// The child's half: new io and timers, the inherited timer, and an async send all work after
/// `reinitializeAfterFork()`.
private func childSide(_ loop: EventLoop, ticks: () -> Int, woken: () -> Int, async: AsyncWatcher) throws -> Bool {
    try loop.reinitializeAfterFork()
    let pipe = try Pipe()
    var received = ""
    let reader = try loop.makeIOWatcher(pipe.readEnd, .read) { _ in received += try pipe.readAvailable() }
    try reader.start()
    let writer = try loop.makeTimer(after: .milliseconds(5)) { try pipe.write("from the child") }
    try writer.start()
    let inherited = ticks()
    guard try loop.run(until: { received == "from the child" && ticks() >= inherited + 3 }) else { return false }
    async.sender.send()
    guard try loop.run(until: { woken() == 1 }) else { return false }
    return true
}
