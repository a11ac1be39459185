import Greenloop
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Signals and children are per process: these tests run one at a time, each with its own signal.
@Suite("signals and child processes", .serialized, .timeLimit(.minutes(1)))
struct SignalAndChildTests {
    @Test("a signal the process sends itself is delivered through the loop", arguments: allBackends)
    func selfSignal(backend: Backend) throws {
        try withLoop(backend) { loop in
            var received = 0
            let watcher = try loop.makeSignalWatcher(.user1) { received += 1 }
            let second = try loop.makeSignalWatcher(.user1) { received += 10 }
            try watcher.start()
            try second.start()
            #expect(kill(getpid(), SIGUSR1) == 0)
            #expect(try loop.run(until: { received == 11 }))
        }
    }

    @Test("a signal sent by a child process is delivered through the loop", arguments: allBackends)
    func signalFromChild(backend: Backend) throws {
        try withLoop(backend) { loop in
            var received = false
            let watcher = try loop.makeSignalWatcher(.user2) { received = true }
            try watcher.start()
            let child = try spawnShell("kill -USR2 \(getpid())")
            var exit: TerminationStatus?
            let childWatcher = try loop.makeChildWatcher(ProcessID(rawValue: child)) { exit = $0 }
            try childWatcher.start()
            #expect(try loop.run(until: { received && exit != nil }))
            #expect(exit == .exited(code: 0))
        }
    }

    @Test("stopping the last watcher gives the signal back to its previous disposition", arguments: allBackends)
    func dispositionRestored(backend: Backend) throws {
        try withLoop(backend) { loop in
            let previous = signal(SIGHUP, SIG_IGN)
            defer { signal(SIGHUP, previous) }
            var received = 0
            let watcher = try loop.makeSignalWatcher(.hangup) { received += 1 }
            try watcher.start()
            #expect(kill(getpid(), SIGHUP) == 0)
            #expect(try loop.run(until: { received == 1 }))
            try watcher.stop()
            // SIG_IGN is back: a SIGHUP now changes nothing.
            var current = sigaction()
            sigaction(SIGHUP, nil, &current)
            #expect(unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self))
            #expect(kill(getpid(), SIGHUP) == 0)
            try loop.run(.nonBlocking)
            #expect(received == 1)
        }
    }

    @Test("a signal has one owning loop at a time", arguments: allBackends)
    func oneOwner(backend: Backend) throws {
        try withLoop(backend) { loop in
            try withLoop(backend == .libev ? .libevent : .libev) { other in
                let mine = try loop.makeSignalWatcher(.windowChanged) {}
                let theirs = try other.makeSignalWatcher(.windowChanged) {}
                try mine.start()
                #expect(throws: LoopError.signalOwnedByAnotherLoop(.windowChanged)) { try theirs.start() }
                #expect(!theirs.isActive)
                try mine.stop()
                try theirs.start()
                #expect(throws: LoopError.signalOwnedByAnotherLoop(.windowChanged)) { try mine.start() }
                try theirs.stop()
            }
        }
    }

    @Test("a child's exit code and killing signal are reported, and only that child is reaped", arguments: allBackends)
    func childStatus(backend: Backend) throws {
        try withLoop(backend) { loop in
            let exits = try spawnShell("exit 7")
            let killed = try spawnShell("kill -TERM $$")
            let unwatched = try spawnShell("exit 3")
            var statuses: [pid_t: TerminationStatus] = [:]
            let watchers = try [exits, killed].map { pid in
                try loop.makeChildWatcher(ProcessID(rawValue: pid)) { statuses[pid] = $0 }
            }
            for watcher in watchers { try watcher.start() }
            try loop.run()
            #expect(statuses[exits] == .exited(code: 7))
            #expect(statuses[killed] == .signaled(.terminate, coreDumped: false))
            #expect(watchers.allSatisfy { !$0.isActive })
            #expect(watchers[0].exitStatus == .exited(code: 7))
            // The unwatched child was left for its owner to reap.
            var status: CInt = 0
            #expect(waitpid(unwatched, &status, 0) == unwatched)
            #expect(status >> 8 & 0xff == 3)
        }
    }
}
