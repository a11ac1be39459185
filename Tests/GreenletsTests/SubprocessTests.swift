import Greenlets
import GreenloopCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("subprocesses", .timeLimit(.minutes(1)))
struct SubprocessTests {
    @Test("output, error, input and exit codes come back; the loop runs meanwhile", arguments: allBackends)
    func run(backend: Backend) throws {
        try withHub(backend) { _ in
            var ticks = 0
            let ticker = try spawn {
                for _ in 0..<5 {
                    try sleep(.milliseconds(5))
                    ticks += 1
                }
            }
            let sorted = try Subprocess.run(["sort"], input: Array("pear\napple\nfig\n".utf8), timeout: .seconds(10))
            #expect(sorted.status == .exited(code: 0))
            #expect(String(decoding: sorted.output, as: UTF8.self) == "apple\nfig\npear\n")
            let failing = try Subprocess.run(["sh", "-c", "echo oops >&2; sleep 0.05; exit 3"], timeout: .seconds(10))
            #expect(failing.status == .exited(code: 3))
            #expect(String(decoding: failing.error, as: UTF8.self) == "oops\n")
            try ticker.join()
            #expect(ticks == 5)
        }
    }

    @Test("a large output does not stall the child (pipes are drained while it runs)", arguments: allBackends)
    func largeOutput(backend: Backend) throws {
        try withHub(backend) { _ in
            let big = try Subprocess.run(["head", "-c", "1000000", "/dev/zero"], timeout: .seconds(10))
            #expect(big.status == .exited(code: 0))
            #expect(big.output.count == 1_000_000)
        }
    }

    @Test("a timeout kills the child and reaps it", arguments: allBackends)
    func timeoutKills(backend: Backend) throws {
        try withHub(backend) { hub in
            let process = try Subprocess(["sleep", "30"])
            #expect(throws: SubprocessError.timedOut("wait(\(process.processID))", after: .milliseconds(50))) {
                try process.wait(timeout: .milliseconds(50))
            }
            #expect(process.status == .signaled(.kill, coreDumped: false))
            // Reaped: the pid is no longer our child.
            var status: CInt = 0
            #expect(waitpid(process.processID.rawValue, &status, WNOHANG) == -1)
            #expect(hub.loop.activeWatcherCount == 0)
        }
    }

    @Test("a program that does not exist is a clear error", arguments: allBackends)
    func missingProgram(backend: Backend) throws {
        try withHub(backend) { _ in
            #expect(throws: SubprocessError.spawnFailed("no-such-program-greenloop", .noSuchFileOrDirectory)) {
                try Subprocess(["no-such-program-greenloop"])
            }
        }
    }

    @Test("twenty children at once, each waited for by its own greenlet", arguments: allBackends)
    func manyChildren(backend: Backend) throws {
        try withHub(backend) { _ in
            let runs = try (0..<20).map { index in
                try spawn { try Subprocess.run(["sh", "-c", "exit \(index)"], timeout: .seconds(20)).status }
            }
            for (index, run) in runs.enumerated() {
                #expect(try run.value() == .exited(code: CInt(index)))
            }
        }
    }
}

@Suite("fork", .timeLimit(.minutes(1)))
struct HubForkTests {
    /// In a process of its own, so that the fork copies no other test's threads.
    @Test("the child runs its own loop; the parent's greenlets run only in the parent", arguments: allBackends)
    func forkedHub(backend: Backend) async {
        await #expect(processExitsWith: .success) { [name = backend.description as String] in
            try withHub(try Backend(parsing: name)) { _ in
                var parentWork = 0
                let worker = try spawn {
                    for _ in 0..<5 {
                        try sleep(.milliseconds(5))
                        parentWork += 1
                    }
                }
                try sleep(.milliseconds(1))
                guard let child = try Hub.fork() else {
                    // Hub.fork() lets the loop run once before it forks, so the worker may have
                    // advanced until then: what matters is that it never advances here.
                    let before = parentWork
                    // The child: greenlets, timers, sockets and subprocesses work on the new hub;
                    // the parent's worker never runs here.
                    let hub = try Hub.current()
                    let ok = hub.loop.backend.description == name.split(separator: ":").first.map(String.init)
                    let echo = try spawn { () -> Int in
                        try sleep(.milliseconds(20))
                        return 42
                    }
                    let result = try echo.value()
                    let subprocess = try Subprocess.run(["sh", "-c", "exit 5"], timeout: .seconds(10))
                    let parentRanHere = parentWork != before
                    _exit(ok && result == 42 && subprocess.status == .exited(code: 5) && !parentRanHere ? 0 : 1)
                }
                try worker.join()
                #expect(parentWork == 5)
                var status: CInt = 0
                while waitpid(child.rawValue, &status, WNOHANG) == 0 { try sleep(.milliseconds(5)) }
                #expect(status == 0, "the child reported a failure (status \(status))")
            }
        }
    }
}

@Suite("an outer timeout passes through a subprocess wait", .timeLimit(.minutes(1)))
struct SubprocessOuterTimeoutTests {
    @Test("withTimeout around wait(timeout:) comes out as that Timeout, and the child is not killed", arguments: allBackends)
    func outerTimeoutPassesThrough(backend: Backend) throws {
        try withHub(backend) { _ in
            let child = try Subprocess(["/bin/sleep", "2"], pipeInput: false, pipeOutput: false, pipeError: false)
            var caught: (any Error)?
            do {
                try withTimeout(.milliseconds(50)) { _ = try child.wait(timeout: .seconds(10)) }
            } catch {
                caught = error
            }
            let timeout = try #require(caught as? Timeout, "got \(String(describing: caught))")
            #expect(timeout.duration == .milliseconds(50))
            #expect(child.status == nil, "the outer timeout killed the child")
            // Its own timeout still kills and reports.
            #expect(throws: SubprocessError.self) { try child.wait(timeout: .milliseconds(20)) }
            #expect(child.status != nil)
        }
    }
}
